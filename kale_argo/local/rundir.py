"""The local marshal directory of a run: by default ``./.kale-runs/<pipeline>-<UTC timestamp>/``
under the current working directory (a fresh folder per run; ``-2``, ``-3`` if runs collide)."""

from __future__ import annotations

import os
import time

from ..errors import ConfigError
from ..names import dns1123_label

RUNS_DIR = ".kale-runs"


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
