"""Packages whose names load on first use, so that importing them (or a light module of theirs)
stays cheap: the application layer, the executor, the compiler."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def exported(modules: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """``{submodule: names}`` -> ``{name: submodule}``."""
    return {name: module for module, names in modules.items() for name in names}


def lazy_names(package: str, modules: Mapping[str, Sequence[str]]
               ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package``: each name of ``modules``
    (``{submodule: names}``) is imported from its submodule when first asked for, then kept in the
    package; ``dir()`` (a notebook's completion) lists them before that too."""
    where = exported(modules)

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
