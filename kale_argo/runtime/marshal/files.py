"""Atomic, checksummed file writes and the checksums used to verify reads.

A value is written to a temporary file in the destination directory (``.<name>.<random>.tmp``),
fsynced, renamed over the final name with :func:`os.replace`, and the directory is fsynced, so a
process killed mid-write leaves at worst a temporary file that nothing ever loads.

Checksum: CRC-32 (``zlib.crc32``, about 6 GiB/s here against about 2 GiB/s for SHA-256): it guards
against torn and corrupted files, not against tampering. It is computed from the written file
(page cache, memory-mapped: no extra copy) while the fsync waits for the disk.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import threading
import zlib
from collections.abc import Iterator
from typing import Any

CHUNK = 64 << 20  # bytes per write/read call for large buffers
PARALLEL_CRC_MIN = 8 << 20  # from this size, checksum in parallel with the fsync
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)
SAMPLE_EDGE = 1 << 20  # head and tail bytes covered by the sampled checksum
SAMPLE_BLOCK = 64 << 10
SAMPLE_BLOCKS = 16


class ChecksumWriter:
    """The binary sink a codec writes a value to: a temporary file (``fd``, ``path``).

    A codec may write through :meth:`write` or reopen ``path`` with its own native writer.
    ``size`` and ``crc`` are filled in when the write is committed, from the file's bytes.
    """

    def __init__(self, fd: int, path: str) -> None:
        self.fd = fd
        self.path = path
        self.size = 0
        self.crc = 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        done = 0
        while done < total:
            done += os.write(self.fd, view[done:done + CHUNK])
        return total

    def writable(self) -> bool:
        return True

    def flush(self) -> None:  # os.write is unbuffered
        return None

    @property
    def closed(self) -> bool:
        return False


def _crc_of_fd(fd: int, size: int) -> int:
    if not size:
        return 0
    with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as mapped:
        view = memoryview(mapped)
        try:
            crc = 0
            for start in range(0, size, CHUNK):
                crc = zlib.crc32(view[start:start + CHUNK], crc)
                if _DONTNEED is not None:  # unmap what was read: RSS stays at one chunk
                    mapped.madvise(_DONTNEED, start, min(CHUNK, size - start))
            return crc
        finally:
            view.release()


def fsync_and_checksum(fd: int, *, sync: bool = True) -> tuple[int, int]:
    """fsync ``fd`` and return (size, CRC-32) of its file. For large files the CRC is computed
    from the page cache while the fsync waits for the disk (both release the GIL), so the
    checksum costs no wall time."""
    size = os.fstat(fd).st_size
    if size < PARALLEL_CRC_MIN or not sync:
        crc = _crc_of_fd(fd, size)
        if sync:
            os.fsync(fd)
        return size, crc
    failed: list[OSError] = []

    def background_fsync() -> None:
        try:
            os.fsync(fd)
        except OSError as exc:
            failed.append(exc)

    syncer = threading.Thread(target=background_fsync, daemon=True)
    syncer.start()
    try:
        crc = _crc_of_fd(fd, size)
    finally:
        syncer.join()
    if failed:
        raise failed[0]
    return size, crc


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
def atomic_writer(path: str, *, sync: bool = True, sync_dir: bool = True) -> Iterator[ChecksumWriter]:
    """Write ``path`` atomically; on any exception the temporary file is removed, ``path`` untouched.

    With ``sync`` the file's bytes are fsynced before the rename; with ``sync_dir`` the directory
    after it (a caller renaming several files may fsync the directory once at the end instead).
    """
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            writer = ChecksumWriter(fd, tmp)
            yield writer
            writer.size, writer.crc = fsync_and_checksum(fd, sync=sync)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_directory(os.path.dirname(path) or ".")


def write_json_atomic(path: str, data: Any, *, sync: bool = True) -> None:
    """Write ``data`` as JSON to ``path`` atomically (creating the directory if needed).

    The rename is made durable (directory fsync); with ``sync`` the content is fsynced first too.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with atomic_writer(path, sync=sync) as out:
        out.write(json.dumps(data, sort_keys=True, indent=1).encode())


def map_verified(path: str, size: int, crc: int) -> memoryview:
    """The file's bytes, memory-mapped read-only, after checking their CRC-32 (ValueError if not)."""
    if not size:
        return memoryview(b"")
    with open(path, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ)
    view = memoryview(mapped)
    actual = 0
    for start in range(0, size, CHUNK):
        actual = zlib.crc32(view[start:start + CHUNK], actual)
    if actual != crc:
        raise ValueError("checksum mismatch")
    return view


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
