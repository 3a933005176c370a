"""Step start: what the step runtime adds to a bare ``python -c pass``.

- wall: median over interleaved runs of (a) ``python -c pass``, (b) importing the step runtime, and
  (c) ``python -m kale_argo.runtime`` running a trivial step of a script that imports kale_argo
  (import the script, call the function, save its int output with fsync, write the step record).
- ``-X importtime``: the summed self time of the modules the step imports that bare python does
  not; and the check that hera, kubernetes, pydantic and yaml are never among them.
Target: the runtime's own imports add at most 60 ms.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from common import Row, emit, main_args, spread_of  # noqa: E402

from kale_argo.runtime.contract import step_argv  # noqa: E402

DATA = HERE / ".data" / f"startup-{os.getpid()}"  # per process: smoke runs may overlap
BUDGET = 0.060
FORBIDDEN = ("hera", "kubernetes", "pydantic", "yaml")
SCRIPT = "from kale_argo import pipeline, step\n\n\n@step\ndef noop():\n    return 1\n"
IMPORTS = "import kale_argo.runtime.__main__, kale_argo.runtime.step, kale_argo.runtime.marshal"
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, cwd=str(DATA))
    return time.perf_counter() - start


def import_times(argv: list[str]) -> dict[str, int]:
    """Module -> self import time in microseconds, from ``-X importtime``."""
    proc = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], check=True, capture_output=True,
                          text=True, cwd=str(DATA))
    return {m.group(4): int(m.group(1)) for m in map(_LINE.match, proc.stderr.splitlines()) if m}


def main() -> None:
    args = main_args(__doc__.splitlines()[0])
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    try:
        (DATA / "noop_script.py").write_text(SCRIPT)
        call = {"step": "noop", "function": "noop", "args": [], "kwargs": {}, "outputs": ["one"],
                "unpack": False, "params": {}}
        commands = {
            "bare": [sys.executable, "-c", "pass"],
            "imports": [sys.executable, "-c", IMPORTS],
            "step": step_argv(python=sys.executable, script=str(DATA / "noop_script.py"),
                              marshal_dir=str(DATA / "marshal"), call=call, params={}),
        }
        for argv in commands.values():  # warm the page cache and the bytecode caches
            wall(argv)
        runs = max(1, args.repeat) * 4
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, argv in commands.items():
                times[name].append(wall(argv))
        med = {name: statistics.median(t) for name, t in times.items()}
        bare = import_times(commands["bare"])
        step = import_times(commands["step"])
        extra = {m: us for m, us in step.items() if m not in bare}
        own_ms = sum(extra.values()) / 1e6
        heavy = sorted({m.split(".")[0] for m in step} & set(FORBIDDEN))
        top = ", ".join(f"{m} {us / 1000:.1f}" for m, us in
                        sorted(extra.items(), key=lambda kv: -kv[1])[:4])
    finally:
        shutil.rmtree(DATA, ignore_errors=True)
    rows = [
        Row("trivial step (python -m kale_argo.runtime) vs python -c pass, wall", med["step"],
            med["bare"], "s", "<= +60 ms", med["step"] - med["bare"] <= BUDGET,
            f"+{(med['step'] - med['bare']) * 1000:.0f} ms", spread_of(times["step"], times["bare"])),
        Row("import of the step runtime vs python -c pass, wall", med["imports"], med["bare"], "s",
            "<= +60 ms", med["imports"] - med["bare"] <= BUDGET,
            f"+{(med['imports'] - med['bare']) * 1000:.0f} ms",
            spread_of(times["imports"], times["bare"])),
        Row("step's own imports (-X importtime self time beyond bare python) vs budget", own_ms, BUDGET,
            "s", "<= 60 ms", own_ms <= BUDGET and not heavy,
            f"{len(extra)} modules; top (ms): {top}; hera/kubernetes/pydantic/yaml imported: "
            f"{', '.join(heavy) or 'none'}"),
    ]
    emit(rows, args)


if __name__ == "__main__":
    main()
