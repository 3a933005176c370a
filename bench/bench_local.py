"""Local runs: trivial steps through ``run_local``, and the seed example against Kale's in-process way.

The step cache is off in every run (``cache=False``, ``--no-cache``): each step runs, as Kale's do;
a run in which a step came from the cache fails the benchmark.

- the seed example (``examples/binary_classification.py``: numpy + scikit-learn) run by
  ``kale-argo run`` as a whole command vs the same four functions called in one process with Kale's
  marshalling between them (``bench/kale_inprocess.py``, also a whole command): <= 1.5x. Each step
  still runs in its own process through the step runtime; warm starts (the default) fork it from a
  server that imported the libraries once. The same run with ``--no-warm-start`` (every step a new
  Python that imports scikit-learn again) is given in the note.
- a 20-step chain inside the run (``run_local``) and as a whole command (``kale-argo run``), with
  warm starts and without, vs twenty bare step-runtime starts (``python -c "import
  kale_argo.runtime"``, one after another): <= 1.3x; a 16-way fan-out at ``--jobs 2`` vs
  ``--jobs 1``: <= 0.6x. Warm runs inside a process either start a new fork server (the one the
  last run kept is ended first, untimed) or use the kept one (a notebook's next run). The fan-out
  is also run by ``kale-argo run``, as whole commands and as the run inside the command (the
  application layer's ``run``, as the command calls it, timed in its process), and by a new
  process's first ``Pipeline.run()`` (the run inside it, timed the same way): both start the fork
  server before they import the IR and trace the pipeline. Beside them, the machine's floor for
  that ratio (``process_shape.py``): the fan-out's processes with no work in them, alternated
  with the rest.

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
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import Row, emit, main_args, paired_samples, samples_row, spread_of

from kale_argo.local import end_kept_server, run_local
from kale_argo.local.executor import step_commands
from kale_argo.local.warm import kept_for
from kale_argo.sdk.loader import load_pipeline

# Why a step started as a new process costs more than a bare start of the runtime's package.
COLD_STEP = ("beyond a bare start each step imports the rest of the runtime (~15-20 ms), forks its "
             "supervised worker, imports the script, saves its value and record with fsync; warm "
             "starts avoid the imports")
KALE_ARGO = os.path.join(os.path.dirname(sys.executable), "kale-argo")
BENCH = Path(__file__).resolve().parent
# The application layer's ``run`` timed inside a new process: the seconds follow RUN_SECONDS on
# stderr. TIMED_COMMAND runs `kale-argo` as its console script does; TIMED_API the first
# ``Pipeline.run()`` of the process (argv: the script, the pipeline's name, --jobs, the marshal dir).
RUN_SECONDS = "run-seconds:"
TIMED_RUN = f"""
import sys, time
from kale_argo.app import running
untimed = running.run

def run(*args, **kwargs):
    start = time.perf_counter()
    try:
        return untimed(*args, **kwargs)
    finally:
        print("{RUN_SECONDS}", time.perf_counter() - start, file=sys.stderr)

running.run = run
"""
TIMED_COMMAND = TIMED_RUN + """
from kale_argo.cli.main import main
sys.argv[0] = "kale-argo"
sys.exit(main())
"""
TIMED_API = TIMED_RUN + """
import runpy
path, name, jobs, folder = sys.argv[1:]
runpy.run_path(path, run_name="pipe")[name].run(jobs=int(jobs), cache=False, marshal_dir=folder)
"""
EXAMPLE = BENCH.parent / "examples" / "binary_classification.py"

HEADER = '''
from kale_argo import pipeline, step

@step(name="inc")
def inc(x):
    return x + 1

@step(name="leaf")
def leaf(i):
    return None
'''


def local(spec: Any, **options: Any) -> Any:
    """``run_local(spec)`` without the step cache, quietly; every step must have run (a cache hit
    would time the cache, not the step)."""
    run = run_local(spec, stream=io.StringIO(), cache=False, **options)
    assert not any(step.cached for step in run.steps.values()), "a step came from the step cache"
    return run


def timed_run(code: str, *args: str) -> tuple[float, float]:
    """``python -c code *args`` (TIMED_COMMAND, TIMED_API): the run inside it and the whole process's
    wall time, in seconds."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    return float(done.stderr.rsplit(RUN_SECONDS, 1)[1].split()[0]), wall


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


