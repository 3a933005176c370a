"""Compiled step pods are hardened by default, overridable per pipeline and per step, bound to their run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kale_argo.argo import CompileOptions, compile_dict
from kale_argo.argo.workflow import compile_notes, compile_workflow
from kale_argo.choices import DEFAULT_EXECUTOR_SERVICE_ACCOUNT
from kale_argo.cli.main import main
from kale_argo.errors import ConfigError, PipelineError
from kale_argo.spec import DEFAULT_IMAGE, PipelineSpec
from tests.unit.test_argo_pipelines import HEADER, tasks, trace_script, write_script
from tests.workflow_checks import check_pod_security, check_rules, check_workflow

TWO_STEPS = HEADER + '''
@step(name="load"{load})
def load():
    return 1

@step(name="use"{use})
def use(x):
    print(x)

@pipeline(name="demo"{pipe})
def demo():
    use(load())
'''
HARDENED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
            "runAsUser": 1000, "runAsGroup": 100, "seccompProfile": {"type": "RuntimeDefault"}}


def script(tmp_path: Path, load: str = "", use: str = "", pipe: str = "") -> Path:
    text = TWO_STEPS.format(load=f", {load}" if load else "", use=f", {use}" if use else "",
                            pipe=f", {pipe}" if pipe else "")
    return write_script(tmp_path, text, "demo.py")


def traced(tmp_path: Path, **options: str) -> PipelineSpec:
    return trace_script(script(tmp_path, **options))


def step_template(manifest: dict[str, Any], task: str) -> dict[str, Any]:
    (name,) = [t["template"] for t in tasks(manifest) if t["name"] == task]
    return next(t for t in manifest["spec"]["templates"] if t["name"] == name)


def containers(template: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield template["container"]
    yield from template.get("initContainers") or []


def test_every_container_of_every_step_is_hardened(tmp_path: Path) -> None:
    manifest = compile_dict(traced(tmp_path))
    check_workflow(manifest)
    spec = manifest["spec"]
    assert spec["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 100, "fsGroup": 100,
        "fsGroupChangePolicy": "OnRootMismatch", "seccompProfile": {"type": "RuntimeDefault"}}
    seen = 0
    for task in ("load", "use"):
        template = step_template(manifest, task)
        assert "initContainers" not in template  # the code is mounted, nothing unpacks it
        for container in containers(template):
            assert container["securityContext"] == HARDENED
            seen += 1
    assert seen == 2


def test_steps_get_no_token_and_the_executor_its_own_account(tmp_path: Path) -> None:
    spec = compile_dict(traced(tmp_path))["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["executor"] == {"serviceAccountName": DEFAULT_EXECUTOR_SERVICE_ACCOUNT}
    assert "serviceAccountName" not in spec
    other = compile_dict(traced(tmp_path), options=CompileOptions(executor_service_account="team-exec"))
    assert other["spec"]["executor"] == {"serviceAccountName": "team-exec"}


def test_a_step_service_account_mounts_its_token(tmp_path: Path) -> None:
    manifest = compile_dict(traced(tmp_path), options=CompileOptions(service_account="trainer"))
    check_workflow(manifest)
    spec = manifest["spec"]
    assert spec["serviceAccountName"] == "trainer"
    assert spec["automountServiceAccountToken"] is True
    assert spec["executor"] == {"serviceAccountName": DEFAULT_EXECUTOR_SERVICE_ACCOUNT}


def test_without_an_executor_account_the_token_stays_mounted(tmp_path: Path) -> None:
    manifest = compile_dict(traced(tmp_path), options=CompileOptions(executor_service_account=None))
    check_workflow(manifest)  # Argo refuses automountServiceAccountToken false without one
    assert "executor" not in manifest["spec"]
    assert "automountServiceAccountToken" not in manifest["spec"]


@pytest.mark.parametrize(("options", "message"), [
    (CompileOptions(executor_service_account="Exec SA"), "executor service account"),
    (CompileOptions(executor_service_account=""), "executor service account"),
    (CompileOptions(marshal_key_secret="Key!"), "marshal key secret"),
])
def test_bad_account_and_secret_names(tmp_path: Path, options: CompileOptions, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        compile_dict(traced(tmp_path), options=options)


def test_a_step_overrides_its_own_containers(tmp_path: Path) -> None:
    spec = traced(tmp_path, load='security_context={"runAsUser": 0, "runAsNonRoot": False, '
                                 '"capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}')
    manifest = compile_dict(spec)
    check_rules(manifest)
    for container in containers(step_template(manifest, "load")):
        assert container["securityContext"] == {**HARDENED, "runAsUser": 0, "runAsNonRoot": False,
                                                "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}
    for container in containers(step_template(manifest, "use")):
        assert container["securityContext"] == HARDENED
    with pytest.raises(AssertionError, match="load"):  # the override is real: "load" is not restricted
        check_pod_security(manifest)


def test_steps_defaults_apply_to_every_step_under_its_own(tmp_path: Path) -> None:
    spec = traced(tmp_path, use='security_context={"readOnlyRootFilesystem": False}',
                  pipe='steps_defaults={"security_context": {"readOnlyRootFilesystem": True, '
                       '"run_as_user": 1234}}')
    manifest = compile_dict(spec)
    check_workflow(manifest)
    load = step_template(manifest, "load")["container"]["securityContext"]
    use = step_template(manifest, "use")["container"]["securityContext"]
    assert load == {**HARDENED, "readOnlyRootFilesystem": True, "runAsUser": 1234}
    assert use == {**HARDENED, "readOnlyRootFilesystem": False, "runAsUser": 1234}


def test_the_pipeline_sets_the_pods_identity(tmp_path: Path) -> None:
    spec = traced(tmp_path, pipe='pod_security_context={"runAsUser": 2000, "run_as_group": 2000, '
                                 '"fsGroup": 2000, "supplementalGroups": [5]}')
    manifest = compile_dict(spec)
    check_workflow(manifest)
    pod = manifest["spec"]["securityContext"]
    assert pod["runAsUser"] == pod["runAsGroup"] == pod["fsGroup"] == 2000
    assert pod["supplementalGroups"] == [5]
    for task in ("load", "use"):
        for container in containers(step_template(manifest, task)):
            assert container["securityContext"] == {**HARDENED, "runAsUser": 2000, "runAsGroup": 2000}


def test_none_removes_a_default(tmp_path: Path) -> None:
    spec = traced(tmp_path, load='security_context={"seccompProfile": None}',
                  pipe='pod_security_context={"fsGroup": None}')
    manifest = compile_dict(spec)
    check_workflow(manifest)  # the pod's seccomp profile still covers "load"
    assert "fsGroup" not in manifest["spec"]["securityContext"]
    assert "seccompProfile" not in step_template(manifest, "load")["container"]["securityContext"]
    assert "seccompProfile" in step_template(manifest, "use")["container"]["securityContext"]


def test_a_pipeline_that_runs_as_root_compiles_as_asked(tmp_path: Path) -> None:
    spec = traced(tmp_path, pipe='pod_security_context={"runAsUser": 0, "runAsNonRoot": False}')
    manifest = compile_dict(spec)
    assert manifest["spec"]["securityContext"]["runAsUser"] == 0
    assert step_template(manifest, "use")["container"]["securityContext"]["runAsNonRoot"] is False
    with pytest.raises(AssertionError, match=r"runAsNonRoot|runAsUser"):
        check_pod_security(manifest)


@pytest.mark.parametrize(("options", "message", "hint"), [
    ({"load": 'security_context={"runAsUsr": 1}'}, "step 'load': security_context has no field 'runAsUsr'",
     "runAsUser"),
    ({"load": 'security_context="restricted"'}, "security_context must be a dict", "e.g."),
    ({"load": 'security_context={"runAsUser": "1000"}'}, "runAsUser '1000' must be a whole number", None),
    ({"load": 'security_context={"runAsUser": -1}'}, "whole number >= 0", None),
    ({"load": 'security_context={"runAsNonRoot": 1}'}, "runAsNonRoot must be true or false", None),
    ({"load": 'security_context={"privileged": True, "capabilities": {"drop": "ALL"}}'},
     "capabilities.drop must be a list", None),
    ({"load": 'security_context={"seccompProfile": {"type": "Default"}}'},
     "seccompProfile.type 'Default' is not one of", None),
    ({"load": 'security_context={"fsGroup": 100}'}, "security_context has no field 'fsGroup'",
     "pod_security_context"),
    ({"pipe": 'pod_security_context={"allowPrivilegeEscalation": True}'},
     "pod_security_context has no field 'allowPrivilegeEscalation'", "steps_defaults"),
    ({"pipe": 'pod_security_context={"runAsUser": 0}'}, "runs as user 0", "runAsNonRoot"),
    ({"pipe": 'steps_defaults={"security_context": {"capabilities": {"remove": ["ALL"]}}}'},
     "steps_defaults: security_context.capabilities has no field 'remove'", None),
])
def test_bad_security_options_name_the_decorator(tmp_path: Path, options: dict[str, str], message: str,
                                                 hint: str | None) -> None:
    path = script(tmp_path, **options)
    with pytest.raises(PipelineError) as info:
        trace_script(path)
    err = info.value
    assert message in err.message
    assert "\n" not in str(err)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1)
                if text.startswith("@pipeline" if "pipe" in options else '@step(name="load"'))
    assert err.where == f"{path}:{line}"
    if hint:
        assert hint in (err.hint or "")


def test_a_root_step_under_a_non_root_pod_is_refused_at_compile(tmp_path: Path) -> None:
    spec = traced(tmp_path, load='security_context={"runAsUser": 0}')
    with pytest.raises(PipelineError, match="step 'load': security_context runs as user 0") as info:
        compile_dict(spec)
    assert "runAsNonRoot" in (info.value.hint or "")


def test_the_cli_reports_a_bad_option_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = script(tmp_path, load='security_context={"runAsUsr": 1}')
    assert main(["compile", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "runAsUsr" in err and f"{path}:" in err


def test_every_step_knows_its_run(tmp_path: Path) -> None:
    manifest = compile_dict(traced(tmp_path))
    for task in ("load", "use"):
        env = step_template(manifest, task)["container"]["env"]
        assert {"name": "KALE_ARGO_RUN_ID", "value": "{{workflow.uid}}"} in env
        assert "KALE_ARGO_MARSHAL_KEY_FILE" not in {e["name"] for e in env}
    assert [v["name"] for v in manifest["spec"]["volumes"]] == ["kale-code"]


def test_the_marshal_key_secret_is_mounted_read_only(tmp_path: Path) -> None:
    manifest = compile_dict(traced(tmp_path), options=CompileOptions(marshal_key_secret="demo-key-abc"))
    check_workflow(manifest)
    assert manifest["spec"]["volumes"][:-1] == [{"name": "kale-marshal-key", "secret": {
        "secretName": "demo-key-abc", "defaultMode": 0o400, "items": [{"key": "key", "path": "key"}]}}]
    for task in ("load", "use"):
        container = step_template(manifest, task)["container"]
        assert {"name": "kale-marshal-key", "mountPath": "/var/run/kale-argo/marshal-key",
                "readOnly": True} in container["volumeMounts"]
        assert {"name": "KALE_ARGO_MARSHAL_KEY_FILE",
                "value": "/var/run/kale-argo/marshal-key/key"} in container["env"]


def test_a_tag_only_default_image_is_noted(tmp_path: Path) -> None:
    spec = traced(tmp_path)
    notes: list[str] = []
    compile_workflow(spec, notes=notes)
    assert notes == compile_notes(spec)
    (note,) = notes
    assert DEFAULT_IMAGE in note and "tag only" in note and "steps load, use" in note
    assert "\n" not in note


def test_images_pinned_by_digest_are_not_noted(tmp_path: Path) -> None:
    pinned = "registry.example/kale@sha256:" + "a" * 64
    spec = traced(tmp_path, load='image="trainer:1.0"')
    (note,) = compile_notes(spec, CompileOptions(default_image=pinned))
    assert "'trainer:1.0'" in note and "(step load)" in note and "the default image" not in note
    (tmp_path / "plain").mkdir()
    assert compile_notes(traced(tmp_path / "plain"), CompileOptions(image=pinned)) == []
