"""The compiler maps each part of the IR and each option to the Workflow field Argo expects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kale_argo import __version__
from kale_argo.argo import CompileOptions, compile_dict, compile_workflow, compile_yaml
from kale_argo.argo.bundle import BUNDLE_PARAMETER, decode
from kale_argo.errors import UserError
from kale_argo.local.executor import step_commands
from kale_argo.spec import DEFAULT_IMAGE, VolumeSpec
from tests.unit.test_argo_pipelines import HEADER, tasks, trace_script, write_script
from tests.workflow_checks import check_workflow

RICH = HEADER + '''
@step(name="data_loading", limits={"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"},
      labels={"team": "ml"}, annotations={"example.com/note": "loads"})
def data_loading(n):
    return list(range(n))

@step(name="train", retry_count=3, retry_interval="30s", retry_factor=2, retry_max_interval="10m",
      timeout="1h", image="trainer:1.0")
def train(data, lr):
    return sum(data) * lr

@step(name="report")
def report(score, word, flag):
    print(score, word, flag)

@pipeline(name="My_Pipeline", experiment="Exp One!", description="a test pipeline",
          marshal_volume_size="5Gi", marshal_path="/mnt/m", volume_access_mode="rwo",
          storage_class_name="fast", timeout="2h")
def rich(n=3, lr=0.5, word="hi", flag=True):
    d = data_loading(n)
    s = train(d, lr)
    report(s, word=word, flag=flag)
'''


@pytest.fixture
def rich(tmp_path: Path) -> Any:
    return trace_script(write_script(tmp_path, RICH, "rich.py"))


def template(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in manifest["spec"]["templates"] if t["name"] == name)


def task_template(manifest: dict[str, Any], task: str) -> dict[str, Any]:
    (t,) = [t for t in tasks(manifest) if t["name"] == task]
    return template(manifest, t["template"])


def pod_argv(manifest: dict[str, Any], task: str) -> list[str]:
    """The argv a task's pod runs, after Argo substitutes the task's and workflow's parameters."""
    (t,) = [t for t in tasks(manifest) if t["name"] == task]
    given = (t.get("arguments") or {}).get("parameters", [])
    values = {f"inputs.parameters.{p['name']}": p["value"] for p in given}
    for p in (manifest["spec"].get("arguments") or {}).get("parameters", []):
        values[f"workflow.parameters.{p['name']}"] = p["value"]
    argv = []
    for item in template(manifest, t["template"])["container"]["command"]:
        for key, value in values.items():
            item = item.replace("{{" + key + "}}", value)
        argv.append(item)
    return argv


