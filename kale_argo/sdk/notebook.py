"""A notebook (``.ipynb``) as a script: its code cells, in order, with IPython syntax set aside.

``kale-argo run|compile|submit|graph NOTEBOOK.ipynb`` imports the notebook's code as a module, as
it imports a ``.py`` script. A cell magic (``%%bash``, ``%%writefile``...) skips its cell, except
``%%time`` and ``%%capture``, whose body is plain Python and runs; a line magic (``%pip``,
``%matplotlib``), a shell escape (``!ls``), an assignment from one (``files = !ls``) and a help
query (``obj?``) become ``pass``. Each is reported as a note. When the cells define ``@pipeline``
functions, only the statements that define what they use are kept (see :mod:`.cells`). The module
is written beside the notebook as ``.kale_<stem>_ipynb.py`` (so the modules beside the notebook
import, and ship, as from a script).
"""

from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import dataclass, field

from ..errors import ScriptError
from .cells import pipeline_names, select, statements, write_if_changed

_RUN_BODY = frozenset({"time", "capture"})
_MAGIC_LINE = re.compile(r"^(\s*)(?:[%!]|[\w.\[\],\s]+=\s*[%!])")
_HELP_LINE = re.compile(r"^(\s*)[\w.\[\]()]+\?\??\s*$")
_DISPLAY_STUB = ("def display(*objs, **kwargs):  # IPython's display, outside a kernel\n"
                 "    print(*objs)\n")


@dataclass
class NotebookScript:
    """The script made of a notebook's code cells, and what was set aside."""

    path: str
    source: str
    notes: list[str] = field(default_factory=list)


def code_cells(path: str) -> list[str]:
    """The sources of the notebook's code cells, in order; a ScriptError if it is not a notebook."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise ScriptError(f"notebook {path!r} does not exist",
                          hint="give the path to a .ipynb file that defines a @pipeline") from None
    except (OSError, ValueError) as exc:
        raise ScriptError(f"cannot read notebook {path!r}: {exc}",
                          hint="save it from Jupyter again (it must be nbformat 4 JSON)") from None
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        raise ScriptError(f"{path!r} is not a Jupyter notebook (no cells)",
                          hint="nbformat 4 notebooks are supported")
    sources = []
    for cell in cells:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            src = cell.get("source", "")
            sources.append("".join(src) if isinstance(src, list) else str(src))
    return sources


def cell_to_python(source: str, label: str, notes: list[str]) -> str:
    """``source`` with IPython-only syntax replaced by ``pass`` (one note per line set aside)."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(maxsplit=1)
        name = magic[0] if magic else ""
        if name in _RUN_BODY:
            notes.append(f"{label}: kept the body of %%{name} (plain Python)")
            lines = ["pass  # " + lines[0].strip(), *lines[1:]]
        else:
            notes.append(f"{label}: skipped the cell (cell magic %%{name})")
            return ""
    out = []
    for n, line in enumerate(lines, 1):
        match = _MAGIC_LINE.match(line) or _HELP_LINE.match(line)
        if match and not _is_python(line):
            notes.append(f"{label} line {n}: skipped {line.strip()!r} (IPython magic or shell escape)")
            out.append(f"{match.group(1)}pass  # kale-argo skipped: {line.strip()}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def _is_python(line: str) -> bool:
    """Lines such as ``x = a % b`` match the magic pattern's prefix only when ``%`` starts the
    right-hand side; still, a line that parses on its own is kept as Python."""
    stripped = line.strip()
    if stripped.startswith(("%", "!")) or stripped.endswith("?"):
        return False
    try:
        ast.parse(stripped)
    except SyntaxError:
        return False
    return True


def notebook_script(path: str) -> NotebookScript:
    """The notebook at ``path`` as Python source; a ScriptError naming the cell that does not parse.

    When the cells define ``@pipeline`` functions, the script holds the statements that define what
    they use (:func:`.cells.select`), so cells that run the pipeline, use its results or explore
    the data do not run again in every step; otherwise it is every code cell.
    """
    notes: list[str] = []
    converted = []
    for i, source in enumerate(code_cells(path), 1):
        label = f"cell {i}"
        code = cell_to_python(source, label, notes)
        try:
            ast.parse(code)
        except SyntaxError as exc:
            raise ScriptError(f"{label} of the notebook does not parse: {exc.msg}",
                              where=f"{path} {label} line {exc.lineno}",
                              hint="fix it in Jupyter and save the notebook") from None
        converted.append((label, code))
    name = os.path.basename(path)
    items = [s for i, (label, code) in enumerate(converted) for s in statements(label, i, code)]
    seeds = pipeline_names(items)
    if seeds:
        selection = select(items, seeds)
        source = selection.render(f"The code of {name} that its pipelines use")
        used = set(selection.cells)
        real = {s.cell for s in items if not s.source.startswith("pass")}
        left = [label for label, _ in converted if label in real and label not in used]
        notes.append(f"the pipeline's code is {selection.describe()}")
        if left:
            notes.append(f"not run (the pipeline does not use them): {', '.join(left)}")
        notes += selection.skipped
    else:
        body = "\n".join(f"# {label}\n{code}" for label, code in converted)
        source = f"# The code cells of {name}, generated by kale-argo\n"
        if re.search(r"\bdisplay\(", body) and not re.search(r"^(def display|display\s*=)", body, re.M):
            source += _DISPLAY_STUB
        source += "\n" + body
    target = os.path.join(os.path.dirname(os.path.abspath(path)),
                          ".kale_" + re.sub(r"\W", "_", os.path.splitext(name)[0]) + "_ipynb.py")
    return NotebookScript(target, source, notes)


def write_notebook_script(path: str) -> NotebookScript:
    """Convert the notebook at ``path`` and write its script."""
    script = notebook_script(path)
    write_if_changed(script.path, script.source, "the notebook's script",
                     "the notebook's folder must be writable")
    return script
