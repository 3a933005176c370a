"""Pickle protocol 5 for ordinary objects; dill only for what pickle cannot do.

dill's pure-Python pickler is about 10x slower than pickle's C one on large object graphs, so it is
the fallback (lambdas, closures, functions defined in the script), never the first resort.

Instances of classes defined in the script pickle by reference: every step imports the script
under the same module name. Generators, locks, sockets and open files are refused even by dill:
a copy of them would not be the same thing in the next step.

File layout of a pickle: the protocol 5 stream (``pickle_bytes`` long), then each large
out-of-band buffer (an array's memory, :data:`OUT_OF_BAND_MIN` bytes or more) at the next multiple
of :data:`ALIGN`, their lengths in the metadata (``buffers``). Buffers are written from the objects'
own memory and loaded in place from the verified, copy-on-write mapping of the file: a fitted
model's arrays are neither copied into the stream on save nor out of it on load. Without
``buffers`` in the metadata, the file is the stream alone (smaller buffers stay in it).
"""

from __future__ import annotations

import os
import pickle
from typing import Any

from .codec import Codec

PROTOCOL = 5
BUFFER = 1 << 20
OUT_OF_BAND_MIN = 64 << 10  # smaller buffers are copied into the stream: no layout entry each
ALIGN = 64  # an out-of-band buffer starts at a multiple of this (the mapping is page-aligned)


class NeedsDill(Exception):
    """pickle could not store the value; the caller retries with :class:`DillCodec`."""


class PickleCodec(Codec):
    name = "pickle"
    suffix = ".pkl"

    def claims(self, value: Any) -> bool:
        return True

    def dump(self, value: Any, out: Any) -> dict[str, Any]:
        large: list[memoryview] = []

        def out_of_band(buffer: pickle.PickleBuffer) -> bool:
            """Keep a large contiguous buffer for after the stream (False: not in the stream)."""
            try:
                raw = buffer.raw()
            except BufferError:  # not contiguous: the stream copies it
                return True
            if raw.nbytes < OUT_OF_BAND_MIN:
                return True
            large.append(raw)
            return False

        try:
            # pickle writes many small frames: buffered, they cost one system call per MiB.
            with open(out.fd, "wb", buffering=BUFFER, closefd=False) as sink:
                pickle.dump(value, sink, protocol=PROTOCOL, buffer_callback=out_of_band)
        except (MemoryError, RecursionError):
            raise
        except Exception as exc:
            raise NeedsDill(f"{type(exc).__name__}: {exc}") from exc
        if not large:
            return {}
        stream = position = os.lseek(out.fd, 0, os.SEEK_CUR)
        lengths = [raw.nbytes for raw in large]
        for raw, (start, end) in zip(large, buffer_layout(stream, lengths), strict=True):
            out.write(bytes(start - position))  # padding, then the buffer from the object's memory
            out.write(raw)
            position = end
        return {"pickle_bytes": stream, "buffers": lengths}

    def loads(self, data: memoryview, meta: dict[str, Any]) -> Any:
        if "buffers" not in meta:
            return pickle.loads(data)
        stream, spans = buffer_spans(meta, len(data))
        return pickle.loads(data[:stream], buffers=[data[start:end] for start, end in spans])


def buffer_spans(meta: dict[str, Any], size: int) -> tuple[int, list[tuple[int, int]]]:
    """(stream length, [(start, end) of each out-of-band buffer]) from a pickle's metadata;
    ValueError if they do not fit the file's ``size`` bytes."""
    stream: Any = meta.get("pickle_bytes")
    lengths: Any = meta.get("buffers")
    if not _count(stream) or not isinstance(lengths, list) or not all(map(_count, lengths)):
        raise ValueError("its metadata's buffer layout is malformed")
    spans = buffer_layout(stream, lengths)
    end = spans[-1][1] if spans else stream
    if end != size:
        raise ValueError(f"its buffers end at byte {end}, the file has {size}")
    return stream, spans


def buffer_layout(stream: int, lengths: list[int]) -> list[tuple[int, int]]:
    """(start, end) of each out-of-band buffer of ``lengths`` bytes after a ``stream``-byte pickle:
    each at the next multiple of :data:`ALIGN` (the one layout saves write and loads read)."""
    spans: list[tuple[int, int]] = []
    position = stream
    for length in lengths:
        start = position + (-position % ALIGN)
        position = start + length
        spans.append((start, position))
    return spans


def _count(n: Any) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and n >= 0


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
