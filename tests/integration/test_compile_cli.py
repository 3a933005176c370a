"""``kale-argo compile`` and ``kale-argo graph`` as users run them (in-process, through the CLI's
``main(argv)``): output, files, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.workflow_checks import check_workflow

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.py"))

GOOD = '''
from kale_argo import pipeline, step

@step(name="load_data")
def load_data(n):
    return list(range(n))

@step(name="train")
def train(data, lr):
    return sum(data) * lr

@pipeline(name="cli-demo", experiment="cli")
def demo(n=3, lr=0.5):
    train(load_data(n), lr)
'''


def one_error_line(proc) -> str:
    # compile's warnings (an image by tag only, packages the default image lacks) may come first
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("kale-argo: error: ") and "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_compiles_to_a_valid_workflow(call_cli, example: Path) -> None:
    proc = call_cli("compile", example)
    assert proc.returncode == 0, proc.stderr
    check_workflow(list(yaml.safe_load_all(proc.stdout))[-1])


def test_compile_to_stdout_and_file(call_cli, make_script, tmp_path: Path) -> None:
    script = make_script(GOOD)
    proc = call_cli("compile", script, "-p", "n=5", "--namespace", "team", "--image", "py:3",
                   "--service-account", "runner", "--volume-claim-gc", "OnWorkflowCompletion")
    assert proc.returncode == 0, proc.stderr
    manifest = list(yaml.safe_load_all(proc.stdout))[-1]
    check_workflow(manifest)
    assert manifest["metadata"]["namespace"] == "team"
    assert manifest["spec"]["serviceAccountName"] == "runner"
    assert manifest["spec"]["volumeClaimGC"] == {"strategy": "OnWorkflowCompletion"}
    assert manifest["spec"]["arguments"]["parameters"][0] == {
        "name": "n", "value": "5", "description": "int, default 3"}
    assert {t["container"]["image"] for t in manifest["spec"]["templates"] if "container" in t} == {"py:3"}
    out = tmp_path / "out" / "wf.yaml"
    out.parent.mkdir()
    proc2 = call_cli("compile", script, "-p", "n=5", "--namespace", "team", "--image", "py:3",
                    "--service-account", "runner", "--volume-claim-gc", "OnWorkflowCompletion", "-o", out)
    assert proc2.returncode == 0, proc2.stderr
    assert out.read_text() == proc.stdout  # same input, byte-identical output
    assert [p.name for p in out.parent.iterdir()] == ["wf.yaml"]  # no temporary file left
    assert str(out) in proc2.stderr


def test_graph_formats(call_cli, make_script) -> None:
    script = make_script(GOOD)
    text = call_cli("graph", script)
    assert text.returncode == 0 and text.stdout.splitlines() == [
        "cli-demo (2 steps)", "load_data", "└── train  <- load_data_output"]
    mermaid = call_cli("graph", script, "--format", "mermaid").stdout
    assert mermaid.splitlines()[0] == "flowchart TD"
    assert '  load_data -->|"load_data_output"| train' in mermaid
    dot = call_cli("graph", script, "--format", "dot").stdout
    assert dot.startswith('digraph "cli-demo" {')
    assert '"load-data" -> "train" [label="load_data_output"];' in dot


BAD = {
    "gpu limit not a quantity": ('@step(name="a", limits={"nvidia.com/gpu": "lots"})', "",
                                 "not a Kubernetes quantity"),
    "fractional gpu": ('@step(name="a", limits={"nvidia.com/gpu": "0.5"})', "", "whole number"),
    "retry interval not a duration": ('@step(name="a", retry_count=2, retry_interval="soon")', "",
                                      "not a duration"),
    "fractional retry factor": ('@step(name="a", retry_count=2, retry_factor=1.5)', "", "whole number"),
    "image with spaces": ('@step(name="a", image="my image:1")', "", "image"),
    "marshal off, no workspace": ('@step(name="a")', "marshal_volume=False", "marshal_volume=False"),
    "bad label": ('@step(name="a", labels={"team": "not ok!"})', "", "label value"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_pipelines_fail_with_one_line(call_cli, make_script, tmp_path: Path, case: str) -> None:
    decorator, pipeline_args, message = BAD[case]
    script = make_script(f'''
from kale_argo import pipeline, step

{decorator}
def a():
    return 1

@pipeline(name="bad", {pipeline_args})
def bad():
    a()
''')
    out = tmp_path / "wf.yaml"
    proc = call_cli("compile", script, "-o", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in one_error_line(proc)
    assert not out.exists() and proc.stdout == ""


@pytest.mark.parametrize(("args", "message"), [
    (["--image", "a b"], "image 'a b'"),
    (["-p", "nope=1"], "no parameter 'nope'"),
    (["-p", "n=x"], "expects int"),
    (["--namespace", "Not_Valid"], "namespace"),
    (["-o", "/nonexistent-kale-dir/wf.yaml"], "cannot write the Workflow to '/nonexistent-kale-dir/wf.yaml'"),
])
def test_bad_flags_fail_with_one_line(call_cli, make_script, args: list[str], message: str) -> None:
    proc = call_cli("compile", make_script(GOOD), *args)
    assert proc.returncode == 2
    assert message in one_error_line(proc)
