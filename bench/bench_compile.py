"""Compile scaling: pipelines of 10, 100 and 1,000 steps, chain and fan-out.

- ours: ``compile_yaml(spec)``, the traced pipeline (IR) to the Workflow's YAML, everything included
  (options, volumes, the code bundle, validation of names and options).
- reference: Hera alone building and serialising the equivalent bare DAG: the same tasks with the
  same ``depends`` and arguments, calling as many container templates, through Hera's
  ``Workflow``/``DAG``/``Task``/``Container`` and ``Workflow.to_yaml()``.
Ours and the reference alternate (A B A B ...), each after a full garbage collection (untimed), so
neither pays for collecting the other's objects. Targets: ours <= 2x the reference at each size;
time per step at 1,000 steps <= 1.5x the time per step at 100 (linear growth); 1,000 steps (trace +
compile) < 2 s.

Hera's ``to_yaml`` dumps with PyYAML's pure-Python emitter, ours with libyaml's; the rows "to dict"
compare the two without YAML (``compile_dict`` vs Hera's ``to_dict``), for transparency.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import Row, emit, main_args, paired_samples, samples_row, spread_of, timings
from hera.workflows import DAG, Container, Parameter, Task, Workflow

from kale_argo.argo import compile_dict, compile_yaml
from kale_argo.sdk.loader import load_pipeline
from kale_argo.spec import PipelineSpec

SCRIPT = '''
from kale_argo import pipeline, step

@step(name="source")
def source(x):
    return x

@step(name="work")
def work(x):
    return x + 1

@pipeline(name="{name}")
def generated(start=1):
    v = source(start)
    for _ in range({n} - 1):
        {body}
'''


def write_script(folder: str, shape: str, n: int) -> str:
    """A pipeline of ``n`` steps: a chain (each reads the previous value) or a fan-out."""
    body = "v = work(v)" if shape == "chain" else "work(v)"
    path = os.path.join(folder, f"{shape}_{n}.py")
    Path(path).write_text(SCRIPT.format(name=f"{shape}-{n}", n=n, body=body))
    return path


def hera_bare(manifest: dict[str, Any], as_dict: bool = False) -> Any:
    """The same DAG built and serialised with Hera alone (no kale-argo code involved)."""
    spec = manifest["spec"]
    containers = [Container(name=t["name"], image=t["container"]["image"],
                            command=t["container"]["command"], inputs=[Parameter(name="call")])
                  for t in spec["templates"] if "container" in t]
    tasks = [Task(name=t["name"], template=t["template"], depends=t.get("depends"),
                  arguments=[Parameter(name="call", value=t["arguments"]["parameters"][0]["value"])])
             for t in spec["templates"][0]["dag"]["tasks"]]
    workflow = Workflow(generate_name=manifest["metadata"]["generateName"], entrypoint="main",
                        arguments=[Parameter(name="start", value="1")],
                        templates=[DAG(name="main", tasks=tasks), *containers])
    return workflow.to_dict() if as_dict else workflow.to_yaml()


def side_by_side(ours: Callable[[], Any], hera: Callable[[], Any], repeat: int
                 ) -> dict[str, list[float]]:
    """Both alternated (A B A B ...), each after a full garbage collection (untimed): neither pays
    for collecting the other's garbage."""
    gc.collect()
    return paired_samples({"ours": ours, "hera": hera}, repeat, after=gc.collect)


def main() -> None:
    args = main_args(__doc__.splitlines()[0])
    sizes = (10, 30) if args.quick else (10, 100, 1000)
    repeat = 1 if args.quick else args.repeat
    rows: list[Row] = []
    per_step: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory(prefix="kale-bench-compile-") as tmp:
        for shape in ("chain", "fanout"):
            for n in sizes:
                path = write_script(tmp, shape, n)
                spec: PipelineSpec = load_pipeline(path).trace()
                manifest = compile_dict(spec)
                samples = side_by_side(lambda spec=spec: compile_yaml(spec),
                                       lambda m=manifest: hera_bare(m), repeat)
                per_step[(shape, n)] = statistics.median(samples["ours"]) / n
                rows.append(samples_row(f"compile {shape} {n} steps vs Hera alone", samples, "ours",
                                        "hera", 2.0))
            samples = side_by_side(lambda spec=spec: compile_dict(spec),
                                   lambda m=manifest: hera_bare(m, as_dict=True), repeat)
            rows.append(samples_row(f"to dict {shape} {n} steps vs Hera alone", samples, "ours",
                                    "hera", 2.0))
            big, mid = sizes[-1], sizes[-2]
            growth = per_step[(shape, big)] / per_step[(shape, mid)]
            rows.append(Row(f"compile {shape}: time per step at {big} / at {mid}", growth, 1.0, "x",
                            "<= 1.5", growth <= 1.5, "linear growth"))
        n = sizes[-1]
        path = write_script(tmp, "chain", n)

        def trace_and_compile() -> None:
            compile_yaml(load_pipeline(path).trace())

        times = timings(trace_and_compile, repeat)
        total = statistics.median(times)
        rows.append(Row(f"trace + compile chain of {n} steps", total, 2.0, "s", "< 2 s", total < 2.0,
                        "absolute; reference = the 2 s budget", spread_of(times, [2.0])))
    emit(rows, args)


if __name__ == "__main__":
    main()
