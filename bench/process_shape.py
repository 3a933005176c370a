"""The process shape of a warm-started local run with no work in it: the machine's floor.

``python process_shape.py STEPS JOBS`` imports what a fork server holds for trivial steps (the step
runtime, its marshalling), freezes it for the collector as the server does, then runs ``STEPS``
"steps", at most ``JOBS`` at once: each is forked from this process, forks its "worker" and waits
for it, and both exit at once (``os._exit``), as a forked step and its supervised worker do after
their work. Prints the seconds that took. Nothing of kale-argo's runs in the steps: the figure is
what process creation, copy-on-write and teardown cost on this machine, and how they scale.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
HELD = ("kale_argo.runtime.step", "kale_argo.runtime.supervise", "kale_argo.runtime.marshal.files")


def step() -> None:
    """A step's process: fork the worker, wait for it, exit."""
    if os.fork() == 0:
        os._exit(0)
    os.wait()
    os._exit(0)


def run(steps: int, jobs: int) -> float:
    """Seconds to run ``steps`` steps, at most ``jobs`` at once."""
    start = time.perf_counter()
    started = running = 0
    while started < steps or running:
        while running < jobs and started < steps:
            if os.fork() == 0:
                step()
            started += 1
            running += 1
        os.wait()
        running -= 1
    return time.perf_counter() - start


if __name__ == "__main__":
    for module in HELD:  # what the fork server imports for its steps
        importlib.import_module(module)
    gc.freeze()
    run(2, 2)  # untimed warm-up: the timed forks come from a process that has forked before
    print(run(int(sys.argv[1]), int(sys.argv[2])))
