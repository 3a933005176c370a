"""Import the user's script as a module, under a stable name, without running its __main__ block."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import sys
import warnings
from types import CodeType, ModuleType

#: path -> (source bytes, code) compiled ahead by :func:`precompile`
_compiled: dict[str, tuple[bytes, CodeType]] = {}


class ScriptLoader(importlib.machinery.SourceFileLoader):
    """Python's loader for a source file, but for source bytes that :func:`precompile` compiled
    already it takes that code instead of compiling them again."""

    def source_to_code(self, data: bytes, path: str, *, _optimize: int = -1) -> CodeType:  # type: ignore[override]
        known = _compiled.get(path)
        if known is not None and known[0] == data:
            return known[1]
        return super().source_to_code(data, path, _optimize=_optimize)  # type: ignore[call-arg]


def precompile(path: str) -> None:
    """Compile the script at ``path`` now (a warm-start server, once for the steps it forks): a
    step still reads the file, and takes this code only for the same bytes, where no cached
    bytecode is (``PYTHONDONTWRITEBYTECODE``, a read-only folder). A file that cannot be read or
    compiled, or whose compiling warns (``SyntaxWarning``), is left to the step, which reports it
    as a new process would."""
    path = os.path.abspath(path)
    loader = importlib.machinery.SourceFileLoader(module_name_for(path), path)  # as a step's import
    try:
        data = loader.get_data(path)
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            code = loader.source_to_code(data, path)
    except Exception:  # OSError, SyntaxError, RecursionError, MemoryError: the step reports it
        return
    if not warned:
        _compiled[path] = (data, code)


def module_name_for(path: str) -> str:
    """A stable module name for the script at ``path``: its stem, unless that would shadow another.

    Values of classes defined in the script pickle by reference to this name, so every step
    process must import the script under the same one.
    """
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0]) or "script"
    if stem[0].isdigit():
        stem = f"_{stem}"
    taken = stem in sys.stdlib_module_names or stem in ("kale_argo", "dill", "numpy", "pandas")
    return f"kale_script_{stem}" if taken else stem


def _after_stdlib() -> int:
    """The sys.path index just after the standard library's entries (0 if none is found)."""
    stdlib = os.path.dirname(os.__file__)
    last = -1
    for i, entry in enumerate(sys.path):
        full = os.path.abspath(entry or ".")
        if full in (stdlib, os.path.join(stdlib, "lib-dynload")) or (
                full.endswith(".zip") and os.path.basename(full).startswith("python")):
            last = i
    return last + 1


def import_script(path: str) -> ModuleType:
    """Import the script at ``path`` with its directory on sys.path, as ``python script.py`` has
    it, but after the standard library: a ``json.py`` beside the script cannot shadow ``json``
    (kale_argo is imported already), while the script's helper modules import as before.

    Raises FileNotFoundError if it does not exist; the script's own exceptions propagate.
    """
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    name = module_name_for(path)
    existing = sys.modules.get(name)
    if existing is not None and os.path.abspath(getattr(existing, "__file__", "") or "") == path:
        return existing
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(_after_stdlib(), directory)
    spec = importlib.util.spec_from_file_location(name, path, loader=ScriptLoader(name, path))
    if spec is None or spec.loader is None:  # pragma: no cover - .py files always have a loader
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    module.__kale_script__ = True  # type: ignore[attr-defined]  # values of its types: no plug-ins
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