def main() -> None:
    args = main_args(__doc__.splitlines()[0])
    steps = 5 if args.quick else 100
    repeat = max(args.repeat, 5)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kale-bench-local-") as tmp:
        chain = load_pipeline(write_script(tmp, "chain", steps, chain=True)).trace()
        fan = load_pipeline(write_script(tmp, "fan-out", steps, chain=False)).trace()
        counter = iter(range(10**6))

        def fresh() -> str:
            return os.path.join(tmp, f"run-{next(counter)}")

        def sequential_starts() -> None:
            for argv in step_commands(chain, {}, fresh()).values():
                subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)

        # the executor's own cost: each step the step command as a new process (no warm starts)
        chains = paired_samples({
            "ours": lambda: local(chain, jobs=2, marshal_dir=fresh(), warm_start=False),
            "reference": sequential_starts}, repeat)
        rows.append(samples_row(f"local chain of {steps} steps, --no-warm-start, vs the same {steps} "
                                "step commands run one after another", chains, "ours", "reference", 1.3))

        busy: list[float] = []

        def fan_with(jobs: int) -> float:
            start = time.perf_counter()
            run = local(fan, jobs=jobs, marshal_dir=fresh(), warm_start=False)
            wall = time.perf_counter() - start
            if jobs == 2:
                busy.append(sum(s.duration or 0 for s in run.steps.values()) / (wall * jobs))
            return wall

        fans = paired_samples({"two": lambda: fan_with(2), "one": lambda: fan_with(1)}, repeat)
        rows.append(samples_row(f"local fan-out of {steps} steps, --no-warm-start, --jobs 2 vs --jobs 1",
                                fans, "two", "one", 0.6,
                                f"{os.cpu_count()} CPUs shared with the machine's other load"))
        occupancy = statistics.median(busy)
        rows.append(Row(f"local fan-out of {steps} steps, --no-warm-start: share of the run both "
                        "--jobs 2 slots run a step", occupancy, 1.0, "", ">= 0.9", occupancy >= 0.9,
                        "sum of step wall times / (run wall time x jobs)",
                        spread_of(busy, [1.0], "")))
    rows += step_start_rows(args.quick, repeat)
    rows.append(seed_example_row(args.quick, repeat))
    emit(rows, args)


