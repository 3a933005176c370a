"""Pickle protocol 5 for ordinary objects; dill only for what pickle cannot do.

dill's pure-Python pickler is about 10x slower than pickle's C one on large object graphs, so it is
the fallback (lambdas, closures, functions defined in the script), never the first resort.
Instances of classes defined in the script pickle by reference: every step imports the script
under the same module name. Generators, locks, sockets and open files are refused even by dill:
a copy of them would not be the same thing in the next step.
"""

from __future__ import annotations

import pickle
from typing import Any

from .codec import Codec

PROTOCOL = 5
BUFFER = 1 << 20


class NeedsDill(Exception):
    """pickle could not store the value; the caller retries with :class:`DillCodec`."""


class PickleCodec(Codec):
    name = "pickle"
    suffix = ".pkl"

    def claims(self, value: Any) -> bool:
        return True

    def dump(self, value: Any, out: Any) -> dict[str, Any]:
        try:
            # pickle writes many small frames: buffered, they cost one system call per MiB;
            # large out-of-band buffers (arrays) go through unbuffered.
            with open(out.fd, "wb", buffering=BUFFER, closefd=False) as sink:
                pickle.dump(value, sink, protocol=PROTOCOL)
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:
            raise NeedsDill(f"{type(exc).__name__}: {exc}") from exc
        return {}

    def loads(self, data: memoryview, meta: dict[str, Any]) -> Any:
        return pickle.loads(data)


def _unserialisable_types() -> tuple[type, ...]:
    import io
    import socket
    import threading
    import types

    return (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType,
            type(threading.Lock()), type(threading.RLock()), threading.Condition,
            threading.Semaphore, threading.Event, threading.Thread, socket.socket, io.IOBase,
            types.FrameType)


def _strict_pickler(dill: Any) -> type:
    refused = _unserialisable_types()

    class StrictPickler(dill.Pickler):  # type: ignore[misc, name-defined]
        def save(self, obj: Any, save_persistent_id: bool = True) -> None:
            if isinstance(obj, refused):
                raise pickle.PicklingError(f"cannot serialise a {type(obj).__name__} object")
            super().save(obj, save_persistent_id)

    return StrictPickler


class DillCodec(Codec):
    name = "dill"
    suffix = ".dill"

    def claims(self, value: Any) -> bool:
        return False  # chosen only after pickle failed

    def dump(self, value: Any, out: Any) -> dict[str, Any]:
        try:
            import dill
        except ImportError:
            raise ImportError("it needs dill, which is not installed (hint: pip install dill)"
                              ) from None
        _strict_pickler(dill)(out, protocol=PROTOCOL, recurse=False).dump(value)
        return {}

    def loads(self, data: memoryview, meta: dict[str, Any]) -> Any:
        try:
            import dill
        except ImportError:
            raise ImportError("it was stored with dill, which is not installed "
                              "(hint: pip install dill)") from None
        return dill.loads(data)
