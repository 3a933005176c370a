"""What a marshal codec is, and the registry that picks one for a value or a stored file.

Order of the search for a value: codecs added with :func:`register_codec`, then the built-in
type-specific ones (numpy, pandas), then third-party codecs from the entry-point group
``kale_argo.marshal_codecs``, then pickle (with dill as its fallback), which claims everything.
Entry points are read (once per process) only when nothing above claimed the value and its type
comes from a third-party module: not builtins, not the standard library, not the user's script.
Reading them costs tens of milliseconds (``importlib.metadata``), which every step would
otherwise pay for saving an int. A stored file names its codec; an unknown name is looked up
among the entry points too.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, ClassVar

from .files import ChecksumWriter

ENTRY_POINT_GROUP = "kale_argo.marshal_codecs"


class Codec:
    """One way of storing values. Subclass, set ``name`` and ``suffix``, implement the methods.

    ``claims`` must be cheap and must not import heavy libraries (check ``sys.modules`` first:
    a value of a library's type implies the library is imported). A codec is either eager
    (``loads`` gets the file's bytes, size- and checksum-verified, mapped copy-on-write) or ``lazy``
    (``load_path`` maps the file, after its size, its checksum over every byte and
    ``verify_header`` passed).
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
        """Rebuild the value from the file's verified bytes (eager codecs)."""
        raise NotImplementedError

    def load_path(self, path: str, meta: dict[str, Any]) -> Any:
        """Rebuild the value from the file at ``path`` (lazy codecs)."""
        raise NotImplementedError

    def verify_header(self, path: str, meta: dict[str, Any]) -> None:
        """Lazy codecs: raise ValueError if the file's header disagrees with ``meta``."""


_registered: list[Codec] = []
_builtin: list[Codec] | None = None
_fallback: Codec | None = None
_entry_points: list[Codec] | None = None


def register_codec(codec: Codec | type[Codec]) -> Codec:
    """Add a codec, consulted before the built-in ones. Returns the instance registered."""
    instance = codec() if isinstance(codec, type) else codec
    if not instance.name:
        raise ValueError(f"marshal codec {instance!r} has no name")
    unregister_codec(instance.name)
    _registered.insert(0, instance)
    return instance


def unregister_codec(name: str) -> None:
    """Remove a codec added with :func:`register_codec` (tests use this)."""
    _registered[:] = [b for b in _registered if b.name != name]


def _builtins() -> list[Codec]:
    global _builtin, _fallback
    if _builtin is None:
        from .frame import FrameCodec
        from .npy import NumpyCodec
        from .pickled import DillCodec, PickleCodec

        _fallback = PickleCodec()
        _builtin = [NumpyCodec(), FrameCodec(), _fallback, DillCodec()]
    return _builtin


def entry_point_codecs() -> list[Codec]:
    """Codecs advertised by installed distributions (read once, on first need)."""
    global _entry_points
    if _entry_points is None:
        from importlib.metadata import entry_points

        found: list[Codec] = []
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


def codec_for_value(value: Any) -> Codec:
    """The codec that stores ``value``."""
    builtins = _builtins()
    for codec in _registered:
        if codec.claims(value):
            return codec
    for codec in builtins[:2]:
        if codec.claims(value):
            return codec
    if _third_party_type(value):
        for codec in entry_point_codecs():
            if codec.claims(value):
                return codec
    assert _fallback is not None
    return _fallback


def codec_named(name: str) -> Codec | None:
    """The codec that wrote a file, by the name stored in its metadata."""
    for codec in [*_registered, *_builtins()]:
        if codec.name == name:
            return codec
    for codec in entry_point_codecs():
        if codec.name == name:
            return codec
    return None
