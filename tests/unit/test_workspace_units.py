"""Pure parts of the workspace layer: pod identity, container choice, image pinning, volumes, names."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kale_argo.cluster.kube import owner_reference
from kale_argo.cluster.workspace.discovery import (
    choose_container,
    describe_pod,
    mounted_claims,
    pin_image,
    pod_identity,
)
from kale_argo.cluster.workspace.pending import explain_claim, run_claims
from kale_argo.cluster.workspace.plan import decide_default
from kale_argo.cluster.workspace.snapshots import _handle, snapshot_body, snapshot_name
from kale_argo.cluster.workspace.storage import ClaimInfo, claim_size, larger, snapshot_class_for
from kale_argo.cluster.workspace.volumes import merge_volumes, parse_volume
from kale_argo.errors import ClusterError, ConfigError, WorkspaceError
from kale_argo.names import dns1123_label
from kale_argo.spec import VolumeSpec
from tests.fakes.notebook import DEFAULT_CLAIMS, DIGEST, IMAGE, Claim, notebook_pod, pipeline_spec


def test_pod_identity_needs_the_namespace_file_and_hostname(tmp_path: Path):
    ns = tmp_path / "namespace"
    assert pod_identity({"HOSTNAME": "nb-0", "KALE_ARGO_NAMESPACE_FILE": str(ns)}) is None
    ns.write_text("team-a\n")
    identity = pod_identity({"HOSTNAME": "nb-0", "KALE_ARGO_NAMESPACE_FILE": str(ns)})
    assert identity is not None and (identity.namespace, identity.name) == ("team-a", "nb-0")
    assert pod_identity({"HOSTNAME": "", "KALE_ARGO_NAMESPACE_FILE": str(ns)}) is None


@pytest.mark.parametrize(("image", "image_id", "expected"), [
    ("jupyter/scipy:v1", "docker-pullable://jupyter/scipy@sha256:" + "a" * 64,
     "jupyter/scipy@sha256:" + "a" * 64),
    ("reg:5000/team/nb:v2", "reg:5000/team/nb@sha256:" + "b" * 64, "reg:5000/team/nb@sha256:" + "b" * 64),
    ("nb@sha256:" + "d" * 64, "nb@sha256:" + "e" * 64, "nb@sha256:" + "e" * 64),
    ("nb:v1", "sha256:" + "f" * 64, None),  # a local image ID is not pullable
    ("nb:v1", "", None),
])
def test_pin_image(image, image_id, expected):
    assert pin_image(image, image_id) == expected


def test_container_is_chosen_like_kubeflow_names_it():
    pod = notebook_pod("ns", DEFAULT_CLAIMS)
    assert choose_container(pod, {})["name"] == "my-notebook"  # statefulset pod name minus ordinal
    assert choose_container(pod, {"NB_PREFIX": "/notebook/ns/my-notebook"})["name"] == "my-notebook"
    assert choose_container(pod, {"KALE_ARGO_CONTAINER": "istio-proxy"})["name"] == "istio-proxy"
    with pytest.raises(WorkspaceError, match="has no container 'nope'"):
        choose_container(pod, {"KALE_ARGO_CONTAINER": "nope"})
    pod["metadata"]["name"] = "renamed"
    assert choose_container(pod, {})["name"] == "my-notebook"  # the only non-sidecar container
    pod["spec"]["containers"].append({"name": "helper"})
    with pytest.raises(WorkspaceError, match="cannot tell which container"):
        choose_container(pod, {})


def test_describe_pod_finds_claims_image_and_node():
    claims = (*DEFAULT_CLAIMS, Claim("sub", "/cfg/", sub_path="x"))
    nb = describe_pod(notebook_pod("ns", claims), {})
    assert nb.pinned_image == f"{IMAGE.rsplit(':', 1)[0]}@{DIGEST}"
    assert [(m.claim, m.mount_path, m.sub_path) for m in nb.mounts] == [
        ("workspace-my-notebook", "/home/jovyan", None), ("data-vol", "/data", None), ("sub", "/cfg", "x")]
    assert nb.node == "node-1" and nb.working_dir == "/home/jovyan"
    pod = notebook_pod("ns", DEFAULT_CLAIMS)
    assert len(mounted_claims(pod, pod["spec"]["containers"][1])) == 0  # the sidecar mounts none


def test_parse_and_merge_volumes():
    assert parse_volume("data:/mnt/d:mount") == VolumeSpec(claim="data", mount_path="/mnt/d", mode="mount")
    assert parse_volume("data:/mnt/d", "clone").mode == "clone"
    for bad, message in [("data", "CLAIM:/mount/path"), ("data:rel", "must be absolute"),
                         ("Data:/x", "not a valid"), ("d:/x:copy", "unknown volume mode")]:
        with pytest.raises(ConfigError, match=message) as err:
            parse_volume(bad)
        assert err.value.exit_code == 2 and err.value.where == f"--volume {bad}"
    declared = [VolumeSpec(claim="a", mount_path="/a"), VolumeSpec(claim="b", mount_path="/b")]
    merged = merge_volumes(declared, [parse_volume("a:/other:clone"), parse_volume("c:/b")])
    assert [(v.claim, v.mount_path, v.mode) for v in merged] == [
        ("a", "/other", "clone"), ("c", "/b", "snapshot")]


def test_sizes():
    assert larger("5Gi", "6000Mi", None, "bogus") == "6000Mi"
    assert larger(None) is None
    claim = {"spec": {"resources": {"requests": {"storage": "1Gi"}}},
             "status": {"capacity": {"storage": "2Gi"}}}
    assert claim_size(claim) == "2Gi"


def test_snapshot_class_matches_the_driver_preferring_the_default():
    classes = [{"metadata": {"name": "b"}, "driver": "x"},
               {"metadata": {"name": "c", "annotations": {
                   "snapshot.storage.kubernetes.io/is-default-class": "true"}}, "driver": "x"},
               {"metadata": {"name": "a"}, "driver": "y"}]
    assert snapshot_class_for(classes, "x")["metadata"]["name"] == "c"
    assert snapshot_class_for(classes, "z") is None
    assert snapshot_class_for(classes, "x", "a")["metadata"]["name"] == "a"
    assert snapshot_class_for(classes, "x", "gone") is None


def test_rwx_comes_from_the_claim_or_a_file_storage_driver():
    assert ClaimInfo("c", "n", "1Gi", "sc", ["ReadWriteMany"], "disk.csi").rwx
    assert ClaimInfo("c", "n", "1Gi", "sc", ["ReadWriteOnce"], "nfs.csi.k8s.io").rwx
    assert not ClaimInfo("c", "n", "1Gi", "sc", ["ReadWriteOnce"], "ebs.csi.aws.com").rwx


def test_snapshot_names_are_valid_and_unique_per_token():
    name = snapshot_name("a-very-long-pipeline-name" * 3, "workspace-my-notebook", "abc123")
    assert len(name) <= 63 and name.endswith("-abc123") and dns1123_label(name) == name
    body = snapshot_body(name, "ns", "workspace-my-notebook", "cls", "abc123", "demo")
    assert body["spec"] == {"source": {"persistentVolumeClaimName": "workspace-my-notebook"},
                            "volumeSnapshotClassName": "cls"}
    assert body["metadata"]["labels"]["kale-argo.io/workspace"] == "abc123"


def test_watch_events_drive_readiness():
    waiting, sizes, lines = {"s1": "c1", "s2": "c2"}, {}, []
    say = lines.append
    _handle({"type": "ADDED", "object": {"metadata": {"name": "other"}}}, waiting, sizes, say, 0)
    _handle({"type": "MODIFIED", "object": {"metadata": {"name": "s1"}, "status": {"readyToUse": False}}},
            waiting, sizes, say, 0)
    assert waiting == {"s1": "c1", "s2": "c2"}
    _handle({"type": "MODIFIED", "object": {"metadata": {"name": "s1"},
                                            "status": {"readyToUse": True, "restoreSize": "3Gi"}}},
            waiting, sizes, say, 2)
    assert waiting == {"s2": "c2"} and sizes == {"s1": "3Gi"} and "s1 of claim c1 is ready" in lines[0]
    with pytest.raises(WorkspaceError, match="failed: boom"):
        _handle({"type": "MODIFIED", "object": {"metadata": {"name": "s2"},
                                                "status": {"error": {"message": "boom"}}}},
                waiting, sizes, say, 3)
    with pytest.raises(WorkspaceError, match="was deleted"):
        _handle({"type": "DELETED", "object": {"metadata": {"name": "s2"}}}, waiting, sizes, say, 3)


def test_owner_reference_needs_a_uid():
    ref = owner_reference({"metadata": {"name": "wf", "uid": "u-1"}})
    assert (ref["kind"], ref["name"], ref["uid"]) == ("Workflow", "wf", "u-1")
    with pytest.raises(ClusterError, match="no name or uid"):
        owner_reference({"metadata": {"name": "wf"}})


def test_default_mode_decision():
    nb = describe_pod(notebook_pod("ns", DEFAULT_CLAIMS), {})
    assert decide_default(pipeline_spec(), None, None) == ("none", "not running in a pod")
    assert decide_default(pipeline_spec(), nb, None)[0] == "snapshot"
    assert decide_default(pipeline_spec(), nb, "no class")[0] == "none"
    assert decide_default(pipeline_spec(autosnapshot=False), nb, None)[0] == "none"
    assert decide_default(pipeline_spec(autosnapshot=True), nb, "no class")[0] == "snapshot"  # then it fails


def test_run_claims_are_found_by_owner_or_name():
    claims = [{"metadata": {"name": "wf-1-kale-marshal"}},
              {"metadata": {"name": "x", "ownerReferences": [{"kind": "Workflow", "name": "wf-1"}]}},
              {"metadata": {"name": "wf-10-kale-marshal"}}]
    assert [c["metadata"]["name"] for c in run_claims(claims, "wf-1")] == ["wf-1-kale-marshal", "x"]


def test_a_bound_claim_is_not_explained():
    assert explain_claim(None, "ns", {"metadata": {"name": "c"}, "status": {"phase": "Bound"}}) is None  # type: ignore[arg-type]


def test_progress_goes_to_out_only():
    from kale_argo.cluster.workspace.snapshots import progress

    buf = io.StringIO()
    progress(buf, "hello")
    progress(None, "nowhere")
    assert buf.getvalue() == "hello\n"


def test_submit_flags_become_workspace_options():
    import argparse

    from kale_argo.cli.workspace import add_workspace_args, workspace_options

    parser = argparse.ArgumentParser()
    add_workspace_args(parser, submit=True)
    args = parser.parse_args(["--workspace", "clone", "--volume", "a:/a", "--volume", "b:/b:mount",
                              "--keep-snapshots", "--snapshot-timeout", "30"])
    from kale_argo.app import WorkspaceOptions

    assert workspace_options(args) == WorkspaceOptions(mode="clone", volumes=("a:/a", "b:/b:mount"),
                                                       keep_snapshots=True, snapshot_timeout=30.0)
    with pytest.raises(SystemExit):
        parser.parse_args(["--workspace", "copy"])
