"""The code of a pipeline defined in an interactive kernel (Jupyter, IPython), as a real module.

A step process imports the pipeline's module, so a pipeline typed into notebook cells needs one:
it is built from the kernel's own record of what it executed (its input history, ``In``), not the
notebook file (which may be unsaved or run out of order). Only the top-level statements that bind
what the pipeline uses are kept, transitively: the pipeline, its steps, the helpers, classes,
constants and imports they refer to, each from the cell that last (re)defined it. Calls such as
``ml_pipeline.run()``, exploratory code and IPython magics are left out. The module is written as
``.kale_<notebook>_<pipeline>.py`` in the kernel's working directory (where its helper modules are imported
from), and :class:`Shipped` says which cells and names it holds.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from ..errors import ScriptError
from .cells import select, statements, write_if_changed

# Names IPython puts into the user namespace: never reported as missing from the history.
_KERNEL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "display"})
_UNRECOVERABLE = {"<string>": "python -c", "<stdin>": "standard input"}


def shell() -> Any | None:
    """The running IPython shell, or None (IPython is never imported here)."""
    module = sys.modules.get("IPython")
    if module is None:
        return None
    try:
        return module.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython install
        return None


def defined_in_kernel(func: Any) -> bool:
    """Whether ``func`` was defined in the interactive namespace of a running IPython kernel."""
    ip = shell()
    return ip is not None and getattr(func, "__globals__", None) is ip.user_ns


def cell_names(text: str) -> str:
    """``text`` with the kernel's cell file names (``/tmp/ipykernel_1/123.py``) shown as ``In[n]``."""
    ip = shell()
    names = getattr(getattr(ip, "compile", None), "_filename_map", None)
    if not isinstance(names, dict):
        return text
    for filename, number in names.items():
        if isinstance(filename, str) and filename in text:
            text = text.replace(filename, f"In[{number}]")
    return text


def unrecoverable(pipe: Any) -> ScriptError | None:
    """The error for a pipeline whose source cannot be read back (``python -c``, ``python -``)."""
    filename = pipe.func.__code__.co_filename
    if os.path.isfile(filename) or defined_in_kernel(pipe.func):
        return None
    how = _UNRECOVERABLE.get(filename, filename)
    return ScriptError(f"pipeline {pipe.name!r} was defined in {how}, whose source cannot be read back "
                       "to ship to the steps",
                       hint="save it in a .py file (or a notebook) and run `python FILE` or "
                            "`kale-argo run FILE`")


@dataclass
class Shipped:
    """What the generated module holds: ``cells`` maps ``In[n]`` labels to the names taken from it."""

    path: str
    source: str
    cells: dict[str, list[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One line (plus notes) naming the cells and names shipped."""
        parts = "; ".join(f"{label} ({', '.join(names)})" for label, names in self.cells.items())
        lines = [f"kale-argo: shipping the kernel's code to {os.path.basename(self.path)}: {parts}"]
        lines += [f"kale-argo: note: {note}" for note in self.skipped]
        if self.missing:
            lines.append("kale-argo: note: not found in the kernel's history (so not shipped): "
                         + ", ".join(self.missing))
        return "\n".join(lines)


_ANNOUNCED: dict[str, str] = {}


def announce(shipped: Shipped, out: Any) -> None:
    """Say what was shipped on ``out``, once per change of the module (a kernel runs a pipeline often)."""
    if _ANNOUNCED.get(shipped.path) == shipped.source:
        return
    _ANNOUNCED[shipped.path] = shipped.source
    out.write(shipped.describe() + "\n")
    out.flush()


def _history(ip: Any) -> list[str]:
    cells = ip.user_ns.get("In")
    if not isinstance(cells, list):
        cells = list(getattr(ip.history_manager, "input_hist_parsed", []))
    return [c if isinstance(c, str) else "" for c in cells]


def module_file(ip: Any, pipe: Any) -> str:
    """``.kale_<notebook>_<function>.py`` (the notebook's name when Jupyter says it, so notebooks
    sharing a folder and a pipeline name do not overwrite each other's code), else ``.kale_<function>.py``."""
    session = ip.user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME") or ""
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(str(session)))[0])
    return f".kale_{stem}_{pipe.func.__name__}.py" if stem else f".kale_{pipe.func.__name__}.py"


def build_module(pipe: Any, directory: str | None = None, *, write: bool = True) -> Shipped:
    """Select the statements ``pipe`` needs from the kernel's history and write them as a module
    (:func:`module_file` in ``directory``, default the working directory)."""
    ip = shell()
    if ip is None:  # pragma: no cover - callers check defined_in_kernel first
        raise ScriptError(f"pipeline {pipe.name!r} is not defined in a running IPython kernel")
    items = [s for n, src in enumerate(_history(ip)) for s in statements(f"In[{n}]", n, src)]
    seeds = {n for n, v in ip.user_ns.items() if v is pipe and not n.startswith("_")} or {pipe.func.__name__}
    selection = select(items, seeds, lambda name: name in ip.user_ns and name not in _KERNEL_NAMES
                       and not name.startswith("_"))
    source = selection.render(f"The code of pipeline {pipe.name!r} from the kernel's cells")
    path = os.path.join(os.path.abspath(directory or os.getcwd()), module_file(ip, pipe))
    if write:
        write_if_changed(path, source, "the pipeline's code", "start the kernel in a folder you can write to")
    return Shipped(path, source, selection.cells, selection.skipped, selection.missing)
