"""Fan-outs (``step.map``) and conditions (``with when(...)``) in real local runs: one process
per element through the job slots, results gathered in element order, a condition on a computed
metric both ways, Argo's semantics for empty lists and skipped steps."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

from kale_argo.local import run_local
from kale_argo.local.result import SKIPPED, SUCCEEDED
from kale_argo.sdk.loader import load_pipeline

FLOW = '''
from kale_argo import pipeline, step, when


@step(name="make_configs")
def make_configs(n):
    return [{"c": i} for i in range(n)]


@step(name="train", parallelism=2)
def train(config, scale):
    import time
    time.sleep(0.2)
    return config["c"] * scale


@step(name="evaluate")
def evaluate(scores):
    print("scores", scores)
    return max(scores, default=0.0), len(scores)


@step(name="deploy")
def deploy(best):
    print("deploying", best)
    return best


@step(name="announce")
def announce(model):
    print("announced", model)


@pipeline(name="flow")
def flow(n=4, scale=2.0, threshold=5.0):
    configs = make_configs(n)
    scores = train.map(configs, scale=scale)
    accuracy, count = evaluate(scores)
    with when(accuracy > threshold):
        model = deploy(accuracy)
        announce(model)
'''


NESTED = '''
from kale_argo import pipeline, step, when


@step(name="score")
def score(x):
    return x


@step(name="retrain")
def retrain(s):
    return s * 2


@step(name="ship")
def ship(r):
    print("shipping", r)


@pipeline(name="nest")
def nest(x=1.0, outer=0.5, inner=1.5):
    s = score(x)
    with when(s > outer):
        r = retrain(s)
        with when(r > inner):
            ship(r)
'''


def _run(path: Path, tmp_path: Path, name: str, **params: object) -> tuple[object, str]:
    out = io.StringIO()
    run = run_local(load_pipeline(str(path)).trace(), params, jobs=4,
                    marshal_dir=str(tmp_path / name), stream=out, warm_start=False)
    return run, out.getvalue()


def _most_at_once(log: str, prefix: str) -> int:
    running, most = 0, 0
    for line in log.splitlines():
        if re.match(rf"\[{prefix}\[\d+\]\] started", line):
            running += 1
            most = max(most, running)
        elif re.match(rf"\[{prefix}\[\d+\]\] succeeded", line):
            running -= 1
    return most


def test_fan_out_over_a_list_made_at_run_time_and_a_condition_that_holds(
        make_script: Callable[..., Path], tmp_path: Path) -> None:
    run, log = _run(make_script(FLOW), tmp_path, "yes")
    steps = run.steps  # type: ignore[attr-defined]
    assert [s for s in steps if s.startswith("train[")] == [f"train[{i}]" for i in range(4)]
    assert all(s.status == SUCCEEDED for s in steps.values())
    assert "[evaluate] scores [0.0, 2.0, 4.0, 6.0]" in log  # gathered in element order
    assert _most_at_once(log, "train") == 2  # @step(parallelism=2) although --jobs 4
    assert "[deploy] deploying 6.0" in log and "[announce] announced 6.0" in log
    assert run.load("scores") == [0.0, 2.0, 4.0, 6.0]  # type: ignore[attr-defined]


def test_a_false_condition_skips_the_steps_under_it_and_the_run_succeeds(
        make_script: Callable[..., Path], tmp_path: Path) -> None:
    run, log = _run(make_script(FLOW), tmp_path, "no", threshold=10.0)
    steps = run.steps  # type: ignore[attr-defined]
    assert steps["evaluate"].status == SUCCEEDED
    assert steps["deploy"].status == SKIPPED and steps["announce"].status == SKIPPED
    assert steps["deploy"].error == "condition false: accuracy > threshold"
    assert "deploying" not in log and "[deploy] skipped: accuracy > threshold is false" in log
    assert run.succeeded  # type: ignore[attr-defined]
    assert "condition false: accuracy > threshold" in log  # the summary says why


def test_an_empty_fan_out_succeeds_with_no_instances_and_gives_an_empty_list(
        make_script: Callable[..., Path], tmp_path: Path) -> None:
    run, log = _run(make_script(FLOW), tmp_path, "empty", n=0)
    steps = run.steps  # type: ignore[attr-defined]
    assert steps["train"].status == SUCCEEDED  # as Argo: a task group without children
    assert not [s for s in steps if s.startswith("train[")]
    assert "[evaluate] scores []" in log
    assert run.load("scores") == []  # type: ignore[attr-defined]
    assert steps["deploy"].status == SKIPPED


LITERAL = '''
from kale_argo import pipeline, step, when


@step(name="square")
def square(x, offset):
    return x * x + offset


@step(name="label")
def label(item, sep):
    return sep.join(item)


@step(name="report")
def report(squares, labels, mode):
    print("report", squares, labels, mode)


@pipeline(name="literal")
def literal(names='[["a", "b"], ["c"]]', mode="full", offset=1):
    squares = square.map([1, 2, 3], offset=offset, parallelism=1)
    labels = label.map(names, "-")
    with when((mode == "full") | (offset > 5)):
        report(squares, labels, mode)
'''


def test_fan_out_over_a_literal_and_a_parameter_from_the_python_api(
        make_script: Callable[..., Path], tmp_path: Path) -> None:
    pipe = load_pipeline(str(make_script(LITERAL)))
    handle = pipe.run(marshal_dir=str(tmp_path / "api"), warm_start=False)
    assert handle.load("squares") == [2, 5, 10]
    assert handle.load("labels") == ["a-b", "c"]
    assert "labels" in handle.names()
    phases = {row.name: row.phase for row in handle.steps}
    assert phases["report"] == "Succeeded" and phases["square[2]"] == "Succeeded"
    skipped = pipe.run(marshal_dir=str(tmp_path / "api2"), warm_start=False, mode="quick")
    assert {row.name: row.phase for row in skipped.steps}["report"] == "Skipped"
    assert skipped.status() == "Succeeded"


def test_from_the_command_line_and_as_a_script(make_script: Callable[..., Path], run_cli: Callable[
        ..., object], run_python: Callable[..., object], call_cli: Callable[..., object],
        tmp_path: Path) -> None:
    script = make_script(FLOW + '\nif __name__ == "__main__":\n    flow()\n', "flow_cli.py")
    proc = run_cli("run", script, "-p", "n=2", "-p", "threshold=0.5", "--jobs", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # type: ignore[attr-defined]
    assert "[deploy] deploying 2.0" in proc.stdout  # type: ignore[attr-defined]
    assert re.search(r"train\[1\]\s+succeeded", proc.stdout)  # type: ignore[attr-defined]
    proc = run_python(script, "-p", "threshold=99")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # type: ignore[attr-defined]
    assert re.search(r"deploy\s+skipped\s+-\s+condition false: accuracy > threshold",
                     proc.stdout)  # type: ignore[attr-defined]
    graph = call_cli("graph", script)
    assert "train [map]  <- each of configs" in graph.stdout  # type: ignore[attr-defined]
    out = tmp_path / "flow.yaml"
    assert call_cli("compile", script, "-o", str(out)).returncode == 0  # type: ignore[attr-defined]
    assert "withParam: '{{inputs.parameters.items}}'" in out.read_text()


def test_a_step_whose_condition_reads_a_skipped_steps_value_is_skipped_too(
        make_script: Callable[..., Path], tmp_path: Path) -> None:
    run, log = _run(make_script(NESTED), tmp_path, "nested", x=0.1)
    steps = run.steps  # type: ignore[attr-defined]
    assert "[ship] skipped: it depends on what skipped step 'retrain' returns" in log
    assert steps["retrain"].error == "condition false: s > outer"
    assert steps["ship"].status == SKIPPED and steps["ship"].error == "omitted: step 'retrain' was skipped"
    assert run.succeeded  # type: ignore[attr-defined]
