"""Fan-outs and conditions on Argo: the compiled tasks (withParam, when, exported output
parameters) and how a run's nodes read back as steps (instances as train[N], skipped steps)."""

from __future__ import annotations

from pathlib import Path

from kale_argo.argo import compile_dict
from kale_argo.cluster.status import planned_steps, steps
from kale_argo.views.graph import dag_of_workflow, render_graph
from kale_argo.views.svg import render_svg
from tests.integration.test_flow_local import FLOW
from tests.unit.test_argo_pipelines import tasks, trace_script, write_script
from tests.workflow_checks import check_workflow


def _compiled(tmp_path: Path) -> dict:
    manifest = compile_dict(trace_script(write_script(tmp_path, FLOW, "flow.py")))
    check_workflow(manifest)
    return manifest


def test_fan_out_and_condition_tasks(tmp_path: Path) -> None:
    manifest = _compiled(tmp_path)
    by_name = {t["name"]: t for t in tasks(manifest)}
    templates = {t["name"]: t for t in manifest["spec"]["templates"]}
    assert by_name["train"]["arguments"]["parameters"] == [
        {"name": "items", "value": "{{tasks.make-configs.outputs.parameters.configs-items}}"}]
    inner = templates[by_name["train"]["template"]]
    assert inner["parallelism"] == 2  # @step(parallelism=2)
    train = templates[inner["dag"]["tasks"][0]["template"]]
    assert train["container"]["command"][-2:] == ["--item", "{{inputs.parameters.item}}"]
    assert by_name["deploy"]["when"] == (
        "{{tasks.evaluate.outputs.parameters.accuracy}} > {{workflow.parameters.threshold}}")
    evaluate = templates[by_name["evaluate"]["template"]]
    assert evaluate["outputs"]["parameters"] == [
        {"name": "accuracy", "valueFrom": {"path": "/tmp/kale-outputs/accuracy"}}]
    assert {"name": "KALE_OUTPUT_DIR", "value": "/tmp/kale-outputs"} in evaluate["container"]["env"]


def test_workflow_checks_refuse_bad_loops_and_whens(tmp_path: Path) -> None:
    import copy

    import pytest

    manifest = _compiled(tmp_path)
    for change, message in [
        (lambda t: t.update(when="{{tasks.evaluate.outputs.parameters.accuracy}} >"), "incomplete"),
        (lambda t: t.update(when="{{tasks.evaluate.outputs.parameters.nope}} > 1"),
         "has no output parameter 'nope'"),
        (lambda t: t.update(withParam="not json"), "neither a JSON list nor a variable"),
        (lambda t: t["arguments"]["parameters"].append({"name": "x", "value": "{{item}}"}),
         "failed to resolve {{item}}"),
    ]:
        broken = copy.deepcopy(manifest)
        (deploy,) = [t for t in tasks(broken) if t["name"] == "deploy"]
        change(deploy)
        with pytest.raises(AssertionError, match=message):
            check_workflow(broken)


def test_run_nodes_read_as_instances_and_skipped_steps(tmp_path: Path) -> None:
    manifest = _compiled(tmp_path)
    manifest["metadata"]["name"] = "flow-x1"

    def node(name: str, kind: str, phase: str, **extra: object) -> dict:
        return {"displayName": name, "name": f"flow-x1.{name}", "type": kind, "phase": phase,
                "templateName": "t", **extra}

    manifest["status"] = {"nodes": {
        "a": node("make-configs", "Pod", "Succeeded"),
        "g": node("train", "TaskGroup", "Succeeded", children=["b", "c"]),
        "b": node("train(0:0)", "Pod", "Succeeded"), "c": node("train(1:1)", "Pod", "Succeeded"),
        "d": node("evaluate", "Pod", "Succeeded"),
        "e": node("deploy", "Skipped", "Skipped", message="when 'false' evaluated false"),
        "f": node("announce", "Skipped", "Skipped"),
    }}
    rows = [(s.name, s.phase) for s in planned_steps(manifest)]
    assert rows == [("make_configs", "Succeeded"), ("train[0]", "Succeeded"), ("train[1]", "Succeeded"),
                    ("evaluate", "Succeeded"), ("deploy", "Skipped"), ("announce", "Skipped")]
    assert next(s for s in steps(manifest) if s.name == "deploy").pod == ""


def test_graph_of_the_compiled_run_marks_the_fan_out_and_the_condition(tmp_path: Path) -> None:
    dag = dag_of_workflow(_compiled(tmp_path))
    text = render_graph(dag)
    svg = render_svg(dag)
    assert ">train [map]<" in svg and ">accuracy (if accuracy &gt; threshold)<" in svg
    assert "train [map]  <- each of configs" in text
    assert "evaluate  <- scores[]" in text
    assert "deploy  <- accuracy  if accuracy > threshold" in text



BARE = '''
from kale_argo import pipeline, step, when


@step(name="check")
def check(x):
    return x > 1


@step(name="act")
def act(x):
    return x


@pipeline(name="bare")
def bare(x=2, enabled=True):
    ok = check(x)
    with when(ok):
        with when(enabled):
            act(x)
'''


def test_a_bare_output_or_parameter_is_compared_with_true(tmp_path: Path) -> None:
    spec = trace_script(write_script(tmp_path, BARE, "bare.py"))
    act = spec.step("act")
    assert act.when is not None and act.when.model_dump()["op"] == "and"
    manifest = compile_dict(spec)
    check_workflow(manifest)
    (task,) = [t for t in tasks(manifest) if t["name"] == "act"]
    assert task["when"] == ("({{tasks.check.outputs.parameters.ok}} == true) && "
                            "({{workflow.parameters.enabled}} == true)")


def test_the_ir_refuses_an_element_without_a_fan_out(tmp_path: Path) -> None:
    import pytest

    from kale_argo.spec import PipelineSpec

    data = trace_script(write_script(tmp_path, BARE, "bare.py")).model_dump()
    data["steps"][1]["args"] = [{"kind": "element"}]
    with pytest.raises(ValueError, match="a fan-out has exactly one element argument"):
        PipelineSpec.model_validate(data)


def test_a_fan_out_pipeline_publishes_as_a_valid_workflow_template(tmp_path: Path) -> None:
    from kale_argo.argo.kinds import workflow_template
    from tests.workflow_checks import check_workflow_template

    template = workflow_template(_compiled(tmp_path), "flow")
    check_workflow_template(template)
    main = next(t for t in template["spec"]["templates"] if t["name"] == template["spec"]["entrypoint"])
    assert any("when" in t for t in main["dag"]["tasks"])
