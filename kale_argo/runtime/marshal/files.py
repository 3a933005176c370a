"""Atomic, checksummed file writes and the checksums used to verify reads.

A value is written to a temporary file in the destination directory (``.<name>.<random>.tmp``),
fsynced, renamed over the final name with :func:`os.replace`, and the directory is fsynced, so a
process killed mid-write leaves at worst a temporary file that nothing ever loads (and that the
next run's start removes, :func:`remove_temp_files`).

Checksums: CRC-32 (``zlib.crc32``, about 4 GB/s here) guards against torn and corrupted files;
when the run has a key, a cryptographic hash instead, whose digest the HMAC-tagged metadata
records, so the data cannot be changed to match (a CRC-32 can be forged): SHA-256 (standard
library, about 1.8 GB/s a core with the CPU's SHA instructions) or BLAKE3 (the ``blake3`` package,
about 4.3 GB/s a core: installed with kale-argo, not in a pod's image unless put there), hashed
in 4 MiB chunks on two cores (the digest of the chunks' digests). The run chooses
(:func:`best_keyed`); a value records which it has. Either is computed from the written file (page
cache, memory-mapped: no extra copy) while the fsync waits for the disk, and over every byte again
before a value is used.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import Any

CHUNK = 4 << 20  # bytes per write/read call for large buffers, and per hashed chunk
CRC32, SHA256, BLAKE3 = "crc32", "sha256", "blake3"  # checksum algorithms
KEYED = (SHA256, BLAKE3)  # those a run with a key may use: an attacker cannot find a second input
HASH_THREADS = 2 if (os.cpu_count() or 1) > 1 else 1
PARALLEL_CRC_MIN = 8 << 20  # from this size, checksum in parallel with the fsync
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)


class ChecksumWriter:
    """The binary sink a codec writes a value to: a temporary file (``fd``, ``path``).

    A codec may write through :meth:`write` or reopen ``path`` with its own native writer.
    ``size`` and ``digest`` (of ``algorithm``: an int for CRC-32, hex text for the others) are filled
    in when the write is committed, from the file's bytes.
    """

    def __init__(self, fd: int, path: str, algorithm: str = CRC32) -> None:
        self.fd = fd
        self.path = path
        self.algorithm = algorithm
        self.size = 0
        self.digest: int | str = 0

    @property
    def crc(self) -> int | str:
        """The committed file's checksum (alias of ``digest``)."""
        return self.digest

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


def _hasher(algorithm: str) -> Callable[[Any], Any]:
    """The SHA-256 or BLAKE3 constructor (ImportError if ``blake3`` is missing)."""
    if algorithm == BLAKE3:
        from blake3 import blake3  # releases the GIL while it hashes, as hashlib does

        return blake3
    import hashlib  # only runs with a key pay for importing OpenSSL

    return hashlib.sha256


def best_keyed() -> str:
    """The fastest keyed checksum this interpreter can compute: BLAKE3 if ``blake3`` imports."""
    try:
        _hasher(BLAKE3)
    except ImportError:
        return SHA256
    return BLAKE3


def check_algorithm(algorithm: str) -> None:
    """ValueError naming ``algorithm`` if it is unknown, or needs a package that is missing."""
    if algorithm not in (CRC32, *KEYED):
        raise ValueError(f"unknown checksum {algorithm!r} (known: {', '.join((CRC32, *KEYED))})")
    if algorithm == BLAKE3 and best_keyed() != BLAKE3:
        raise ValueError("the checksum is BLAKE3 and the blake3 package is not installed here "
                         "(hint: pip install blake3)")


def digest_of_view(view: memoryview, algorithm: str = CRC32, mapped: mmap.mmap | None = None
                   ) -> int | str:
    """The checksum of ``view``'s bytes: an int (CRC-32) or hex text (SHA-256 or BLAKE3: the hash
    of the digests of its :data:`CHUNK`-sized chunks, hashed by two threads on two or more CPUs).
    Each chunk of ``mapped`` is unmapped once read (the page cache keeps it): RSS stays at a chunk
    or two."""
    check_algorithm(algorithm)
    size = len(view)

    def done(start: int) -> None:
        if mapped is not None and _DONTNEED is not None:
            mapped.madvise(_DONTNEED, start, min(CHUNK, size - start))

    if algorithm == CRC32:
        crc = 0
        for start in range(0, size, CHUNK):
            crc = zlib.crc32(view[start:start + CHUNK], crc)
            done(start)
        return crc
    new = _hasher(algorithm)
    starts = list(range(0, size, CHUNK))
    digests: list[bytes] = [b""] * len(starts)
    threads = min(HASH_THREADS, len(starts))

    def work(first: int) -> None:
        for i in range(first, len(starts), max(threads, 1)):
            digests[i] = new(view[starts[i]:starts[i] + CHUNK]).digest()
            done(starts[i])

    if threads > 1:
        helper = threading.Thread(target=work, args=(1,), daemon=True)
        helper.start()
        try:
            work(0)
        finally:
            helper.join()
    else:
        work(0)
    return new(b"".join(digests)).hexdigest()


