"""What a marshal backend is, and the registry that picks one for a value or a stored file.

Order of the search for a value: backends added with :func:`register_backend`, then the built-in
type-specific ones (numpy, pandas), then third-party backends from the entry-point group
``kale_argo.marshal_backends``, then pickle (with dill as its fallback), which claims everything.
Entry points are read (once per process) only when nothing above claimed the value and its type
comes from a third-party module: not builtins, not the standard library, not the user's script.
Reading them costs tens of milliseconds (``importlib.metadata``), which every step would
otherwise pay for saving an int. A stored file names its backend; an unknown name is looked up
among the entry points too.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, ClassVar

from ._files import ChecksumWriter

ENTRY_POINT_GROUP = "kale_argo.marshal_backends"


class Backend:
    """One way of storing values. Subclass, set ``name`` and ``suffix``, implement the methods.

    ``claims`` must be cheap and must not import heavy libraries (check ``sys.modules`` first:
    a value of a library's type implies the library is imported). A backend is either eager
    (``loads`` gets the file's bytes, already size- and checksum-verified) or ``lazy`` (``load_path``
    maps the file; only the size, the header and a sampled checksum are verified eagerly).
    """

    name: ClassVar[str] = ""
    suffix: ClassVar[str] = ".bin"
    lazy: ClassVar[bool] = False

    def claims(self, value: Any) -> bool:
        raise NotImplementedError

    def dump(self, value: Any, out: ChecksumWriter) -> dict[str, Any]:
        """Write ``value`` to ``out``; return extra JSON-able metadata (may be empty)."""
        raise NotImplementedError

    def loads(self, data: memoryview, meta: dict[str, Any]) -> Any:
        """Rebuild the value from the file's verified bytes (eager backends)."""
        raise NotImplementedError

    def load_path(self, path: str, meta: dict[str, Any]) -> Any:
        """Rebuild the value from the file at ``path`` (lazy backends)."""
        raise NotImplementedError

    def verify_header(self, path: str, meta: dict[str, Any]) -> None:
        """Lazy backends: raise ValueError if the file's header disagrees with ``meta``."""


_registered: list[Backend] = []
_builtin: list[Backend] | None = None
_fallback: Backend | None = None
_entry_points: list[Backend] | None = None


def register_backend(backend: Backend | type[Backend]) -> Backend:
    """Add a backend, consulted before the built-in ones. Returns the instance registered."""
    instance = backend() if isinstance(backend, type) else backend
    if not instance.name:
        raise ValueError(f"marshal backend {instance!r} has no name")
    unregister_backend(instance.name)
    _registered.insert(0, instance)
    return instance


def unregister_backend(name: str) -> None:
    """Remove a backend added with :func:`register_backend` (tests use this)."""
    _registered[:] = [b for b in _registered if b.name != name]


def _builtins() -> list[Backend]:
    global _builtin, _fallback
    if _builtin is None:
        from .frame import FrameBackend
        from .npy import NumpyBackend
        from .pickled import DillBackend, PickleBackend

        _fallback = PickleBackend()
        _builtin = [NumpyBackend(), FrameBackend(), _fallback, DillBackend()]
    return _builtin


def entry_point_backends() -> list[Backend]:
    """Backends advertised by installed distributions (read once, on first need)."""
    global _entry_points
    if _entry_points is None:
        from importlib.metadata import entry_points

        found: list[Backend] = []
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            with contextlib.suppress(Exception):  # a broken plug-in must not break every step
                obj = ep.load()
                found.append(obj() if isinstance(obj, type) else obj)
        _entry_points = found
    return _entry_points


def reset_entry_points() -> None:
    """Forget the entry points read so far (after installing a plug-in; tests use this)."""
    global _entry_points
    _entry_points = None


def _third_party_type(value: Any) -> bool:
    """Whether ``value``'s type comes from a module a plug-in could be written for."""
    name = type(value).__module__ or ""
    top = name.partition(".")[0]
    if top in ("builtins", "__main__") or top in sys.stdlib_module_names:
        return False
    return not getattr(sys.modules.get(name), "__kale_script__", False)


def backend_for_value(value: Any) -> Backend:
    """The backend that stores ``value``."""
    builtins = _builtins()
    for backend in _registered:
        if backend.claims(value):
            return backend
    for backend in builtins[:2]:
        if backend.claims(value):
            return backend
    if _third_party_type(value):
        for backend in entry_point_backends():
            if backend.claims(value):
                return backend
    assert _fallback is not None
    return _fallback


def backend_named(name: str) -> Backend | None:
    """The backend that wrote a file, by the name stored in its metadata."""
    for backend in [*_registered, *_builtins()]:
        if backend.name == name:
            return backend
    for backend in entry_point_backends():
        if backend.name == name:
            return backend
    return None
