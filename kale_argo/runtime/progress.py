"""A progress line for a value that takes a while to save or load; nothing for quick ones.

Sizes are not known before a value is serialised, so the threshold is time: a save or load still
going after :data:`SLOW` seconds prints ``saving 'x'...`` then, when done, ``saved 'x' (1.2 GiB)
in 3.4s``, on stderr, which a local run prefixes with the step's name like its other output.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator

SLOW = 1.0  # seconds


def human_bytes(size: int) -> str:
    """``1536`` -> ``"1.5 KiB"``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@contextlib.contextmanager
def reported(doing: str, done: str, key: str, nbytes: Callable[[], int | None] = lambda: None,
             *, after: float = SLOW) -> Iterator[None]:
    """Around a save (``"saving", "saved"``) or load of ``key``: a line once it has taken ``after``
    seconds, and one with its size and duration when it ends."""
    start = time.monotonic()
    timer = threading.Timer(after, lambda: print(f"{doing} {key!r}...", file=sys.stderr, flush=True))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        elapsed = time.monotonic() - start
    if elapsed >= after:
        size = nbytes()
        shown = f" ({human_bytes(size)})" if size is not None else ""
        print(f"{done} {key!r}{shown} in {elapsed:.1f}s", file=sys.stderr, flush=True)
