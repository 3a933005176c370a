"""The Workflow checker accepts a valid manifest and rejects each kind of mistake."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.workflow_checks import (
    SCHEMA_PATH,
    check_pod_security,
    check_rules,
    check_schema,
    check_workflow,
)

HARDENED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def valid() -> dict[str, Any]:
    """A small valid Workflow: a DAG a -> b, c, with a parameter, a PVC template and a volume; its
    pods "restricted" ones (non-root and seccomp from the pod, the rest on each container)."""
    step = {
        "name": "step",
        "inputs": {"parameters": [{"name": "x"}]},
        "container": {
            "image": "python:3.11",
            "command": ["python", "-c", "print('{{inputs.parameters.x}}', '{{workflow.parameters.n}}')"],
            "volumeMounts": [{"name": "marshal", "mountPath": "/marshal"},
                             {"name": "scratch", "mountPath": "/scratch"}],
            "securityContext": copy.deepcopy(HARDENED),
        },
        "initContainers": [{"name": "prepare", "image": "python:3.11", "command": ["true"],
                            "securityContext": copy.deepcopy(HARDENED)}],
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        "retryStrategy": {"limit": "2"},
    }
    main = {"name": "main", "dag": {"tasks": [
        {"name": "a", "template": "step", "arguments": {"parameters": [{"name": "x", "value": "1"}]}},
        {"name": "b", "template": "step", "depends": "a",
         "arguments": {"parameters": [{"name": "x", "value": "{{tasks.a.outputs.result}}"}]}},
        {"name": "c", "template": "step", "depends": "a && b.Succeeded",
         "arguments": {"parameters": [{"name": "x", "value": "{{workflow.uid}}"}]}},
    ]}}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "demo-", "labels": {"a": "b"}},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "n", "value": "3"}]},
            "templates": [main, step],
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "volumeClaimTemplates": [{"metadata": {"name": "marshal"}, "spec": {
                "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
        },
    }


def test_valid_manifest_passes() -> None:
    check_workflow(valid())


def _task(m: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in m["spec"]["templates"][0]["dag"]["tasks"] if t["name"] == name)


Mutation = Callable[[dict[str, Any]], None]

RULE_CASES: dict[str, tuple[Mutation, str]] = {
    "template name with underscore": (
        lambda m: m["spec"]["templates"][1].update(name="data_loading"), "is invalid"),
    "template name too long": (lambda m: m["spec"]["templates"][1].update(name="a" * 129), "longer than"),
    "duplicate template": (lambda m: m["spec"]["templates"].append(copy.deepcopy(m["spec"]["templates"][1])),
                           "not unique"),
    "missing entrypoint": (lambda m: m["spec"].update(entrypoint="nope"), "entrypoint"),
    "task template missing": (lambda m: _task(m, "a").update(template="ghost"), "not found"),
    "task name invalid": (lambda m: _task(m, "c").update(name="c_1"), "is invalid"),
    "task name starts with digit": (lambda m: _task(m, "c").update(name="1c"), "digit"),
    "duplicate task": (lambda m: _task(m, "c").update(name="b"), "not unique"),
    "unknown dependency": (lambda m: _task(m, "b").update(depends="zz"), "not defined"),
    "unknown depends result": (lambda m: _task(m, "b").update(depends="a.Done"), "unknown result"),
    "cycle": (lambda m: _task(m, "a").update(depends="c"), "cycle"),
    "depends and dependencies": (lambda m: _task(m, "a").update(dependencies=["b"]), "both"),
    "tasks ref not ancestor": (
        lambda m: _task(m, "a")["arguments"]["parameters"][0].update(value="{{tasks.c.outputs.result}}"),
        "not an ancestor"),
    "unknown workflow parameter": (
        lambda m: m["spec"]["templates"][1]["container"]["command"].append("{{workflow.parameters.zz}}"),
        "failed to resolve"),
    "unknown input parameter": (
        lambda m: m["spec"]["templates"][1]["container"]["command"].append("{{inputs.parameters.y}}"),
        "failed to resolve"),
    "workflow parameter in task unknown": (
        lambda m: _task(m, "a")["arguments"]["parameters"][0].update(value="{{workflow.parameters.q}}"),
        "failed to resolve"),
    "input not supplied": (lambda m: _task(m, "a").pop("arguments"), "not supplied"),
    "parameter without value": (lambda m: m["spec"]["arguments"]["parameters"][0].pop("value"),
                                "value is required"),
    "retries without retryStrategy": (
        lambda m: (m["spec"]["templates"][1].pop("retryStrategy"),
                   m["spec"]["templates"][1]["container"]["command"].append("{{retries}}")),
        "failed to resolve"),
    "mount without volume": (
        lambda m: m["spec"]["templates"][1]["container"]["volumeMounts"].append(
            {"name": "ghost", "mountPath": "/ghost"}), "has no volume"),
    "mountPath twice": (
        lambda m: m["spec"]["templates"][1]["container"]["volumeMounts"][1].update(mountPath="/marshal"),
        "more than once"),
    "no name": (lambda m: m["metadata"].pop("generateName"), "name or generateName"),
    "generateName invalid": (lambda m: m["metadata"].update(generateName="Demo_"), "generateName"),
    "generateName too long": (lambda m: m["metadata"].update(generateName="a" * 59), "generateName"),
    "name too long": (lambda m: m["metadata"].update(name="a" * 64), "metadata.name"),
    "wrong kind": (lambda m: m.update(kind="Pod"), "kind"),
    "bad label value": (lambda m: m["metadata"]["labels"].update(a="not ok!"), "label value"),
    "bad label key": (lambda m: m["metadata"]["labels"].update({"bad key": "v"}), "qualified name"),
    "bad template label": (lambda m: m["spec"]["templates"][1].update(metadata={"labels": {"a": "-x"}}),
                           "label value"),
    "bad volume name": (lambda m: m["spec"]["templates"][1]["volumes"][0].update(name="Scratch_1"),
                        "DNS-1123"),
    "duplicate volume": (lambda m: m["spec"].update(volumes=[{"name": "marshal", "emptyDir": {}}]),
                         "not unique"),
    "token unmounted without an executor account": (
        lambda m: m["spec"].update(automountServiceAccountToken=False), "executor.serviceAccountName"),
    "template token unmounted without an executor account": (
        lambda m: m["spec"]["templates"][1].update(automountServiceAccountToken=False),
        "executor.serviceAccountName"),
    "unresolved variable in spec": (
        lambda m: m["spec"].update(serviceAccountName="{{workflow.parameters.sa}}"), "failed to resolve"),
}


@pytest.mark.parametrize("case", sorted(RULE_CASES))
def test_rule_rejects(case: str) -> None:
    mutate, message = RULE_CASES[case]
    manifest = valid()
    mutate(manifest)
    with pytest.raises(AssertionError, match=message):
        check_rules(manifest)


SCHEMA_CASES: dict[str, Mutation] = {
    "unknown top-level field": lambda m: m["spec"].update(entryPoint="main"),
    "unknown container field": lambda m: m["spec"]["templates"][1]["container"].update(cmd=["x"]),
    "misspelt task field": lambda m: _task(m, "a").update(dependson="b"),
    "wrong type": lambda m: m["spec"].update(activeDeadlineSeconds="soon"),
    "unknown metadata field": lambda m: m["metadata"].update(label={"a": "b"}),
    "bad label value type": lambda m: m["metadata"]["labels"].update(a=1),
}


@pytest.mark.skipif(not SCHEMA_PATH.is_file(), reason=f"Argo schema not found at {SCHEMA_PATH}")
@pytest.mark.parametrize("case", sorted(SCHEMA_CASES))
def test_schema_rejects(case: str) -> None:
    manifest = valid()
    SCHEMA_CASES[case](manifest)
    check_rules(manifest)  # the rules alone do not notice these
    with pytest.raises(AssertionError, match="schema"):
        check_schema(manifest)


@pytest.mark.skipif(not SCHEMA_PATH.is_file(), reason=f"Argo schema not found at {SCHEMA_PATH}")
def test_free_form_maps_stay_open() -> None:
    manifest = valid()
    manifest["metadata"]["annotations"] = {"any.key/x": "v"}
    manifest["spec"]["templates"][1]["container"]["resources"] = {"limits": {"nvidia.com/gpu": "1"}}
    check_workflow(manifest)


def test_executor_account_lets_the_token_stay_unmounted() -> None:
    manifest = valid()
    manifest["spec"].update(automountServiceAccountToken=False, executor={"serviceAccountName": "ex"})
    check_workflow(manifest)
    manifest["spec"].pop("executor")
    manifest["spec"]["templates"][1]["executor"] = {"serviceAccountName": "ex"}
    check_rules(manifest)


def _step(m: dict[str, Any]) -> dict[str, Any]:
    return m["spec"]["templates"][1]


def _sc(m: dict[str, Any]) -> dict[str, Any]:
    return _step(m)["container"]["securityContext"]


def _pod(m: dict[str, Any]) -> dict[str, Any]:
    return m["spec"]["securityContext"]


RESTRICTED_CASES: dict[str, tuple[Mutation, str]] = {
    "privileged": (lambda m: _sc(m).update(privileged=True), "privileged"),
    "privilege escalation allowed": (lambda m: _sc(m).update(allowPrivilegeEscalation=True),
                                     "allowPrivilegeEscalation"),
    "privilege escalation not forbidden": (lambda m: _sc(m).pop("allowPrivilegeEscalation"),
                                           "allowPrivilegeEscalation"),
    "capabilities kept": (lambda m: _sc(m).pop("capabilities"), "drop must include ALL"),
    "some capabilities dropped": (lambda m: _sc(m).update(capabilities={"drop": ["NET_RAW"]}),
                                  "drop must include ALL"),
    "capability added": (lambda m: _sc(m)["capabilities"].update(add=["SYS_ADMIN"]), "SYS_ADMIN"),
    "container may run as root": (lambda m: _sc(m).update(runAsNonRoot=False), "runAsNonRoot"),
    "nobody says non-root": (lambda m: _pod(m).pop("runAsNonRoot"), "runAsNonRoot"),
    "container user 0": (lambda m: _sc(m).update(runAsUser=0), "runAsUser must not be 0"),
    "pod user 0": (lambda m: _pod(m).update(runAsUser=0), "runAsUser must not be 0"),
    "no seccomp profile": (lambda m: _pod(m).pop("seccompProfile"), "seccompProfile"),
    "container seccomp unconfined": (lambda m: _sc(m).update(seccompProfile={"type": "Unconfined"}),
                                     "seccompProfile"),
    "pod seccomp unconfined": (
        lambda m: (_pod(m).update(seccompProfile={"type": "Unconfined"}),
                   _sc(m).update(seccompProfile={"type": "RuntimeDefault"})), "seccompProfile"),
    "init container not hardened": (lambda m: _step(m)["initContainers"][0].pop("securityContext"),
                                    "initContainers"),
    "sidecar not hardened": (lambda m: _step(m).update(sidecars=[{"name": "side", "image": "x"}]),
                             "sidecars"),
    "template securityContext replaces the workflow's": (
        lambda m: _step(m).update(securityContext={"fsGroup": 100}), "runAsNonRoot"),
    "hostPath volume": (lambda m: _step(m)["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
                        "hostPath"),
    "nfs volume on the workflow": (
        lambda m: m["spec"].update(volumes=[{"name": "n", "nfs": {"server": "s", "path": "/"}}]), "nfs"),
    "host network": (lambda m: m["spec"].update(hostNetwork=True), "hostNetwork"),
    "host PID": (lambda m: _step(m).update(hostPID=True), "hostPID"),
    "host IPC": (lambda m: _step(m).update(hostIPC=True), "hostIPC"),
    "pod spec patch": (lambda m: m["spec"].update(podSpecPatch='{"hostPID": true}'), "podSpecPatch"),
    "host port": (lambda m: _step(m)["container"].update(ports=[{"containerPort": 80, "hostPort": 80}]),
                  "hostPort"),
}


@pytest.mark.parametrize("case", sorted(RESTRICTED_CASES))
def test_restricted_profile_rejects(case: str) -> None:
    mutate, message = RESTRICTED_CASES[case]
    manifest = valid()
    check_pod_security(manifest)
    mutate(manifest)
    with pytest.raises(AssertionError, match=message):
        check_pod_security(manifest)
    with pytest.raises(AssertionError, match=message):
        check_workflow(manifest)


def test_restricted_profile_allows_what_it_allows() -> None:
    manifest = valid()
    _sc(manifest)["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    _sc(manifest).update(runAsNonRoot=True,
                         seccompProfile={"type": "Localhost", "localhostProfile": "p.json"})
    _step(manifest)["volumes"] += [{"name": "s", "secret": {"secretName": "k"}},
                                   {"name": "c", "configMap": {"name": "c"}}]
    check_pod_security(manifest)