def step_start_rows(quick: bool, repeat: int) -> list[Row]:
    """The 20-step chain against 20 bare step-runtime starts, and the 16-way fan-out: warm starts
    from a new fork server each run (a process's first run), from the server the process kept from
    its last run (a notebook's next ``Pipeline.run()``), from the server `kale-argo run` started
    before it traced the script, and cold."""
    steps, width = (3, 4) if quick else (20, 16)
    bare = [sys.executable, "-c", "import kale_argo.runtime"]
    with tempfile.TemporaryDirectory(prefix="kale-bench-starts-") as tmp:
        script = write_script(tmp, "chain20", steps, chain=True)
        chain = load_pipeline(script).trace()
        fan_script = write_script(tmp, "fan16", width, chain=False)
        fan = load_pipeline(fan_script).trace()
        counter = iter(range(10**6))

        def fresh() -> str:
            return os.path.join(tmp, f"run-{next(counter)}")

        def starts() -> None:
            for _ in range(steps):
                subprocess.run(bare, check=True)

        def inside(spec: Any, jobs: int, warm: str) -> float:
            """One run's wall time; ``warm``: "new" (the kept server ended first, untimed), "kept"
            (the server the last run of ``spec`` kept, run untimed first if there is none) or
            "cold"."""
            if warm == "new":
                end_kept_server()
            elif warm == "kept" and not kept_for(spec.script.path):
                local(spec, jobs=jobs, marshal_dir=fresh())
            start = time.perf_counter()
            local(spec, jobs=jobs, marshal_dir=fresh(), warm_start=warm != "cold")
            return time.perf_counter() - start

        def command(*flags: str) -> None:
            subprocess.run([KALE_ARGO, "run", script, "--no-cache", *flags, "--marshal-dir", fresh()],
                           check=True, capture_output=True)

        walls: dict[int, list[float]] = {1: [], 2: []}

        def fan_command(jobs: int) -> float:
            """`kale-argo run` of the fan-out: the run inside the command (the application layer's
            ``run``, timed in the command's process) returned, the whole command's wall time noted
            in ``walls``."""
            run, wall = timed_run(TIMED_COMMAND, "run", fan_script, "--no-cache", "--jobs", str(jobs),
                                  "--marshal-dir", fresh())
            walls[jobs].append(wall)
            return run

        def fan_api(jobs: int) -> float:
            """A new process's first ``Pipeline.run()`` of the fan-out: the run inside it."""
            return timed_run(TIMED_API, fan_script, "fan16", str(jobs), fresh())[0]

        def shape(jobs: int) -> float:
            """The fan-out's processes with no work in them (``process_shape.py``): the floor."""
            done = subprocess.run([sys.executable, str(BENCH / "process_shape.py"), str(width), str(jobs)],
                                  check=True, capture_output=True, text=True)
            return float(done.stdout)

        samples = paired_samples({
            "inside": lambda: inside(chain, 2, "new"), "inside kept": lambda: inside(chain, 2, "kept"),
            "inside cold": lambda: inside(chain, 2, "cold"),
            "command": command, "command cold": lambda: command("--no-warm-start"),
            "bare": starts}, repeat)
        fans = paired_samples({
            "two": lambda: inside(fan, 2, "new"), "one": lambda: inside(fan, 1, "new"),
            "two kept": lambda: inside(fan, 2, "kept"), "one kept": lambda: inside(fan, 1, "kept"),
            "two cold": lambda: inside(fan, 2, "cold"), "one cold": lambda: inside(fan, 1, "cold"),
            "two command": lambda: fan_command(2), "one command": lambda: fan_command(1),
            "two api": lambda: fan_api(2), "one api": lambda: fan_api(1),
            "two shape": lambda: shape(2), "one shape": lambda: shape(1)},
            2 * repeat)  # runs of 0.1-0.4 s: twice the samples, for steadier medians
        end_kept_server()
    cpus = f"{os.cpu_count()} CPUs shared with the machine's other load"
    forked = ("a forked trivial step costs ~5.5-6 ms of CPU over its two processes (the step and "
              "its supervised worker, each copying the pages it writes)")
    return [
        samples_row(f"local chain of {steps} trivial steps, inside the run, vs {steps} bare "
                    "step-runtime starts", samples, "inside", "bare", 1.3,
                    "each step its own supervised process (forked from the run's new server), run "
                    "key, fsynced values and record"),
        samples_row(f"local chain of {steps} trivial steps, the process's next run (its kept fork "
                    f"server), vs {steps} bare step-runtime starts", samples, "inside kept", "bare",
                    1.3, "as a notebook's next Pipeline.run(): the server the last run kept"),
        samples_row(f"local chain of {steps} trivial steps, inside the run, --no-warm-start, vs "
                    f"{steps} bare step-runtime starts", samples, "inside cold", "bare", 1.3,
                    f"each step a new Python process, as in a pod: {COLD_STEP}"),
        samples_row(f"local chain of {steps} trivial steps, `kale-argo run` as a whole command, vs "
                    f"{steps} bare step-runtime starts", samples, "command", "bare", 1.3,
                    "includes the CLI's own start and the script's tracing"),
        samples_row(f"local chain of {steps} trivial steps, `kale-argo run --no-warm-start` as a whole "
                    f"command, vs {steps} bare step-runtime starts", samples, "command cold", "bare", 1.3,
                    f"includes the CLI's own start and the script's tracing; {COLD_STEP}"),
        samples_row(f"local fan-out of {width} steps, a new fork server each run, --jobs 2 vs --jobs 1",
                    fans, "two", "one", 0.6,
                    f"{cpus}; {forked}; the run first starts its fork server (a new Python and "
                    "what every step imports, ~40-50 ms), which takes as long at --jobs 2 as at "
                    "--jobs 1"),
        samples_row(f"local fan-out of {width} steps, the process's next run (its kept fork server), "
                    "--jobs 2 vs --jobs 1", fans, "two kept", "one kept", 0.6,
                    f"{cpus}; {forked}; as a notebook's next Pipeline.run()"),
        samples_row(f"local fan-out of {width} steps, `kale-argo run`: the run inside the command (the "
                    "application layer's run, timed in the command), --jobs 2 vs --jobs 1", fans,
                    "two command", "one command", 0.6,
                    f"{cpus}; {forked}; the command starts the run's fork server before it imports the "
                    "IR and traces the script, so the server is ready when the run begins"),
        samples_row(f"local fan-out of {width} steps, a process's first Pipeline.run() (the Python API, "
                    "as a notebook's first run): the run inside it, --jobs 2 vs --jobs 1", fans,
                    "two api", "one api", 0.6,
                    f"{cpus}; {forked}; Pipeline.run() starts the run's fork server before it imports "
                    "the IR and traces the pipeline, so the server is ready when the run begins"),
        samples_row(f"local fan-out of {width} steps, `kale-argo run` as whole commands, --jobs 2 vs "
                    "--jobs 1", {"two": walls[2], "one": walls[1]}, "two", "one", 0.6,
                    "the command's own start (Python, its imports, the IR, tracing: ~0.18 s) is the same "
                    "at both and longer than the steps' 0.13-0.15 s at --jobs 1"),
        samples_row(f"local fan-out of {width} steps, --no-warm-start, --jobs 2 vs --jobs 1", fans,
                    "two cold", "one cold", 0.6, cpus),
        Row(f"the machine's floor: the {width}-step fan-out's processes with no work in them (a "
            "process holding the step runtime forks each step, which forks its worker and waits; "
            "both exit at once), --jobs 2 vs --jobs 1", statistics.median(fans["two shape"]),
            statistics.median(fans["one shape"]), "s", "figure (reported)", True,
            "bench/process_shape.py: nothing of kale-argo's runs in these processes; what creating, "
            "copying and ending them costs on this machine, and how that scales to its two CPUs",
            spread_of(fans["two shape"], fans["one shape"])),
    ]


