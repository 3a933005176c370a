"""The local marshal directory of a run: by default ``./.kale-runs/<pipeline>-<UTC timestamp>/``
under the current working directory (a fresh folder per run; ``-2``, ``-3`` if runs collide).

A marshal directory belongs to one run at a time: the run holds a lock on ``.kale/lock`` and a
second run into the same ``--marshal-dir`` is refused. The run gets a fresh id and a fresh key
(``.kale/run/key``, mode 0600), so values an earlier run left in a reused directory are never
loaded; temporary files of writes an earlier run was killed in are removed when a run starts.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import ConfigError
from ..names import dns1123_label
from ..runtime.marshal.binding import create_key_file
from ..runtime.marshal.files import atomic_writer, remove_temp_files

LOCK_FILE = os.path.join(".kale", "lock")
KEY_FILE = os.path.join(".kale", "run", "key")
ID_FILE = os.path.join(".kale", "run", "id")


@dataclass(frozen=True)
class RunFolder:
    """A claimed marshal directory: its path, the run's id and the path of the run's key."""

    path: str
    run_id: str
    key_file: str


@contextlib.contextmanager
def claim_marshal_dir(path: str, resume: bool = False) -> Iterator[RunFolder]:
    """Lock ``path`` for one run (ConfigError if another run holds it), clean up after earlier
    crashes, create the run's id and key (``resume``: keep the earlier run's, so its values stay
    valid; ConfigError if it has none); the lock is released on exit."""
    import fcntl

    lock_path = os.path.join(path, LOCK_FILE)
    try:
        os.makedirs(os.path.dirname(lock_path), exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot use the marshal directory {path!r}: {exc.strerror}",
                          where="--marshal-dir", hint="choose a writable folder") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise ConfigError(
                f"the marshal directory {path} is in use by another run (pid {holder})",
                where="--marshal-dir",
                hint="give each concurrent run its own --marshal-dir, or leave it out for a "
                     "fresh folder per run") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        remove_temp_files(path)
        key_file = os.path.join(path, KEY_FILE)
        if resume:
            yield RunFolder(path, earlier_run(path), key_file)
            return
        create_key_file(key_file)
        run_id = uuid.uuid4().hex
        with atomic_writer(os.path.join(path, ID_FILE), sync=False) as out:
            out.write(run_id.encode())
        yield RunFolder(path, run_id, key_file)
    finally:
        os.close(fd)  # releases the lock

def earlier_run(path: str) -> str:
    """The id of the run that used ``path`` (ConfigError if none can be resumed there)."""
    try:
        with open(os.path.join(path, ID_FILE)) as fh:
            run_id = fh.read().strip()
        if run_id and os.path.isfile(os.path.join(path, KEY_FILE)):
            return run_id
    except OSError:
        pass
    raise ConfigError(f"{path} holds no run to resume (no .kale/run/id and key)", where="--resume",
                      hint="give the marshal dir a local run printed (.kale-runs/<pipeline>-<time>)")


RUNS_DIR = ".kale-runs"
CACHE_DIR = ".cache"


def cache_dir(pipeline: str, marshal_dir: str) -> str:
    """The step cache shared by the runs of ``pipeline``: ``.kale-runs/.cache/<pipeline>`` in the
    runs folder holding ``marshal_dir`` (by default ``./.kale-runs``), or beside it (a
    ``--marshal-dir`` elsewhere)."""
    parent = os.path.dirname(os.path.abspath(marshal_dir))
    runs = parent if os.path.basename(parent) == RUNS_DIR else os.path.join(parent, RUNS_DIR)
    return os.path.join(runs, CACHE_DIR, dns1123_label(pipeline) or "pipeline")


def create_marshal_dir(pipeline: str, marshal_dir: str | None = None) -> str:
    """Create (if needed) and return the absolute marshal directory of a new run."""
    if marshal_dir is not None:
        path = os.path.abspath(marshal_dir)
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the marshal directory {marshal_dir!r}: {exc.strerror}",
                              where="--marshal-dir", hint="choose a writable folder") from None
        return path
    root = os.path.abspath(RUNS_DIR)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = os.path.join(root, f"{dns1123_label(pipeline) or 'pipeline'}-{stamp}")
    os.makedirs(root, exist_ok=True)
    for n in range(1, 1000):
        path = base if n == 1 else f"{base}-{n}"
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        return path
    raise ConfigError(f"too many runs of {pipeline!r} in {root} this second")  # pragma: no cover
