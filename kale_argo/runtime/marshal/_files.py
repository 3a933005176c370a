"""Atomic, checksummed file writes and the checksums used to verify reads.

A value is written to a temporary file in the destination directory (``.<name>.<random>.tmp``),
fsynced, renamed over the final name with :func:`os.replace`, and the directory is fsynced, so a
process killed mid-write leaves at worst a temporary file that nothing ever loads.

Checksum: CRC-32 (``zlib.crc32``, about 6 GiB/s here against about 2 GiB/s for SHA-256): it guards
against torn and corrupted files, not against tampering, and is computed while the bytes stream
to disk so a save never holds an extra copy for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from collections.abc import Iterator
from typing import Any

CHUNK = 64 << 20  # bytes per write/read call for large buffers
SAMPLE_EDGE = 1 << 20  # head and tail bytes covered by the sampled checksum
SAMPLE_BLOCK = 64 << 10
SAMPLE_BLOCKS = 16


class ChecksumWriter:
    """A binary file-like sink that counts bytes and updates a CRC-32 as they are written."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.size = 0
        self.crc = 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        self.crc = zlib.crc32(view, self.crc)
        done = 0
        while done < total:
            done += os.write(self._fd, view[done:done + CHUNK])
        self.size += total
        return total

    def writable(self) -> bool:
        return True

    def flush(self) -> None:  # os.write is unbuffered
        return None

    def tell(self) -> int:
        return self.size

    @property
    def closed(self) -> bool:
        return False


def fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_path(path: str) -> str:
    """A unique temporary name next to ``path``: never a name a value is loaded from."""
    directory, name = os.path.split(path)
    return os.path.join(directory, f".{name}.{os.urandom(6).hex()}.tmp")


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is a temporary file left by an interrupted write."""
    return name.startswith(".") and name.endswith(".tmp")


@contextlib.contextmanager
def atomic_writer(path: str) -> Iterator[ChecksumWriter]:
    """Write ``path`` atomically; on any exception the temporary file is removed, ``path`` untouched."""
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            writer = ChecksumWriter(fd)
            yield writer
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(os.path.dirname(path) or ".")


def write_json_atomic(path: str, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (creating the directory if needed)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with atomic_writer(path) as out:
        out.write(json.dumps(data, sort_keys=True, indent=1).encode())


def file_crc32(path: str) -> tuple[int, int]:
    """(size, CRC-32) of the whole file, read in chunks."""
    crc = size = 0
    with open(path, "rb", buffering=0) as fh:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            crc = zlib.crc32(view[:n], crc)
            size += n
    return size, crc


def sample_offsets(size: int) -> list[tuple[int, int]]:
    """(offset, length) of the blocks the sampled checksum covers: head, tail and evenly spaced."""
    if size <= 2 * SAMPLE_EDGE + SAMPLE_BLOCKS * SAMPLE_BLOCK:
        return [(0, size)]
    blocks = [(0, SAMPLE_EDGE)]
    step = (size - 2 * SAMPLE_EDGE) // (SAMPLE_BLOCKS + 1)
    blocks += [(SAMPLE_EDGE + step * (i + 1), SAMPLE_BLOCK) for i in range(SAMPLE_BLOCKS)]
    blocks.append((size - SAMPLE_EDGE, SAMPLE_EDGE))
    return blocks


def sampled_crc32(fd: int, size: int) -> int:
    """CRC-32 over :func:`sample_offsets` of an open file: cheap, independent of the file's size."""
    crc = 0
    for offset, length in sample_offsets(size):
        data = os.pread(fd, length, offset)
        if len(data) != length:
            raise EOFError(f"short read at offset {offset}")
        crc = zlib.crc32(data, crc)
    return crc


def sampled_crc32_of_path(path: str, size: int) -> int:
    """:func:`sampled_crc32` of the file at ``path``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return sampled_crc32(fd, size)
    finally:
        os.close(fd)
