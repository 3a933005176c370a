"""Import the user's script as a module, under a stable name, without running its __main__ block."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from types import ModuleType


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


def import_script(path: str) -> ModuleType:
    """Import the script at ``path`` (its directory first on sys.path, like ``python script.py``).

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
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(name, path)
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
