"""Cluster-side costs (issue 15, target 6) as figures, for chains of 10, 100 and 1,000 steps.

- containers per step pod: the compiled template's init containers + its main container (Argo
  adds its own ``wait`` sidecar to every pod at run time, and an ``init`` container only for input
  artifacts, which kale-argo does not use).
- bytes of the compiled Workflow (YAML): in total, per step, and the marginal bytes one more step
  adds (between 100 and 1,000 steps; the code bundle is stored once, as a workflow parameter).
- per-step work before user code starts, measured on this machine: the init container's command
  (unpacking the code bundle from its environment variable into an empty folder, in a fresh
  Python) and the step runtime's start up to the user's function (a trivial step's whole run,
  minus a bare ``python -c pass``). Image pulls and pod scheduling are the cluster's, not measured.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_compile import write_script
from common import Row, emit, main_args, spread_of

from kale_argo.argo import compile_dict, compile_yaml
from kale_argo.local.executor import step_commands
from kale_argo.sdk.loader import load_pipeline


def figure(name: str, value: float, unit: str, note: str = "") -> Row:
    return Row(name, value, value, unit, "figure (reported)", True, note)


def wall(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    args = main_args(__doc__.splitlines()[0])
    sizes = (10, 30) if args.quick else (10, 100, 1000)
    repeat = max(args.repeat, 5)
    rows: list[Row] = []
    sizes_bytes: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="kale-bench-cluster-") as tmp:
        for n in sizes:
            spec = load_pipeline(write_script(tmp, "chain", n)).trace()
            manifest = compile_dict(spec)
            text = compile_yaml(spec)
            sizes_bytes[n] = len(text.encode())
            steps = [t for t in manifest["spec"]["templates"] if "container" in t]
            per_pod = statistics.median(1 + len(t.get("initContainers", [])) + len(t.get("sidecars", []))
                                        for t in steps)
            rows.append(figure(f"chain of {n}: containers per step pod", per_pod, "",
                               "declared (init + main); Argo adds its wait sidecar"))
            rows.append(figure(f"chain of {n}: compiled Workflow", sizes_bytes[n] / 1024, "KiB"))
            rows.append(figure(f"chain of {n}: compiled Workflow per step", sizes_bytes[n] / n / 1024,
                               "KiB", "the code bundle (once per Workflow) shared out"))
        big, mid = sizes[-1], sizes[-2]
        marginal = (sizes_bytes[big] - sizes_bytes[mid]) / (big - mid)
        rows.append(figure(f"bytes one more step adds (between {mid} and {big} steps)",
                           marginal / 1024, "KiB"))
        # the init container's command, run here against the same bundle
        params = {p["name"]: p.get("value") for p in manifest["spec"]["arguments"]["parameters"]}
        init = steps[0]["initContainers"][0]
        inits, bares, runs = [], [], []
        argv = next(iter(step_commands(spec, {"start": 1}, os.path.join(tmp, "m")).values()))
        for i in range(repeat):
            target = os.path.join(tmp, f"code-{i}")
            command = [sys.executable if c == "python" else c for c in init["command"]]
            command[-1] = command[-1].replace("/kale-code", target)
            env = {**os.environ, "KALE_BUNDLE": str(params.get("kale-bundle") or "")}
            inits.append(wall(command, env))
            bares.append(wall([sys.executable, "-c", "pass"]))
            runs.append(wall(argv))
    rows.append(Row("init container (unpack the code bundle) per step pod, vs python -c pass",
                    statistics.median(inits), statistics.median(bares), "s", "figure (reported)", True,
                    f"+{(statistics.median(inits) - statistics.median(bares)) * 1e3:.0f} ms",
                    spread_of(inits, bares)))
    rows.append(Row("step runtime before and around user code (trivial step) vs python -c pass",
                    statistics.median(runs), statistics.median(bares), "s", "figure (reported)", True,
                    f"+{(statistics.median(runs) - statistics.median(bares)) * 1e3:.0f} ms: imports, "
                    "supervisor fork, value save with fsync, record", spread_of(runs, bares)))
    emit(rows, args)


if __name__ == "__main__":
    main()
