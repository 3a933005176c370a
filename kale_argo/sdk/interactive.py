"""The code of a pipeline defined in an interactive kernel (Jupyter, IPython), as a real module.

A step process imports the pipeline's module, so a pipeline typed into notebook cells needs one:
it is built from the kernel's own record of what it executed (its input history, ``In``), not the
notebook file (which may be unsaved or run out of order). Only the top-level statements that bind
what the pipeline uses are kept, transitively: the pipeline, its steps, the helpers, classes,
constants and imports they refer to, each from the cell that last (re)defined it. Calls such as
``ml_pipeline.run()``, exploratory code and IPython magics are left out. The module is written as
``.kale_<pipeline>.py`` in the kernel's working directory (where its helper modules are imported
from), and :class:`Shipped` says which cells and names it holds.
"""

from __future__ import annotations

import ast
import builtins
import os
import symtable
import sys
from dataclasses import dataclass, field
from typing import Any

from ..errors import ScriptError
from .notebook import write_if_changed

# Names IPython puts into the user namespace: never looked up in the history.
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
class _Statement:
    cell: int
    index: int
    source: str
    binds: set[str]
    now: set[str]    # names read when the statement runs
    later: set[str]  # names read when a function it defines is called
    magic: bool

    @property
    def position(self) -> tuple[int, int]:
        return (self.cell, self.index)


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


def _names(table: symtable.SymbolTable, now: set[str], later: set[str], top: bool) -> None:
    for child in table.get_children():
        if child.get_type() == "class":
            for sym in child.get_symbols():
                if sym.is_referenced() and not sym.is_assigned() and not sym.is_imported():
                    (now if top else later).add(sym.get_name())
            _names(child, now, later, top)
        else:  # function, lambda, comprehension: their free globals are read when called
            for sym in child.get_symbols():
                if sym.is_global() and sym.is_referenced():
                    later.add(sym.get_name())
            _names(child, now, later, False)


def _statements(cell: int, source: str) -> list[_Statement]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    lines = source.splitlines(keepends=True)
    result = []
    for i, node in enumerate(tree.body):
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        text = "".join(lines[first - 1:node.end_lineno])
        try:
            table = symtable.symtable(text, f"In[{cell}]", "exec")
        except SyntaxError:
            continue
        binds = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            binds.add(node.name)
        now = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
        later: set[str] = set()
        _names(table, now, later, True)
        star = isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)
        if star:
            binds.add("*")
        result.append(_Statement(cell, i, text if text.endswith("\n") else text + "\n", binds, now,
                                 later, "get_ipython" in now | later))
    return result


def _history(ip: Any) -> list[str]:
    cells = ip.user_ns.get("In")
    if not isinstance(cells, list):
        cells = list(getattr(ip.history_manager, "input_hist_parsed", []))
    return [c if isinstance(c, str) else "" for c in cells]


def build_module(pipe: Any, directory: str | None = None, *, write: bool = True) -> Shipped:
    """Select the statements ``pipe`` needs from the kernel's history and write them as a module."""
    ip = shell()
    if ip is None:  # pragma: no cover - callers check defined_in_kernel first
        raise ScriptError(f"pipeline {pipe.name!r} is not defined in a running IPython kernel")
    statements = [s for n, src in enumerate(_history(ip)) for s in _statements(n, src)]
    binders: dict[str, list[_Statement]] = {}
    for s in statements:
        for name in s.binds:
            binders.setdefault(name, []).append(s)
    seeds = {n for n, v in ip.user_ns.items() if v is pipe and not n.startswith("_")} or {pipe.func.__name__}
    chosen: dict[tuple[int, int], _Statement] = {s.position: s for s in binders.get("*", [])}
    shipped_names: dict[tuple[int, int], set[str]] = {}
    missing: set[str] = set()
    skipped: list[str] = []
    pending: list[tuple[str, tuple[int, int] | None]] = [(n, None) for n in sorted(seeds)]
    seen: set[tuple[str, tuple[int, int] | None]] = set()
    while pending:
        name, before = pending.pop()
        if (name, before) in seen:
            continue
        seen.add((name, before))
        candidates = binders.get(name, [])
        earlier = [s for s in candidates if before is None or s.position < before]
        found = (earlier or candidates)[-1:] if candidates else []
        if not found:
            if name not in _KERNEL_NAMES and not hasattr(builtins, name) and not name.startswith("_") \
                    and name in ip.user_ns:
                missing.add(name)
            continue
        s = found[0]
        if s.magic:
            skipped.append(f"In[{s.cell}] defines {name!r} with an IPython magic or shell escape, which "
                           "a step cannot run")
            continue
        shipped_names.setdefault(s.position, set()).add(name)
        if s.position in chosen:
            continue
        chosen[s.position] = s
        pending += [(n, s.position) for n in sorted(s.now)]
        pending += [(n, None) for n in sorted(s.later)]
    ordered = sorted(chosen.values(), key=lambda s: (not s.source.startswith("from __future__"),
                                                     s.position))
    cells: dict[str, list[str]] = {}
    for s in sorted(ordered, key=lambda s: s.position):
        names = sorted(shipped_names.get(s.position, set()) or (s.binds - {"*"}) or {"*"})
        cells.setdefault(f"In[{s.cell}]", [])
        cells[f"In[{s.cell}]"] += [n for n in names if n not in cells[f"In[{s.cell}]"]]
    header = (f"# The code of pipeline {pipe.name!r}, generated by kale-argo from the kernel's cells\n"
              f"# {', '.join(cells)}: the statements that define what the pipeline uses.\n")
    body, last = "", None
    for s in ordered:
        body += (f"\n# In[{s.cell}]\n" if s.cell != last else "\n") + s.source
        last = s.cell
    source = header + body
    name = f".kale_{pipe.func.__name__}.py"
    path = os.path.join(os.path.abspath(directory or os.getcwd()), name)
    if write:
        write_if_changed(path, source, "the pipeline's code", "start the kernel in a folder you can write to")
    return Shipped(path, source, cells, skipped, sorted(missing))
