"""Pod settings on @step, steps_defaults and @pipeline: where they land in the Workflow, and the
one-line errors (at the decorator's file:line) for bad values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kale_argo.argo import compile_dict
from kale_argo.errors import UserError
from tests.unit.test_argo_compile import template
from tests.unit.test_argo_pipelines import HEADER, trace_script, write_script
from tests.workflow_checks import check_workflow

SETTINGS = HEADER + '''
@step(name="train", limits={"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"},
      requests={"cpu": "500m"}, env={"LOG_LEVEL": "debug", "RETRIES": 3},
      env_from_secret={"DB_PASSWORD": "db-creds/password"}, env_from_configmap="settings",
      node_selector={"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"},
      tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
      image_pull_policy="Always")
def train(n):
    return n


@step(name="report")
def report(x):
    print(x)


@pipeline(name="settings", image_pull_secrets=["regcred"], ttl={"after_success": "1h", "after_failure": "7d"},
          pod_gc={"strategy": "OnPodSuccess", "delete_delay": "10m"},
          steps_defaults={"env": {"TEAM": "ml"}, "env_from_secret": ["shared-creds"],
                          "tolerations": [{"key": "pool", "operator": "Equal", "value": "batch",
                                           "effect": "NoExecute", "toleration_seconds": 60}]})
def settings(n=1):
    report(train(n))
'''


@pytest.fixture
def manifest(tmp_path: Path) -> dict[str, Any]:
    return compile_dict(trace_script(write_script(tmp_path, SETTINGS)), {})


def container(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return template(manifest, name)["container"]


def test_pod_settings_pass_argos_schema_rules_and_the_restricted_profile(manifest: dict[str, Any]) -> None:
    check_workflow(manifest)


def test_requests_are_distinct_from_limits_and_default_to_them(manifest: dict[str, Any]) -> None:
    assert container(manifest, "train")["resources"] == {
        "limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"},
        "requests": {"cpu": "500m", "memory": "4Gi", "nvidia.com/gpu": "1"}}
    assert "resources" not in container(manifest, "report")


def test_env_and_values_from_secrets_and_config_maps(manifest: dict[str, Any]) -> None:
    train = container(manifest, "train")
    env = {e["name"]: e for e in train["env"]}
    assert env["LOG_LEVEL"]["value"] == "debug" and env["RETRIES"]["value"] == "3"
    assert env["TEAM"]["value"] == "ml"  # steps_defaults merge under the step's own
    assert env["DB_PASSWORD"] == {"name": "DB_PASSWORD", "valueFrom": {
        "secretKeyRef": {"name": "db-creds", "key": "password"}}}
    assert train["envFrom"] == [{"secretRef": {"name": "shared-creds"}},
                                {"configMapRef": {"name": "settings"}}]
    assert container(manifest, "report")["envFrom"] == [{"secretRef": {"name": "shared-creds"}}]


def test_scheduling_and_pull_settings(manifest: dict[str, Any]) -> None:
    train, report = template(manifest, "train"), template(manifest, "report")
    assert train["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-tesla-t4"}
    batch = {"key": "pool", "operator": "Equal", "value": "batch", "effect": "NoExecute",
             "tolerationSeconds": 60}
    assert train["tolerations"] == [
        batch, {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert report["tolerations"] == [batch] and "nodeSelector" not in report
    assert train["container"]["imagePullPolicy"] == "Always"
    assert "imagePullPolicy" not in report["container"]


def test_pipeline_pod_settings(manifest: dict[str, Any]) -> None:
    spec = manifest["spec"]
    assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert spec["ttlStrategy"] == {"secondsAfterSuccess": 3600, "secondsAfterFailure": 604800}
    assert spec["podGC"] == {"strategy": "OnPodSuccess", "deleteDelayDuration": "10m"}


def test_a_plain_ttl_and_pod_gc(tmp_path: Path) -> None:
    script = HEADER + '''
@step(name="one")
def one(n):
    return n


@pipeline(name="plain", ttl="1d", pod_gc="OnWorkflowSuccess")
def plain(n=1):
    one(n)
'''
    manifest = compile_dict(trace_script(write_script(tmp_path, script)), {})
    check_workflow(manifest)
    assert manifest["spec"]["ttlStrategy"] == {"secondsAfterCompletion": 86400}
    assert manifest["spec"]["podGC"] == {"strategy": "OnWorkflowSuccess"}


def test_no_secret_value_reaches_the_yaml(manifest: dict[str, Any]) -> None:
    text = str(manifest)
    assert "db-creds" in text and "password" in text  # the reference, by name and key only
    assert "secretKeyRef" in text and "'value': 'password'" not in text


BAD_STEP = [
    ('env=["A=1"]', "step 'one': env must be a dict", "env={"),
    ('env={"1BAD": "x"}', "'1BAD' is not a valid environment variable name", "env={"),
    ('env={"PYTHONPATH": "/x"}', "PYTHONPATH is set by kale-argo", "another name"),
    ('env_from_secret={"PW": "no-key"}', "'no-key' is not 'secret-name/key'", "secret-name/key"),
    ('env_from_configmap=["Bad_Name"]', "'Bad_Name' is not a valid ConfigMap name", "ConfigMap name"),
    ('env={"PW": "x"}, env_from_secret={"PW": "s/k"}', "'PW' is given both in env and from", "env="),
    ('requests={"cpu": "lots"}', "request 'cpu'", None),
    ('requests={"cpu": "3"}, limits={"cpu": "2"}', "request 'cpu' '3' is more than its limit", "cpu"),
    ('requests={"nvidia.com/gpu": "1"}, limits={"nvidia.com/gpu": "2"}', "must equal its limit", "requests="),
    ('node_selector={"pool": "not valid"}', "node_selector 'pool': 'not valid' is not a valid label",
     "node_selector="),
    ('tolerations=[{"key": "k", "operator": "Exists", "value": "v"}]', "value with operator Exists",
     "tolerations="),
    ('tolerations=[{"key": "k", "effect": "NoSchedul"}]', "'NoSchedul' is not one of", "tolerations="),
    ('tolerations=[{"key": "k", "toleration_seconds": 5}]', "tolerationSeconds needs effect NoExecute",
     "tolerations="),
    ('tolerations=[{"kee": "k"}]', "has no field 'kee'", "tolerations="),
    ('image_pull_policy="always"', "image_pull_policy 'always' is not one of", "IfNotPresent"),
    ('packages="numpy", packages_to_install=["numpy"]', "packages or packages_to_install, not both",
     "pip requirements"),
    ('packages=["--index-url=http://x"]', "is not a pip requirement", "pip requirements"),
]


@pytest.mark.parametrize(("option", "message", "hint"), BAD_STEP)
def test_bad_step_settings_are_one_line_errors_at_the_decorator(tmp_path: Path, option: str, message: str,
                                                                 hint: str | None) -> None:
    script = HEADER + f'''
@step(name="one", {option})
def one(n):
    return n


@pipeline(name="bad")
def bad(n=1):
    one(n)
'''
    path = write_script(tmp_path, script)
    with pytest.raises(UserError) as info:
        compile_dict(trace_script(path), {})
    line = info.value.one_line()
    assert message in line and f"{path}:4" in line and "\n" not in line
    if hint:
        assert hint in line


BAD_PIPELINE = [
    ('image_pull_secrets="Reg Cred"', "'Reg Cred' is not a valid Secret name"),
    ('ttl="soon"', "ttl"),
    ('ttl={"after_sucess": 5}', "ttl has no field 'after_sucess'"),
    ('pod_gc="OnSuccess"', "pod_gc strategy 'OnSuccess' is not supported"),
    ('pip_index_urls=["pypi.org"]', "must be a list of http(s) or file URLs"),
    ('steps_defaults={"env": {"A": None}}', "steps_defaults: env['A'] must be a string"),
]


@pytest.mark.parametrize(("option", "message"), BAD_PIPELINE)
def test_bad_pipeline_settings_are_one_line_errors_at_the_decorator(tmp_path: Path, option: str,
                                                                    message: str) -> None:
    script = HEADER + f'''
@step(name="one")
def one(n):
    return n


@pipeline(name="bad", {option})
def bad(n=1):
    one(n)
'''
    path = write_script(tmp_path, script)
    with pytest.raises(UserError) as info:
        trace_script(path)
    line = info.value.one_line()
    assert message in line and f"{path}:9" in line and "hint:" in line
