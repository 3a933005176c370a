"""Fan-outs and conditions compiled to Argo, rehearsed as the controller would run them: a valid
Workflow (schema and submit-time rules), then each task's pods run with a Python that does NOT
have kale-argo installed, the ``withParam`` lists and ``when`` expressions resolved from the
output parameters the earlier pods wrote, as Argo substitutes them."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kale_argo import app
from kale_argo.argo import compile_manifests
from kale_argo.argo.bundle import CODE_DIR
from kale_argo.argo.flow import OUTPUT_DIR
from kale_argo.errors import UserError
from kale_argo.runtime import marshal
from tests.fakes.drivers import argo_driver
from tests.integration.test_compile_pods import bare_python, mount_code
from tests.integration.test_flow_local import FLOW, LITERAL, NESTED
from tests.unit.test_argo_pipelines import tasks, trace_script, write_script
from tests.workflow_checks import check_workflow

VARIABLE = re.compile(r"\{\{([^{}=]+)\}\}")


def _govaluate(expr: str) -> bool:
    """A substituted ``when`` (comparisons of literals, && and ||) evaluated as govaluate does."""
    python = expr.replace("&&", " and ").replace("||", " or ")
    python = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", python))
    return bool(eval(python, {"__builtins__": {}}))  # literals and operators only


def rehearse(docs: list[dict[str, Any]], root: Path, python: str) -> dict[str, list[str]]:
    """Run the Workflow's DAG: returns each task's outcome, ``["Skipped"]`` or its pods' stdout."""
    manifest = docs[-1]
    templates = {t["name"]: t for t in manifest["spec"]["templates"]}
    code, marshal_root = root / "code", root / "marshal"
    mount_code(docs, code)
    (root / "cwd").mkdir()
    paths = {CODE_DIR: str(code), "/marshal": str(marshal_root), "{{workflow.uid}}": "uid"}
    scope = {f"workflow.parameters.{p['name']}": p["value"]
             for p in manifest["spec"]["arguments"]["parameters"]}

    def substitute(text: str, extra: dict[str, str] | None = None) -> str:
        values = {**scope, **(extra or {})}
        return VARIABLE.sub(lambda found: values.get(found.group(1), found.group(0)), text)

    outcome: dict[str, list[str]] = {}
    for task in tasks(manifest):
        needed = re.findall(r"([-a-z0-9]+)\.Succeeded", task.get("depends") or "")
        if any(outcome[d][:1] in (["Skipped"], ["Omitted"]) for d in needed):
            outcome[task["name"]] = ["Omitted"]  # Argo: the depends expression does not hold
            continue
        if task.get("when") and not _govaluate(substitute(task["when"])):
            outcome[task["name"]] = ["Skipped"]
            continue
        args = {p["name"]: substitute(p["value"]) for p in task["arguments"]["parameters"]}
        target = templates[task["template"]]
        loop, inputs = task, {}
        if "dag" in target:  # a fan-out with a parallelism limit: its one inner task
            (loop,) = target["dag"]["tasks"]
            inputs = {f"inputs.parameters.{k}": v for k, v in args.items()}
            args = {p["name"]: substitute(p["value"], inputs) for p in loop["arguments"]["parameters"]}
            target = templates[loop["template"]]
        items = json.loads(substitute(loop["withParam"], inputs)) if "withParam" in loop else [None]
        outcome[task["name"]] = []
        for i, item in enumerate(items):
            given = {f"inputs.parameters.{k}": v.replace("{{item}}", str(item)) for k, v in args.items()}
            out_dir = root / "outputs" / f"{task['name']}-{i}"
            local = {**paths, OUTPUT_DIR: str(out_dir)}

            def here(text: str, local: dict[str, str] = local) -> str:
                for pod_path, path in local.items():
                    text = text.replace(pod_path, path)
                return text

            container = target["container"]
            argv = [here(substitute(a, given)) for a in container["command"]]
            env = {e["name"]: here(e["value"]) for e in container["env"]}
            proc = subprocess.run([python, *argv[1:]], env=env, cwd=root / "cwd", capture_output=True,
                                  text=True, timeout=120)
            assert proc.returncode == 0, f"{task['name']}[{i}]: {proc.stdout}{proc.stderr}"
            outcome[task["name"]].append(proc.stdout)
            for p in (target.get("outputs") or {}).get("parameters") or []:
                value = Path(here(p["valueFrom"]["path"])).read_text()
                scope[f"tasks.{task['name']}.outputs.parameters.{p['name']}"] = value
    return outcome


@pytest.mark.parametrize(("threshold", "deployed"), [(3.0, True), (4.0, False)])
def test_compiled_fan_out_and_condition_run_in_bare_pods(
        tmp_path: Path, threshold: float, deployed: bool) -> None:
    python = bare_python()
    spec = trace_script(write_script(tmp_path, FLOW, "flow.py"))
    docs = compile_manifests(spec, {"n": "3", "threshold": str(threshold)})
    check_workflow(docs[-1])
    outcome = rehearse(docs, tmp_path, python)
    assert len(outcome["train"]) == 3  # one pod per element of a list made at run time
    assert "scores [0.0, 2.0, 4.0]" in outcome["evaluate"][0]
    folder = str(tmp_path / "marshal" / "uid")
    assert [marshal.load(folder, f"scores.{i}") for i in range(3)] == [0.0, 2.0, 4.0]
    if deployed:
        assert "deploying 4.0" in outcome["deploy"][0] and "announced 4.0" in outcome["announce"][0]
    else:
        assert outcome["deploy"] == outcome["announce"] == ["Skipped"]


