"""Packages whose names load on first use, so that importing them (or a light module of theirs)
stays cheap: the application layer, the executor, the compiler; and heavy imports that Ctrl-C
interrupts only once they are done."""

from __future__ import annotations

import importlib
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any


def import_whole(name: str) -> ModuleType:
    """``importlib.import_module(name)`` with Ctrl-C held until the import ends, then raised as
    KeyboardInterrupt. pydantic-core turns an interrupt that lands while it builds a model's
    validator into a SchemaError (a traceback, exit 1), or the process dies by SIGINT at exit, so
    an import of the IR must not be interrupted midway. Only in the main thread, and only where
    SIGINT has Python's default handler."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        return importlib.import_module(name)
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        return importlib.import_module(name)
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            raise KeyboardInterrupt  # the interrupt wins over the import's outcome


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
        value = getattr(import_whole(f"{package}.{where[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
