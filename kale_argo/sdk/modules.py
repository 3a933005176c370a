"""The modules next to a script that it imports, so that backends can ship them with it.

A Kale script often keeps helpers (and even steps) in a module beside it: ``from helpers import
clean``. A step pod that receives only the script cannot import them, so tracing records them:
starting from the script's module, every module it references (``import helpers``, ``from helpers
import clean``, a step defined there), and transitively theirs, whose file lies under the
script's directory, outside the standard library and site-packages, and is not kale_argo.
"""

from __future__ import annotations

import hashlib
import os
import sys
import sysconfig
from types import ModuleType
from typing import Any

_INSTALLED = ("site-packages", "dist-packages")


def local_modules(module_name: str, script: str) -> dict[str, str]:
    """``relative/path.py`` (POSIX, from the script's directory) -> sha256, for ``module_name``."""
    script = os.path.realpath(script)
    root = os.path.dirname(script)
    paths = sysconfig.get_paths()
    prefixes = {os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib", "purelib", "platlib")
                if key in paths}
    found: dict[str, str] = {}
    seen: set[int] = set()
    stack = [sys.modules.get(module_name)]
    while stack:
        module = stack.pop()
        if module is None or id(module) in seen:
            continue
        seen.add(id(module))
        for target in _referenced(module):
            rel = _local_file(target, root, script, prefixes)
            if rel is None:
                continue
            stack.append(target)
            if rel not in found:
                with open(os.path.join(root, rel), "rb") as fh:
                    found[rel] = hashlib.sha256(fh.read()).hexdigest()
            parent = target.__name__.rpartition(".")[0]
            if parent:
                stack.append(sys.modules.get(parent))
    return dict(sorted(found.items()))


def _referenced(module: ModuleType) -> list[ModuleType]:
    modules: list[ModuleType] = []
    for value in list(vars(module).values()):
        if isinstance(value, ModuleType):
            modules.append(value)
            continue
        try:
            func = getattr(value, "func", None)  # a kale_argo Step: the function it wraps
            name = getattr(func if callable(func) else value, "__module__", None)
        except Exception:  # arbitrary user objects may refuse attribute access
            continue
        target = sys.modules.get(name) if isinstance(name, str) else None
        if target is not None:
            modules.append(target)
    return modules


def _local_file(module: ModuleType, root: str, script: str, prefixes: set[str]) -> str | None:
    name = getattr(module, "__name__", "")
    file: Any = getattr(module, "__file__", None)
    if not isinstance(file, str) or not file.endswith(".py") or name.split(".")[0] == "kale_argo":
        return None
    real = os.path.realpath(file)
    if real == script or any(part in _INSTALLED for part in real.split(os.sep)):
        return None
    if any(_under(real, prefix) for prefix in prefixes) or not _under(real, root):
        return None
    return os.path.relpath(real, root).replace(os.sep, "/")


def _under(path: str, directory: str) -> bool:
    try:
        return os.path.commonpath([path, directory]) == directory
    except ValueError:  # different drives
        return False