def digest_of_fd(fd: int, size: int, algorithm: str = CRC32) -> int | str:
    """:func:`digest_of_view` of the first ``size`` bytes of the open file ``fd``, read through a
    memory map."""
    if not size:
        return digest_of_view(memoryview(b""), algorithm)
    with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as mapped:
        view = memoryview(mapped)
        try:
            return digest_of_view(view, algorithm, mapped)
        finally:
            view.release()


def file_digest(path: str, size: int, algorithm: str = CRC32) -> int | str:
    """:func:`digest_of_fd` of the file at ``path`` (EOFError if it is shorter than ``size``)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if os.fstat(fd).st_size < size:
            raise EOFError(f"{path} is shorter than {size} bytes")
        return digest_of_fd(fd, size, algorithm)
    finally:
        os.close(fd)


def fsync_and_checksum(fd: int, *, sync: bool = True, algorithm: str = CRC32) -> tuple[int, int | str]:
    """fsync ``fd`` and return (size, checksum) of its file. For large files the checksum is
    computed from the page cache while the fsync waits for the disk (both release the GIL), so
    it costs no wall time."""
    size = os.fstat(fd).st_size
    if size < PARALLEL_CRC_MIN or not sync:
        crc = digest_of_fd(fd, size, algorithm)
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
        crc = digest_of_fd(fd, size, algorithm)
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
def atomic_writer(path: str, *, sync: bool = True, sync_dir: bool = True,
                  algorithm: str = CRC32, mode: int = 0o644) -> Iterator[ChecksumWriter]:
    """Write ``path`` atomically; on any exception (Ctrl-C and SIGTERM included, once the runtime
    turns SIGTERM into an exception) the temporary file is removed, ``path`` untouched.

    With ``sync`` the file's bytes are fsynced before the rename; with ``sync_dir`` the directory
    after it (a caller renaming several files may fsync the directory once at the end instead).
    ``mode``: the file's permissions (0600 for a key), set when the temporary file is created.
    """
    tmp = temp_path(path)
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            writer = ChecksumWriter(fd, tmp, algorithm)
            yield writer
            writer.size, writer.digest = fsync_and_checksum(fd, sync=sync, algorithm=algorithm)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_directory(os.path.dirname(path) or ".")


def write_bytes_atomic(path: str, data: bytes, *, sync: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (creating the directory if needed).

    The rename is made durable (directory fsync); with ``sync`` the content is fsynced first too.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with atomic_writer(path, sync=sync) as out:
        out.write(data)


def write_json_atomic(path: str, data: Any, *, sync: bool = True) -> None:
    """:func:`write_bytes_atomic` of ``data`` as JSON (sorted keys, indented)."""
    write_bytes_atomic(path, json.dumps(data, sort_keys=True, indent=1).encode(), sync=sync)


def map_verified(path: str, size: int, checksum: int | str, algorithm: str = CRC32) -> memoryview:
    """The file's bytes, memory-mapped copy-on-write (what a value loaded in place writes stays
    in its process), after checking their checksum (ValueError if not)."""
    if not size:
        view = memoryview(b"")
    else:
        with open(path, "rb") as fh:
            mapped = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_COPY)
        view = memoryview(mapped)
    if digest_of_view(view, algorithm) != checksum:
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


def remove_temp_files(directory: str, names: tuple[str, ...] | None = None) -> list[str]:
    """Remove the temporary files of interrupted writes in ``directory`` and its ``.kale/values``
    (only those of the value files ``names``, if given); returns the paths removed."""
    removed = []
    for folder in (directory, os.path.join(directory, ".kale", "values")):
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for name in entries:
            if not is_temp_name(name):
                continue
            if names is not None and not any(name.startswith(f".{n}.") for n in names):
                continue
            path = os.path.join(folder, name)
            with contextlib.suppress(OSError):
                os.unlink(path)
                removed.append(path)
    return removed


def free_space(path: str) -> str:
    """Free space on the filesystem holding ``path`` (``"12.0 MiB free"``), or ``""`` if unknown."""
    probe = path
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    try:
        st = os.statvfs(probe or ".")
    except (OSError, AttributeError):
        return ""
    size = float(st.f_bavail * st.f_frsize)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B free" if unit == "B" else f"{size:.1f} {unit} free"
        size /= 1024
    return ""  # pragma: no cover
