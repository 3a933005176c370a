"""Local executor overhead (issue 6, target 7; issue 15, target 3): trivial steps through ``run_local``.

- issue 15: a 20-step chain inside the run (``run_local``) and as a whole command
  (``kale-argo run``) vs twenty bare step-runtime starts (``python -c "import kale_argo.runtime"``,
  one after another): <= 1.3x; a 16-way fan-out at ``--jobs 2`` vs ``--jobs 1``: <= 0.6x.

- chain: 100 steps, each reading the previous one's output, vs the same 100 step commands run one
  after another with ``subprocess.run`` (steps x one step-runtime start, the limit): ratio <= 1.3x.
- fan-out: 100 independent steps with ``--jobs 2`` vs ``--jobs 1``: near-linear scaling on 2 cores
  (ratio <= 0.6x), and the share of the run during which both slots hold a running step (>= 0.9):
  the scheduler starts the next step as soon as a slot frees.
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import Row, emit, main_args, paired_samples, ratio_row, samples_row

from kale_argo.local import run_local
from kale_argo.local.executor import step_commands
from kale_argo.sdk.loader import load_pipeline

HEADER = '''
from kale_argo import pipeline, step

@step(name="inc")
def inc(x):
    return x + 1

@step(name="leaf")
def leaf(i):
    return None
'''


def write_script(folder: str, name: str, steps: int, chain: bool) -> str:
    """A pipeline of ``steps`` trivial steps, chained or independent."""
    if chain:
        body = ["    x = inc(0)"] + ["    x = inc(x)"] * (steps - 1)
    else:
        body = [f"    leaf({i})" for i in range(steps)]
    text = HEADER + f'\n@pipeline(name="{name}")\ndef {name.replace("-", "_")}():\n' + "\n".join(body) + "\n"
    path = os.path.join(folder, f"{name.replace('-', '_')}.py")
    Path(path).write_text(text)
    return path


def paired_medians(first: Callable[[], None], second: Callable[[], None], repeat: int,
                   ) -> tuple[float, float]:
    """Median wall times of ``first`` and ``second``, run alternately ``repeat`` times each."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, bucket in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    args = main_args(__doc__.splitlines()[0])
    steps = 5 if args.quick else 100
    rows = []
    with tempfile.TemporaryDirectory(prefix="kale-bench-local-") as tmp:
        chain = load_pipeline(write_script(tmp, "chain", steps, chain=True)).trace()
        fan = load_pipeline(write_script(tmp, "fan-out", steps, chain=False)).trace()
        counter = iter(range(10**6))

        def fresh() -> str:
            return os.path.join(tmp, f"run-{next(counter)}")

        def ours_chain() -> None:
            run_local(chain, jobs=2, marshal_dir=fresh(), stream=io.StringIO())

        def sequential_starts() -> None:
            for argv in step_commands(chain, {}, fresh()).values():
                subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)

        # interleaved, so a change in machine load hits both sides alike
        ours, reference = paired_medians(ours_chain, sequential_starts, args.repeat)
        rows.append(ratio_row(f"local chain of {steps} steps vs {steps} sequential step starts",
                              ours, reference, 1.3))

        busy: list[float] = []

        def fan_with(jobs: int) -> None:
            start = time.perf_counter()
            run = run_local(fan, jobs=jobs, marshal_dir=fresh(), stream=io.StringIO())
            wall = time.perf_counter() - start
            if jobs == 2:
                busy.append(sum(s.duration or 0 for s in run.steps.values()) / (wall * jobs))

        two, one = paired_medians(lambda: fan_with(2), lambda: fan_with(1), args.repeat)
        rows.append(ratio_row(f"local fan-out of {steps} steps, --jobs 2 vs --jobs 1", two, one, 0.6,
                              note=f"{os.cpu_count()} CPUs shared with the machine's other load"))
        occupancy = statistics.median(busy)
        rows.append(Row(f"local fan-out of {steps} steps: share of the run both --jobs 2 slots run a step",
                        occupancy, 1.0, "", ">= 0.9", occupancy >= 0.9,
                        "sum of step wall times / (run wall time x jobs)"))
    rows += issue15_rows(args.quick, max(args.repeat, 5))
    emit(rows, args)


def issue15_rows(quick: bool, repeat: int) -> list[Row]:
    """The 20-step chain against 20 bare step-runtime starts, and the 16-way fan-out."""
    steps, width = (3, 4) if quick else (20, 16)
    bare = [sys.executable, "-c", "import kale_argo.runtime"]
    with tempfile.TemporaryDirectory(prefix="kale-bench-local15-") as tmp:
        script = write_script(tmp, "chain20", steps, chain=True)
        chain = load_pipeline(script).trace()
        fan = load_pipeline(write_script(tmp, "fan16", width, chain=False)).trace()
        counter = iter(range(10**6))

        def fresh() -> str:
            return os.path.join(tmp, f"run-{next(counter)}")

        def starts() -> None:
            for _ in range(steps):
                subprocess.run(bare, check=True)

        cli = [os.path.join(os.path.dirname(sys.executable), "kale-argo"), "run", script]
        samples = paired_samples({
            "inside": lambda: run_local(chain, jobs=2, marshal_dir=fresh(), stream=io.StringIO()),
            "command": lambda: subprocess.run([*cli, "--marshal-dir", fresh()], check=True,
                                              capture_output=True),
            "bare": starts}, repeat)
        fans = paired_samples({
            "two": lambda: run_local(fan, jobs=2, marshal_dir=fresh(), stream=io.StringIO()),
            "one": lambda: run_local(fan, jobs=1, marshal_dir=fresh(), stream=io.StringIO())},
            repeat)
    return [
        samples_row(f"local chain of {steps} trivial steps, inside the run, vs {steps} bare "
                    "step-runtime starts", samples, "inside", "bare", 1.3,
                    "each step: its own supervised process, run key, fsynced values and record"),
        samples_row(f"local chain of {steps} trivial steps, `kale-argo run` as a whole command, vs "
                    f"{steps} bare step-runtime starts", samples, "command", "bare", 1.3,
                    "includes the CLI's own start and the script's tracing"),
        samples_row(f"local fan-out of {width} steps, --jobs 2 vs --jobs 1", fans, "two", "one", 0.6,
                    f"{os.cpu_count()} CPUs shared with the machine's other load"),
    ]


if __name__ == "__main__":
    main()