def test_compiled_empty_fan_out_gives_the_consumer_an_empty_list(tmp_path: Path) -> None:
    python = bare_python()
    spec = trace_script(write_script(tmp_path, FLOW, "flow.py"))
    docs = compile_manifests(spec, {"n": "0"})
    outcome = rehearse(docs, tmp_path, python)
    assert outcome["train"] == []
    assert "scores []" in outcome["evaluate"][0]


def test_compiled_fan_out_shapes(tmp_path: Path) -> None:
    """A literal list and a limit without a wrapper; a parameter's list through an expression;
    a condition over a str parameter quoted for govaluate."""
    spec = trace_script(write_script(tmp_path, LITERAL, "literal.py"))
    manifest = compile_manifests(spec, {})[-1]
    check_workflow(manifest)
    by_name = {t["name"]: t for t in tasks(manifest)}
    templates = {t["name"]: t for t in manifest["spec"]["templates"]}
    square = templates[by_name["square"]["template"]]
    assert square["parallelism"] == 1
    assert square["dag"]["tasks"][0]["withParam"] == "{{inputs.parameters.items}}"
    assert by_name["square"]["arguments"]["parameters"] == [{"name": "items", "value": "[0, 1, 2]"}]
    assert by_name["label"]["withParam"] == (
        "{{=toJson(sprig.until(len(jsonpath(workflow.parameters.names, '$'))))}}")
    assert by_name["report"]["when"] == (
        "('{{workflow.parameters.mode}}' == 'full') || ({{workflow.parameters.offset}} > 5)")


def test_pods_run_a_literal_fan_out(tmp_path: Path) -> None:
    python = bare_python()
    spec = trace_script(write_script(tmp_path, LITERAL, "literal.py"))
    with pytest.raises(UserError, match=r"parameter 'mode' \(\"it's\"\) is compared in the condition"):
        compile_manifests(spec, {"mode": "it's"})
    docs = compile_manifests(spec, {"mode": "quick"})
    manifest = docs[-1]
    # the parameter's list comes from an Argo expression: resolve it as Argo would for this test
    for task in tasks(manifest):
        if task["name"] == "label":
            task["withParam"] = "[0, 1]"
    outcome = rehearse(docs, tmp_path, python)
    assert len(outcome["square"]) == 3 and outcome["report"] == ["Skipped"]
    folder = str(tmp_path / "marshal" / "uid")
    assert [marshal.load(folder, f"labels.{i}") for i in range(2)] == ["a-b", "c"]


def test_submitted_to_the_argo_server_with_its_loops_and_conditions(tmp_path: Path) -> None:
    """Through the application layer, over HTTP to the fake Argo Server, a parameter overridden."""
    spec = trace_script(write_script(tmp_path, FLOW, "flow.py"))
    driver, close = argo_driver(tmp_path)
    try:
        app.submit(spec, {"threshold": "0.5"}, app.SubmitOptions(
            workspace=app.WorkspaceOptions(mode="none")), driver.backend, out=io.StringIO())
        [stored] = driver.stored()
    finally:
        close()
    check_workflow(stored)
    by_name = {t["name"]: t for t in tasks(stored)}
    assert "withParam" in next(t for t in stored["spec"]["templates"]
                               if t["name"] == by_name["train"]["template"])["dag"]["tasks"][0]
    assert "when" in by_name["deploy"] and "when" in by_name["announce"]
    assert {"name": "threshold", "value": "0.5"}.items() <= next(
        p for p in stored["spec"]["arguments"]["parameters"] if p["name"] == "threshold").items()


CHAIN = """
from kale_argo import pipeline, step


@step(name="numbers")
def numbers(n):
    return list(range(n))


@step(name="square")
def square(x):
    return x * x


@step(name="shift")
def shift(y, by):
    return y + by


@step(name="total")
def total(shifted, squares):
    print("shifted", shifted, "squares", squares)


@pipeline(name="chain")
def chain(n=3, by=10):
    squares = square.map(numbers(n))
    shifted = shift.map(squares, by, parallelism=2)
    total(shifted, squares)
"""


def test_a_fan_out_over_a_fan_outs_results_in_bare_pods(tmp_path: Path) -> None:
    """Instance N of the second fan-out takes what instance N of the first stored."""
    spec = trace_script(write_script(tmp_path, CHAIN, "chain.py"))
    docs = compile_manifests(spec, {})
    check_workflow(docs[-1])
    outcome = rehearse(docs, tmp_path, bare_python())
    assert len(outcome["shift"]) == 3
    assert "shifted [10, 11, 14] squares [0, 1, 4]" in outcome["total"][0]


@pytest.mark.parametrize(("x", "expected"), [
    ("1.0", {"retrain": "ran", "ship": "ran"}),
    ("0.6", {"retrain": "ran", "ship": "Skipped"}),
    ("0.1", {"retrain": "Skipped", "ship": "Omitted"}),  # its condition reads what retrain returns
])
def test_nested_conditions_in_bare_pods(tmp_path: Path, x: str, expected: dict[str, str]) -> None:
    spec = trace_script(write_script(tmp_path, NESTED, "nest.py"))
    docs = compile_manifests(spec, {"x": x})
    check_workflow(docs[-1])
    outcome = rehearse(docs, tmp_path, bare_python())
    assert {k: v[0] if v[:1] in (["Skipped"], ["Omitted"]) else "ran"
            for k, v in outcome.items() if k != "score"} == expected
