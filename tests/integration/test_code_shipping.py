"""Code shipping: the script, its modules and the runtime travel in one ConfigMap beside the
Workflow (no parameter, no init container), up to and beyond 1 MiB of source; compile writes it as
the YAML's first document; submit creates it, ties it to the run and removes it on failure."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from kale_argo import app
from kale_argo.argo import CompileOptions, compile_manifests, compile_yaml
from kale_argo.argo.bundle import CODE_VOLUME, MAX_CONFIGMAP_BYTES
from kale_argo.errors import AuthError
from tests.fakes.drivers import argo_driver, kube_driver
from tests.fakes.pipelines import demo_spec
from tests.integration.test_compile_pods import bare_python, run_pods
from tests.unit.test_argo_pipelines import HEADER, trace_script, write_script
from tests.workflow_checks import check_workflow

NO_WORKSPACE = app.SubmitOptions(workspace=app.WorkspaceOptions(mode="none"))
# Linux's MAX_ARG_STRLEN: Argo hands each pod its template in one environment variable.
TEMPLATE_ENV_MAX = 128 * 1024

BIG_SCRIPT = HEADER + '''
from kale_big_helpers import checksum, TABLE


@step(name="count")
def count(n):
    return len(TABLE) + n


@step(name="check")
def check(total):
    print("check", total, checksum())


@pipeline(name="big-code")
def big_code(n=1):
    check(count(n))
'''


def helper_source(functions: int) -> str:
    """Realistic Python: many small functions and a data table, about 1.2 MB."""
    parts = ['"""Helpers: generated, like vendored code."""\n\n']
    for i in range(functions):
        parts.append(f'''
def transform_{i}(values, scale={i % 7 + 1}, offset={i}):
    """Scale every value by {{scale}}, shift it by {{offset}} and clip it to the unit range."""
    result = []
    for value in values:
        shifted = value * scale + offset
        result.append(max(0.0, min(1.0, shifted / (offset + scale + 1))))
    return result
''')
    parts.append(f"\nTABLE = {[f'row-{i:06d}-{i * 7919 % 100003:06d}' for i in range(20_000)]!r}\n")
    parts.append("\n\ndef checksum():\n    return sum(len(r) for r in TABLE) + len(globals())\n")
    return "".join(parts)


def test_more_than_a_mebibyte_of_script_and_modules_runs_from_the_configmap(tmp_path: Path) -> None:
    python = bare_python()
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "kale_big_helpers.py").write_text(helper_source(2_500))
    spec = trace_script(write_script(folder, BIG_SCRIPT, "big_code.py"))
    source = sum((folder / rel).stat().st_size for rel in [*spec.script.modules, "big_code.py"])
    assert source > 1024 * 1024
    docs = compile_manifests(spec, {})
    configmap, workflow = docs
    check_workflow(workflow)
    assert [p["name"] for p in workflow["spec"]["arguments"]["parameters"]] == ["n"]  # no code
    for template in workflow["spec"]["templates"]:
        assert "initContainers" not in template
        assert len(json.dumps(template)) < TEMPLATE_ENV_MAX // 10
    zipped = len(configmap["binaryData"]["code.zip"]) * 3 // 4
    assert zipped + len(configmap["data"]["script"]) <= MAX_CONFIGMAP_BYTES
    procs = run_pods(docs, tmp_path, python)
    assert procs[-1].stdout.startswith("check 20001 ")


def test_compile_writes_the_configmap_then_the_workflow_that_mounts_it(tmp_path: Path) -> None:
    spec = demo_spec(tmp_path)
    text = compile_yaml(spec, {}, CompileOptions(namespace="team-a"))
    assert text.startswith("# The run's code") and "kubectl create -f" in text.splitlines()[1]
    configmap, workflow = yaml.safe_load_all(text)
    assert (configmap["kind"], workflow["kind"]) == ("ConfigMap", "Workflow")
    assert configmap["metadata"]["namespace"] == workflow["metadata"]["namespace"] == "team-a"
    (volume,) = [v for v in workflow["spec"]["volumes"] if v["name"] == CODE_VOLUME]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert {i["key"] for i in volume["configMap"]["items"]} == set(configmap["data"]) | set(
        configmap["binaryData"])
    assert configmap["data"]["script"] == Path(spec.script.path).read_text()  # readable as written
    assert "\n    " + Path(spec.script.path).read_text().splitlines()[0] in text  # a literal block
    for template in workflow["spec"]["templates"]:
        if "container" in template:
            mount = {"name": CODE_VOLUME, "mountPath": "/kale-code", "readOnly": True}
            assert mount in template["container"]["volumeMounts"]
    assert compile_yaml(spec, {}, CompileOptions(namespace="team-a")) == text


def configmaps(driver) -> list[dict]:
    return driver.fake.list("v1/configmaps", driver.namespace)


def test_submit_creates_the_code_configmap_owned_by_its_run(tmp_path: Path) -> None:
    driver, close = kube_driver(tmp_path)
    try:
        submission = app.submit(demo_spec(tmp_path), {}, NO_WORKSPACE, driver.backend, out=io.StringIO())
        [configmap] = configmaps(driver)
        [stored] = driver.stored()
        name = configmap["metadata"]["name"]
        assert [v["configMap"]["name"] for v in stored["spec"]["volumes"] if "configMap" in v] == [name]
        [owner] = configmap["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == (
            "Workflow", submission.name, stored["metadata"]["uid"])
        assert configmap["metadata"]["labels"]["kale-argo.io/workflow"] == submission.name
        assert configmap["data"]["script"] == Path(demo_spec(tmp_path).script.path).read_text()
        app.submit(demo_spec(tmp_path), {}, NO_WORKSPACE, driver.backend, out=io.StringIO())
        assert len({c["metadata"]["name"] for c in configmaps(driver)}) == 2  # one per run
    finally:
        close()


def test_a_failed_submission_leaves_no_code_configmap_behind(tmp_path: Path) -> None:
    driver, close = kube_driver(tmp_path)
    try:
        driver.fail("POST", "", 403, message="forbidden")
        with pytest.raises(AuthError):
            app.submit(demo_spec(tmp_path), {}, NO_WORKSPACE, driver.backend, out=io.StringIO())
        assert driver.stored() == [] and configmaps(driver) == []
    finally:
        close()


def test_without_the_kubernetes_api_the_code_travels_inline(tmp_path: Path) -> None:
    driver, close = argo_driver(tmp_path)
    try:
        out = io.StringIO()
        app.submit(demo_spec(tmp_path), {}, NO_WORKSPACE, driver.backend, out=out)
        [stored] = driver.stored()
        assert "kale-bundle" in {p["name"] for p in stored["spec"]["arguments"]["parameters"]}
        assert "the code travels inline" in out.getvalue()
    finally:
        close()