def workspace_volumes(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The Workflow's volumes but the code ConfigMap's."""
    return [v for v in manifest["spec"].get("volumes", []) if v["name"] != "kale-code"]


def parameters(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in manifest["spec"]["arguments"]["parameters"]}


def test_rich_pipeline_passes_argo_checks(rich: Any) -> None:
    check_workflow(compile_dict(rich))


def test_argv_is_the_local_executors(rich: Any) -> None:
    manifest = compile_dict(rich, {"lr": "0.25"})
    local = step_commands(rich, rich.resolve_parameters({"lr": "0.25"}), "/local/marshal", python="python")
    names = {"data_loading": "data-loading", "train": "train", "report": "report"}
    for step, task in names.items():
        argv = pod_argv(manifest, task)
        expected = list(local[step])
        # paths aside: the script and the marshal dir are where the pod has them
        expected[expected.index("--script") + 1] = argv[argv.index("--script") + 1]
        expected[expected.index("--marshal-dir") + 1] = argv[argv.index("--marshal-dir") + 1]
        assert argv == expected
    assert pod_argv(manifest, "train")[pod_argv(manifest, "train").index("--marshal-dir") + 1] == \
        "/mnt/m/{{workflow.uid}}"


def test_parameters_become_workflow_arguments(rich: Any) -> None:
    params = parameters(compile_dict(rich, {"n": "7", "flag": "no"}))
    assert params["n"]["value"] == "7" and params["lr"]["value"] == "0.5"
    assert params["flag"]["value"] == "false" and params["flag"]["enum"] == ["true", "false"]
    assert params["word"]["value"] == "hi"
    assert BUNDLE_PARAMETER not in params  # the code travels in a ConfigMap beside the Workflow
    train = task_template(compile_dict(rich), "train")["container"]["command"]
    assert "lr={{workflow.parameters.lr}}" in train
    with pytest.raises(UserError, match="no parameter 'nn'"):
        compile_dict(rich, {"nn": "1"})


def test_metadata(rich: Any) -> None:
    meta = compile_dict(rich)["metadata"]
    assert meta["generateName"] == "my-pipeline-"
    assert meta["labels"] == {"kale-argo.io/pipeline": "My_Pipeline", "kale-argo.io/experiment": "Exp-One"}
    notes = meta["annotations"]
    assert notes["kale-argo.io/pipeline-name"] == "My_Pipeline"
    assert notes["kale-argo.io/experiment-name"] == "Exp One!"
    assert notes["kale-argo.io/version"] == __version__
    assert notes["kale-argo.io/script-sha256"] == rich.script.sha256
    assert notes["kale-argo.io/script"] == "rich.py"
    assert notes["workflows.argoproj.io/description"] == "a test pipeline"
    extra = compile_dict(rich, options=CompileOptions(namespace="team-a", labels={"x.io/a": "b"},
                                                      annotations={"x.io/snap": "pvc->snap"}))
    assert extra["metadata"]["namespace"] == "team-a"
    assert extra["metadata"]["labels"]["x.io/a"] == "b"
    assert extra["metadata"]["annotations"]["x.io/snap"] == "pvc->snap"


def test_step_options(rich: Any) -> None:
    manifest = compile_dict(rich)
    load = task_template(manifest, "data-loading")
    assert load["container"]["resources"] == {
        "limits": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"},
        "requests": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"}}
    assert load["metadata"] == {"labels": {"team": "ml"}, "annotations": {"example.com/note": "loads"}}
    train = task_template(manifest, "train")
    assert train["retryStrategy"] == {"limit": "3", "retryPolicy": "Always", "backoff": {
        "duration": "30s", "factor": "2", "maxDuration": "10m"}}
    assert train["activeDeadlineSeconds"] == "3600"
    assert train["container"]["image"] == "trainer:1.0"
    assert "retryStrategy" not in load and "resources" not in task_template(manifest, "report")["container"]
    assert manifest["spec"]["activeDeadlineSeconds"] == 7200


@pytest.mark.parametrize(("step_image", "docker_image", "option", "default", "expected"), [
    ("s:1", "p:1", "o:1", "d:1", "s:1"),
    (None, "p:1", "o:1", "d:1", "p:1"),
    (None, None, "o:1", "d:1", "o:1"),
    (None, None, None, "d:1", "d:1"),
    (None, None, None, None, DEFAULT_IMAGE),
])
def test_image_precedence(tmp_path: Path, step_image: str | None, docker_image: str | None,
                          option: str | None, default: str | None, expected: str) -> None:
    text = HEADER + f'''
@step(name="a", image={step_image!r})
def a():
    return 1

@pipeline(name="p", docker_image={docker_image!r})
def p():
    a()
'''
    spec = trace_script(write_script(tmp_path, text))
    manifest = compile_dict(spec, options=CompileOptions(image=option, default_image=default))
    tmpl = task_template(manifest, "a")
    assert tmpl["container"]["image"] == expected
    assert "initContainers" not in tmpl  # the code is mounted from a ConfigMap, not unpacked


def test_marshal_volume(rich: Any) -> None:
    manifest = compile_dict(rich)
    (claim,) = manifest["spec"]["volumeClaimTemplates"]
    assert claim == {"metadata": {"name": "kale-marshal"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "fast"}}
    assert manifest["spec"]["volumeClaimGC"] == {"strategy": "OnWorkflowSuccess"}
    assert manifest["spec"]["securityContext"]["fsGroup"] == 100
    for t in tasks(manifest):
        mounts = task_template(manifest, t["name"])["container"]["volumeMounts"]
        assert {"name": "kale-marshal", "mountPath": "/mnt/m"} in mounts
    other = compile_dict(rich, options=CompileOptions(volume_claim_gc="OnWorkflowCompletion", fs_group=None))
    assert other["spec"]["volumeClaimGC"] == {"strategy": "OnWorkflowCompletion"}
    assert "fsGroup" not in other["spec"]["securityContext"]


WORKSPACE = HEADER + '''
@step(name="a")
def a():
    return 1

@pipeline(name="ws", marshal_volume=False, volumes=[{"claim": "home", "mount_path": "/home/jovyan",
                                                     "mode": "clone", "size": "10Gi"}])
def ws():
    a()
'''


def test_no_marshal_volume_uses_a_hidden_folder_on_the_workspace(tmp_path: Path) -> None:
    spec = trace_script(write_script(tmp_path, WORKSPACE))
    manifest = compile_dict(spec)
    check_workflow(manifest)
    argv = pod_argv(manifest, "a")
    assert argv[argv.index("--marshal-dir") + 1] == "/home/jovyan/.kale-marshal/{{workflow.uid}}"
    (claim,) = manifest["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["dataSource"] == {"kind": "PersistentVolumeClaim", "name": "home"}
    with pytest.raises(UserError, match="marshal_volume=False"):
        compile_dict(spec, options=CompileOptions(volumes=[]))


def test_workspace_modes(rich: Any) -> None:
    volumes = [
        VolumeSpec(claim="home", mount_path="/home/jovyan", mode="snapshot", size="10Gi",
                   snapshot="home-snap-1", storage_class="csi", access_modes=["ReadWriteOnce"]),
        VolumeSpec(claim="data", mount_path="/data", mode="clone", size="20Gi"),
        VolumeSpec(claim="shared", mount_path="/shared", mode="mount"),
        VolumeSpec(claim="later", mount_path="/later", mode="snapshot", size="1Gi"),
    ]
    manifest = compile_dict(rich, options=CompileOptions(volumes=volumes))
    check_workflow(manifest)
    claims = {c["metadata"]["name"]: c["spec"] for c in manifest["spec"]["volumeClaimTemplates"]}
    assert claims["kale-ws-home"] == {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "csi",
        "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot",
                       "name": "home-snap-1"},
        "resources": {"requests": {"storage": "10Gi"}}}
    assert claims["kale-ws-data"]["dataSource"] == {"kind": "PersistentVolumeClaim", "name": "data"}
    # a snapshot not taken yet (no cluster at compile time) compiles as a clone of the PVC
    assert claims["kale-ws-later"]["dataSource"] == {"kind": "PersistentVolumeClaim", "name": "later"}
    assert workspace_volumes(manifest) == [{"name": "kale-ws-shared",
                                            "persistentVolumeClaim": {"claimName": "shared"}}]
    mounts = task_template(manifest, "train")["container"]["volumeMounts"]
    for path in ("/home/jovyan", "/data", "/shared", "/later", "/mnt/m"):
        assert path in {m["mountPath"] for m in mounts}
    summary = json.loads(manifest["metadata"]["annotations"]["kale-argo.io/volumes"])
    assert {"claim": "home", "mode": "snapshot", "mountPath": "/home/jovyan", "volume": "kale-ws-home",
            "source": "VolumeSnapshot/home-snap-1"} in summary


def test_workspace_errors(rich: Any) -> None:
    with pytest.raises(UserError, match="has no size"):
        compile_dict(rich, options=CompileOptions(
            volumes=[VolumeSpec(claim="h", mount_path="/h", mode="clone")]))
    with pytest.raises(UserError, match="two volumes are mounted at '/mnt/m'"):
        compile_dict(rich, options=CompileOptions(volumes=[VolumeSpec(claim="h", mount_path="/mnt/m",
                                                                      mode="mount")]))


def test_colocate(rich: Any) -> None:
    volumes = [VolumeSpec(claim="home", mount_path="/home", mode="clone", size="1Gi",
                          access_modes=["ReadWriteMany"])]
    manifest = compile_dict(rich, options=CompileOptions(colocate=True, volumes=volumes))
    check_workflow(manifest)
    claims = manifest["spec"]["volumeClaimTemplates"]
    assert all(c["spec"]["accessModes"] == ["ReadWriteOnce"] for c in claims)
    affinity = task_template(manifest, "train")["affinity"]["podAffinity"]
    (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["labelSelector"]["matchLabels"] == {"workflows.argoproj.io/workflow": "{{workflow.name}}"}
    assert term["topologyKey"] == "kubernetes.io/hostname"


def test_script_from_the_workspace(rich: Any) -> None:
    opts = CompileOptions(script_path="/home/jovyan/work/rich.py", working_dir="/home/jovyan/work",
                          code_shipping="inline")
    manifest = compile_dict(rich, options=opts)
    check_workflow(manifest)
    train = task_template(manifest, "train")
    assert train["container"]["workingDir"] == "/home/jovyan/work"
    argv = train["container"]["command"]
    assert argv[argv.index("--script") + 1] == "/home/jovyan/work/rich.py"
    files = decode(parameters(manifest)[BUNDLE_PARAMETER]["value"])
    assert not any(f.startswith("script/") for f in files) and "lib/kale_argo/runtime/__main__.py" in files
    bare = compile_dict(rich, options=CompileOptions(script_path="/w/rich.py", ship_runtime=False))
    check_workflow(bare)
    assert BUNDLE_PARAMETER not in parameters(bare)
    assert "initContainers" not in task_template(bare, "train")


def test_bundle_holds_the_script_and_the_runtime(rich: Any) -> None:
    manifest = compile_dict(rich, options=CompileOptions(code_shipping="inline"))
    files = decode(parameters(manifest)[BUNDLE_PARAMETER]["value"])
    assert files["script/rich.py"] == Path(rich.script.path).read_bytes()
    assert "lib/kale_argo/__init__.py" in files and "lib/kale_argo/runtime/contract.py" in files
    assert not any(f.startswith(("lib/kale_argo/argo/", "lib/kale_argo/cli/")) for f in files)
    init = task_template(manifest, "train")["initContainers"][0]
    assert init["env"] == [{"name": "KALE_BUNDLE", "value": "{{workflow.parameters.kale-bundle}}"}]


def test_changed_script_is_refused(rich: Any) -> None:
    Path(rich.script.path).write_text(Path(rich.script.path).read_text() + "\n# edited\n")
    with pytest.raises(UserError, match="changed since it was traced"):
        compile_dict(rich)


def test_deterministic_yaml(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = trace_script(write_script(tmp_path / "a", RICH))
    second = trace_script(write_script(tmp_path / "b", RICH))
    text = compile_yaml(first)
    assert text == compile_yaml(first) == compile_yaml(second)
    assert list(yaml.safe_load_all(text))[-1] == compile_dict(first)
    assert compile_workflow(first).to_dict() == compile_dict(second)


def test_size_bound_300_steps_from_a_50kb_script(tmp_path: Path) -> None:
    parts = [HEADER]
    for i in range(300):
        parts.append(f'''
@step(name="stage_{i}", limits={{"cpu": "{1 + i % 4}"}})
def stage_{i}(x):
    """Stage {i} of the pipeline: scales, shifts and clips the value it is given."""
    scale = {i} * 0.5 + 1.0
    value = x * scale + {i}
    return max(min(value, 1e9), -1e9)
''')
    parts.append('\n@pipeline(name="big")\ndef big(x=1.0):\n    v = stage_0(x)\n')
    parts += [f"    v = stage_{i}(v)\n" for i in range(1, 300)]
    text = "".join(parts)
    text += "#" + "-" * 98 + "\n" * max(0, (50_000 - len(text)) // 100)
    assert len(text) >= 50_000
    spec = trace_script(write_script(tmp_path, text, "big.py"))
    body = compile_yaml(spec)
    assert len(body.encode()) < 1 << 20
    manifest = compile_dict(spec)
    check_workflow(manifest)
    assert len(manifest["spec"]["templates"]) == 301
    assert BUNDLE_PARAMETER not in parameters(manifest)  # the code is in the ConfigMap, once
    assert not any("initContainers" in t for t in manifest["spec"]["templates"])


def test_names_are_valid_unique_and_stable(tmp_path: Path) -> None:
    text = HEADER + '''
@step(name="data_loading")
def a():
    return 1

@step(name="Data-Loading")
def b(x):
    return x

@step(name="1st_pass")
def c(x):
    return x

@pipeline(name="names")
def names():
    v = a()
    w = b(v)
    c(w)
    a()
'''
    spec = trace_script(write_script(tmp_path, text))
    manifest = compile_dict(spec)
    check_workflow(manifest)
    assert [s.name for s in spec.steps] == ["data_loading", "Data-Loading", "1st_pass", "data_loading_2"]
    assert [t["name"] for t in tasks(manifest)] == ["data-loading", "data-loading-2", "s-1st-pass",
                                                    "data-loading-2-2"]
    assert [t["name"] for t in tasks(manifest)] == [t["name"] for t in tasks(compile_dict(spec))]


def test_literal_braces_do_not_become_argo_variables(tmp_path: Path) -> None:
    text = HEADER + '''
@step(name="a")
def a(s):
    return s

@pipeline(name="braces")
def braces():
    a("{{workflow.name}} and {{x}}")
'''
    spec = trace_script(write_script(tmp_path, text))
    manifest = compile_dict(spec)
    check_workflow(manifest)
    call = pod_argv(manifest, "a")[pod_argv(manifest, "a").index("--call") + 1]
    assert "{{" not in call
    assert json.loads(call)["args"][0]["value"] == "{{workflow.name}} and {{x}}"


@pytest.mark.parametrize(("options", "message"), [
    (CompileOptions(image="bad image"), "has spaces"),
    (CompileOptions(namespace="Bad_NS"), "namespace"),
    (CompileOptions(volume_claim_gc="Never"), "volume claim GC"),
    (CompileOptions(labels={"bad key!": "v"}), "label key"),
    (CompileOptions(labels={"k": "bad value!"}), "label value"),
    (CompileOptions(service_account="Bad SA"), "service account"),
    (CompileOptions(script_path="relative.py"), "absolute"),
])
def test_bad_options(rich: Any, options: CompileOptions, message: str) -> None:
    with pytest.raises(UserError, match=message):
        compile_dict(rich, options=options)


@pytest.mark.parametrize("options", [
    CompileOptions(namespace="team--a", service_account="default-editor"),
    CompileOptions(namespace="a" * 63, service_account="pipeline--runner.v2"),
])
def test_names_kubernetes_accepts_are_accepted(options: CompileOptions) -> None:
    options.validate()


@pytest.mark.parametrize("options", [
    CompileOptions(namespace="a" * 64), CompileOptions(namespace="-a"),
    CompileOptions(service_account="a..b"), CompileOptions(service_account="a" * 64),
])
def test_names_kubernetes_rejects_are_rejected(options: CompileOptions) -> None:
    with pytest.raises(UserError):
        options.validate()
