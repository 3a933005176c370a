"""The modules next to a script that it imports, so that backends can ship them with it.

A Kale script often keeps helpers (and even steps) in a module beside it: ``from helpers import
clean``. A step pod that receives only the script cannot import them, so tracing records them.
The script's import statements (anywhere in it, so imports inside step functions count too) are
resolved the way the pod will resolve them, against the script's directory: ``name.py`` or
``name/__init__.py`` there (and each parent package of a dotted name), then the same for the
imports of every module found, relative imports included. Imports that resolve elsewhere
(the standard library, installed packages) are not the script's to ship, nor is kale_argo.
"""

from __future__ import annotations

import hashlib
import os

# kale_argo travels in the bundle's lib/ (or is in the image), even for a script written in a
# clone of kale-argo, next to the package's source.
_NOT_SHIPPED = frozenset({"kale_argo"})


def local_modules(script: str, text: bytes | None = None) -> dict[str, str]:
    """``relative/path.py`` (POSIX, from the script's directory) -> sha256 of what it imports.
    ``text``: the script's source, where the file is not written yet."""
    script = os.path.realpath(script)
    root = os.path.dirname(script)
    found: dict[str, str] = {}
    pending = [script]
    while pending:
        path = pending.pop()
        source = read_source(path, text if path == script else None)
        if source is None:
            continue
        if path != script:
            found[os.path.relpath(path, root).replace(os.sep, "/")] = hashlib.sha256(source).hexdigest()
        package = _package_of(path, root) if path != script else []
        for name in _imports(source, package):
            if name.split(".")[0] in _NOT_SHIPPED:
                continue
            for file in _files(root, name):
                rel = os.path.relpath(file, root).replace(os.sep, "/")
                if os.path.realpath(file) != script and rel not in found and file not in pending:
                    pending.append(file)
    return dict(sorted(found.items()))


def read_source(path: str, text: bytes | None = None) -> bytes | None:
    """``text`` if given (a module not written yet), else the bytes of the file at ``path``; None
    if it cannot be read."""
    if text is not None:
        return text
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def _package_of(path: str, root: str) -> list[str]:
    """The package a module file belongs to, as name parts relative to ``root``."""
    return os.path.relpath(path, root).split(os.sep)[:-1]


def _imports(source: bytes, package: list[str]) -> list[str]:
    """Dotted names the module imports (``from a import b`` gives ``a`` and ``a.b``)."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 > len(package):
                    continue
                base = package[: len(package) - (node.level - 1)]
                module = [*base, *(node.module.split(".") if node.module else [])]
            else:
                module = node.module.split(".") if node.module else []
            if not module:
                continue
            names.append(".".join(module))
            names.extend(".".join([*module, alias.name]) for alias in node.names if alias.name != "*")
    return names


def _files(root: str, dotted: str) -> list[str]:
    """The files under ``root`` that importing ``dotted`` loads (each package's ``__init__``)."""
    parts = dotted.split(".")
    files: list[str] = []
    for i in range(1, len(parts) + 1):
        base = os.path.join(root, *parts[:i])
        if os.path.isfile(base + ".py"):
            files.append(base + ".py")
            break
        init = os.path.join(base, "__init__.py")
        if os.path.isfile(init):
            files.append(init)
        elif not os.path.isdir(base):  # not here (namespace packages have no __init__)
            break
    return files