def seed_example_row(quick: bool, repeat: int) -> Row:
    """The seed example: `kale-argo run` (warm starts, and cold in the note) vs Kale's in-process way."""
    repeat = 1 if quick else repeat
    with tempfile.TemporaryDirectory(prefix="kale-bench-seed-") as tmp:
        counter = iter(range(10**6))

        def fresh() -> str:
            return os.path.join(tmp, f"run-{next(counter)}")

        ours = [KALE_ARGO, "run", str(EXAMPLE), "--no-cache"]  # every step runs, as Kale's do
        samples = paired_samples({
            "warm": lambda: subprocess.run([*ours, "--marshal-dir", fresh()], check=True,
                                           capture_output=True),
            "kale": lambda: subprocess.run([sys.executable, str(BENCH / "kale_inprocess.py"), fresh()],
                                           check=True, capture_output=True),
            "cold": lambda: subprocess.run([*ours, "--no-warm-start", "--marshal-dir", fresh()], check=True,
                                           capture_output=True)}, repeat)
    cold, kale = statistics.median(samples["cold"]), statistics.median(samples["kale"])
    return samples_row(
        "seed example (numpy + scikit-learn, 4 steps), `kale-argo run` vs the same functions in one "
        "process with Kale's marshalling", samples, "warm", "kale", 1.5,
        f"whole commands; each step its own process, forked from a per-run server that imported the "
        f"libraries once; --no-warm-start: {cold:.3g} s median ({cold / kale:.2f}x), every step "
        f"importing scikit-learn again")


if __name__ == "__main__":
    main()
