"""The workspace layer against the fake Kubernetes API over HTTP: modes, snapshots, preflight, rollback."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kale_argo.cluster.kube import api_client
from kale_argo.cluster.workspace import (
    explain_pending_claims,
    marshal_colocation,
    plan_workspace,
    prepare_workspace,
)
from kale_argo.errors import AuthError, ClusterError, WorkspaceError
from kale_argo.spec import PipelineSpec, VolumeSpec
from kale_argo.views.workspace import plan_lines
from tests.fakes.kube import FakeKube, kube_fixture  # noqa: F401
from tests.fakes.notebook import (
    NAMESPACE,
    SNAPSHOTS,
    Claim,
    Notebook,
    SnapshotController,
    seed_claim,
    seed_notebook,
)
from tests.fakes.notebook import (
    pipeline_spec as make_spec,
)

pytestmark = pytest.mark.timeout(60)


def snapshots(kube: FakeKube) -> list[dict]:
    return kube.list(SNAPSHOTS, NAMESPACE)


@pytest.fixture
def notebook(kube: FakeKube, tmp_path: Path) -> Notebook:
    return seed_notebook(kube, tmp_path)


@pytest.fixture
def api(kube: FakeKube) -> object:
    return api_client(kubeconfig=kube.kubeconfig)


def prepare(api: object, notebook: Notebook, spec: PipelineSpec | None = None, **kwargs: object):
    kwargs.setdefault("cwd", "/home/jovyan/work")
    return prepare_workspace(api, kwargs.pop("namespace", None), spec or make_spec(),
                             environ=notebook.environ, **kwargs)


def test_default_inside_a_pod_snapshots_every_claim_with_the_pinned_image(kube, api, notebook):
    out = io.StringIO()
    with SnapshotController(kube):
        ws = prepare(api, notebook, out=out)
    opts = ws.result
    made = {s["spec"]["source"]["persistentVolumeClaimName"]: s for s in snapshots(kube)}
    assert set(made) == {c.name for c in notebook.claims}
    for s in made.values():
        assert s["spec"]["volumeSnapshotClassName"] == "csi-hostpath-snapclass"
    by_claim = {v.claim: v for v in opts.volumes}
    assert by_claim["workspace-my-notebook"].mode == "snapshot"
    assert by_claim["workspace-my-notebook"].snapshot == made["workspace-my-notebook"]["metadata"]["name"]
    assert by_claim["workspace-my-notebook"].mount_path == "/home/jovyan"
    assert by_claim["data-vol"].size == "1Gi"
    assert opts.image == notebook.pinned_image
    assert opts.script_path == "/home/jovyan/work/pipe.py"
    assert opts.working_dir == "/home/jovyan/work"
    assert "workspace-my-notebook" in opts.annotations["kale-argo.io/workspace"]
    assert "is ready" in out.getvalue()
    assert sorted(ws.snapshots) == sorted(s["metadata"]["name"] for s in made.values())


def test_snapshots_carry_the_same_pipeline_label_value_as_the_workflow(kube, api, notebook):
    from kale_argo.labels import PIPELINE_LABEL as LABEL_PIPELINE
    from kale_argo.names import label_value

    spec = PipelineSpec.model_validate({**make_spec().model_dump(), "name": "My_Pipe"})
    with SnapshotController(kube):
        ws = prepare(api, notebook, spec)
    assert ws.snapshots
    # the compiler labels the Workflow with label_value(name): "My_Pipe" is already a valid value
    assert {s["metadata"]["labels"][LABEL_PIPELINE] for s in snapshots(kube)} == {label_value("My_Pipe")}
    assert label_value("My_Pipe") == "My_Pipe"


def test_clone_creates_no_snapshot(kube, api, notebook):
    ws = prepare(api, notebook, mode="clone")
    assert snapshots(kube) == []
    assert {v.mode for v in ws.volumes} == {"clone"}
    assert all(v.snapshot is None and v.storage_class == "csi-hostpath-sc" for v in ws.volumes)


def test_rwo_storage_gives_colocated_readwriteonce_claims(kube, api, notebook):
    ws = prepare(api, notebook, mode="clone")
    assert ws.result.colocate is True
    assert all(v.access_modes == ["ReadWriteOnce"] for v in ws.volumes)


def test_rwx_storage_is_not_colocated_and_can_be_mounted(kube, api, tmp_path):
    nb = seed_notebook(kube, tmp_path, claims=(Claim("shared", "/shared", access_modes=("ReadWriteMany",)),))
    ws = prepare(api, nb, mode="mount")
    assert ws.result.colocate is False
    assert [(v.claim, v.mode) for v in ws.volumes] == [("shared", "mount")]
    assert any("not reproducible" in n for n in ws.plan.notes)


def test_mount_of_rwo_claim_says_it_needs_rwx(kube, api, notebook):
    with pytest.raises(WorkspaceError, match="needs ReadWriteMany"):
        prepare(api, notebook, mode="mount")


def test_none_mode_and_autosnapshot_false_use_no_notebook_volume(kube, api, notebook):
    assert prepare(api, notebook, mode="none").volumes == []
    ws = prepare(api, notebook, make_spec(autosnapshot=False))
    assert ws.volumes == [] and ws.plan.mode == "none"
    assert snapshots(kube) == []


def test_snapshot_ready_late_reports_progress(kube, api, notebook):
    out = io.StringIO()
    with SnapshotController(kube, delay=1.5):
        ws = prepare(api, notebook, out=out, progress_every=0.5, timeout=20)
    assert "still waiting" in out.getvalue()
    assert len(ws.snapshots) == 2


def test_snapshot_never_ready_times_out_and_deletes_its_snapshots(kube, api, notebook):
    with SnapshotController(kube, mode="never") as controller, \
            pytest.raises(WorkspaceError, match=r"not ready after 1\.5s"):
        prepare(api, notebook, timeout=1.5, progress_every=0.5)
    assert len(controller.seen) == 2  # they were created...
    assert snapshots(kube) == []  # ...and rolled back


def test_snapshot_error_is_reported_and_rolled_back(kube, api, notebook):
    with SnapshotController(kube, mode="error"), pytest.raises(WorkspaceError, match="driver said no"):
        prepare(api, notebook, timeout=10)
    assert snapshots(kube) == []


def test_restore_size_larger_than_the_claim_sizes_the_clone(kube, api, notebook):
    with SnapshotController(kube, restore_size="8Gi"):
        ws = prepare(api, notebook)
    assert {v.size for v in ws.volumes} == {"8Gi"}


def test_missing_snapshot_class_default_falls_back_to_none_explicit_fails(kube, api, tmp_path):
    nb = seed_notebook(kube, tmp_path, snapshot_class=None)
    ws = prepare(api, nb)
    assert ws.volumes == [] and "no VolumeSnapshotClass for driver hostpath.csi.k8s.io" in ws.plan.reason
    with pytest.raises(WorkspaceError, match="no VolumeSnapshotClass for driver"):
        prepare(api, nb, mode="snapshot")
    with pytest.raises(WorkspaceError, match="VolumeSnapshotClass 'nope' does not exist"):
        prepare(api, nb, mode="snapshot", snapshot_class="nope")
    assert snapshots(kube) == []


def test_snapshot_class_of_another_driver_does_not_match(kube, api, tmp_path):
    nb = seed_notebook(kube, tmp_path, snapshot_driver="other.csi.example.com")
    with pytest.raises(WorkspaceError, match="no VolumeSnapshotClass for driver hostpath"):
        prepare(api, nb, mode="snapshot")


def test_missing_storage_class_is_named(kube, api, tmp_path):
    nb = seed_notebook(kube, tmp_path, storage=False)
    with pytest.raises(WorkspaceError, match=r"storageclass 'csi-hostpath-sc'.*does not exist"):
        prepare(api, nb, mode="clone")


def test_missing_permission_is_named_and_nothing_is_created(kube, api, notebook):
    kube.deny("create", "volumesnapshots")
    with SnapshotController(kube), pytest.raises(WorkspaceError) as err:
        prepare(api, notebook)
    assert "create volumesnapshots.snapshot.storage.k8s.io" in str(err.value)
    assert snapshots(kube) == []
    kube.deny("create", "workflows", NAMESPACE)
    with pytest.raises(WorkspaceError, match=r"create workflows\.argoproj\.io"):
        prepare(api, notebook, mode="clone")


def test_rollback_after_a_failed_workflow_create_deletes_the_snapshots(kube, api, notebook):
    with SnapshotController(kube):
        ws = prepare(api, notebook)
    assert len(snapshots(kube)) == 2
    assert ws.rollback() == []
    assert snapshots(kube) == []
    assert ws.rollback() == []  # idempotent


def test_adopt_sets_owner_references_unless_kept(kube, api, notebook):
    wf = kube.create("argoproj.io/v1alpha1/workflows", {
        "metadata": {"name": "demo-abc", "namespace": NAMESPACE}, "spec": {"entrypoint": "main"}})
    with SnapshotController(kube):
        ws = prepare(api, notebook)
        kept = prepare(api, notebook, keep_snapshots=True)
    assert ws.adopt(wf) == [] and kept.adopt(wf) == []
    owners = {s["metadata"]["name"]: s["metadata"].get("ownerReferences") for s in snapshots(kube)}
    assert {s["metadata"]["labels"]["kale-argo.io/workflow"] for s in snapshots(kube)} == {"demo-abc"}
    for name in ws.snapshots:
        assert owners[name] == [{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": "demo-abc",
                                 "uid": wf["metadata"]["uid"], "blockOwnerDeletion": False,
                                 "controller": False}]
    for name in kept.snapshots:
        assert not owners[name]


def test_adopt_reports_what_it_could_not_tie(kube, api, notebook):
    with SnapshotController(kube):
        ws = prepare(api, notebook)
    assert len(ws.adopt({"metadata": {"name": "no-uid"}})) == 2
    kube.fail(r"PATCH .*/volumesnapshots/", 403, times=1)
    failed = ws.adopt({"metadata": {"name": "wf", "uid": "u-1"}})
    assert len(failed) == 1 and "cannot patch volumesnapshots" in failed[0]


def test_outside_a_pod_only_named_volumes(kube, api, tmp_path):
    kube.emulator.add_namespace(NAMESPACE)
    from tests.fakes.notebook import seed_storage

    seed_storage(kube)
    seed_claim(kube, NAMESPACE, Claim("data", "/data", "2Gi"))
    outside = {"HOSTNAME": "laptop", "KALE_ARGO_NAMESPACE_FILE": str(tmp_path / "absent")}
    ws = prepare_workspace(api, NAMESPACE, make_spec(), environ=outside)
    assert ws.volumes == [] and ws.plan.reason == "not running in a pod"
    assert ws.result.image is None
    ws = prepare_workspace(api, NAMESPACE, make_spec(volumes=[VolumeSpec(claim="data", mount_path="/d")]),
                           environ=outside, volumes=["data:/mnt/data:clone"])
    assert [(v.claim, v.mount_path, v.mode) for v in ws.volumes] == [("data", "/mnt/data", "clone")]
    with pytest.raises(WorkspaceError, match="not running in a pod"):
        prepare_workspace(api, NAMESPACE, make_spec(), environ=outside, mode="snapshot")
    with pytest.raises(WorkspaceError, match="'nope' not found"):
        prepare_workspace(api, NAMESPACE, make_spec(), environ=outside, volumes=["nope:/x"])


def test_plan_creates_nothing_and_explains(kube, api, notebook):
    plan = plan_workspace(api, None, make_spec(), environ=notebook.environ, cwd="/tmp")
    text = "\n".join(plan_lines(plan))
    assert "workspace-my-notebook at /home/jovyan: snapshot" in text
    assert plan.working_dir == "/home/jovyan/work"  # cwd not on a volume: the script's folder
    assert snapshots(kube) == []
    assert kube.requests("POST", "volumesnapshots") == []


def test_subpath_mounts_are_skipped(kube, api, tmp_path):
    claims = (Claim("ws", "/home/jovyan"), Claim("sub", "/cfg", sub_path="x"))
    nb = seed_notebook(kube, tmp_path, claims=claims)
    ws = prepare(api, nb, mode="clone")
    assert [v.claim for v in ws.volumes] == ["ws"]
    assert any("subPath" in s for s in ws.plan.skipped)


def test_pending_claims_are_explained_with_their_events(kube, api):
    kube.emulator.add_namespace(NAMESPACE)
    kube.create("v1/persistentvolumeclaims", {
        "metadata": {"name": "run-1-marshal", "namespace": NAMESPACE},
        "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "standard"},
        "status": {"phase": "Pending"}})
    kube.create("v1/persistentvolumeclaims", {
        "metadata": {"name": "run-1-waiting", "namespace": NAMESPACE},
        "spec": {"accessModes": ["ReadWriteOnce"]}, "status": {"phase": "Pending"}})
    kube.create("v1/persistentvolumeclaims", {
        "metadata": {"name": "other-run-marshal", "namespace": NAMESPACE}, "status": {"phase": "Pending"}})
    assert explain_pending_claims(api, NAMESPACE, "run-1") is None
    for name, kind, reason, message in [
        ("run-1-waiting", "Normal", "WaitForFirstConsumer", "waiting for first consumer"),
        ("run-1-marshal", "Warning", "ProvisioningFailed",
         "failed to provision volume: access mode ReadWriteMany is not supported"),
        ("other-run-marshal", "Warning", "ProvisioningFailed", "unrelated")]:
        kube.create("v1/events", {"metadata": {"name": f"{name}.1", "namespace": NAMESPACE},
                                  "involvedObject": {"kind": "PersistentVolumeClaim", "name": name},
                                  "type": kind, "reason": reason, "message": message,
                                  "lastTimestamp": "2026-01-01T00:00:00Z"})
    line = explain_pending_claims(api, NAMESPACE, "run-1")
    assert line is not None
    assert line.startswith("claim run-1-marshal (ReadWriteMany, standard) is stuck Pending")
    assert "ProvisioningFailed" in line and "lacks ReadWriteMany" in line
    assert "run-1-waiting" not in line and "unrelated" not in line


def test_forbidden_cluster_reads_degrade_to_what_is_known(kube, api, notebook):
    kube.fail(r"GET /api/v1/persistentvolumes/", 403, times=10)
    kube.fail(r"GET /apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses", 403, times=10)
    ws = prepare(api, notebook)
    assert ws.volumes == [] and "may not list VolumeSnapshotClasses" in ws.plan.reason
    with SnapshotController(kube):
        ws = prepare(api, notebook, snapshot_class="csi-hostpath-snapclass")
    assert {s["spec"]["volumeSnapshotClassName"] for s in snapshots(kube)} == {"csi-hostpath-snapclass"}
    assert any("may not read persistentvolume" in n for n in ws.plan.notes)


def test_a_dropped_watch_is_resumed(kube, api, notebook):
    kube.drop_watch(after=0, times=2)
    with SnapshotController(kube, delay=0.3):
        ws = prepare(api, notebook, timeout=20, progress_every=5)
    assert len(ws.snapshots) == 2
    assert len(kube.requests("GET", "volumesnapshots")) >= 2


@pytest.mark.parametrize(("provisioner", "colocate"), [("ebs.csi.aws.com", True), ("nfs.csi.k8s.io", False)])
def test_marshal_storage_without_rwx_is_colocated(kube, api, tmp_path, provisioner, colocate):
    nb = seed_notebook(kube, tmp_path, claims=(Claim("shared", "/shared", access_modes=("ReadWriteMany",)),))
    kube.create("storage.k8s.io/v1/storageclasses", {
        "metadata": {"name": "standard", "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": provisioner})
    ws = prepare(api, nb, mode="clone")
    assert ws.result.colocate is colocate
    assert any("marshal volume is ReadWriteOnce" in n for n in ws.plan.notes) is colocate
    assert (marshal_colocation(api, make_spec()) is not None) is colocate
    assert marshal_colocation(api, make_spec(marshal={"access_mode": "rwo"})) is None


def test_a_transient_server_error_on_a_read_is_retried(kube, api, notebook):
    kube.fail(r"GET .*/pods/my-notebook-0", 503, times=1)
    ws = prepare(api, notebook, mode="clone")
    assert len(ws.volumes) == 2
    assert len(kube.requests("GET", "pods/my-notebook-0")) >= 2


def test_a_clone_keeps_the_source_storage_class_a_snapshot_may_change_it(kube, api, notebook):
    kube.create("storage.k8s.io/v1/storageclasses", {"metadata": {"name": "fast"},
                                                       "provisioner": "hostpath.csi.k8s.io"})
    spec = make_spec(volumes=[VolumeSpec(claim="data-vol", mount_path="/data", mode="clone",
                                         storage_class="fast")])
    with pytest.raises(WorkspaceError, match="must use its storage class 'csi-hostpath-sc'"):
        prepare(api, notebook, spec, mode="none")
    spec = make_spec(volumes=[VolumeSpec(claim="data-vol", mount_path="/data", mode="snapshot",
                                         storage_class="fast")])
    with SnapshotController(kube):
        ws = prepare(api, notebook, spec, mode="none")
    assert [(v.claim, v.storage_class, v.mode) for v in ws.volumes] == [("data-vol", "fast", "snapshot")]
    assert ws.plan.skipped == ["workspace-my-notebook at /home/jovyan: workspace mode none"]


def test_a_failing_watch_is_retried_until_the_snapshots_are_ready(kube, api, notebook):
    kube.fail(rf"GET .*/namespaces/{NAMESPACE}/volumesnapshots$", 503, times=2)
    with SnapshotController(kube, delay=0.2):
        ws = prepare(api, notebook, timeout=20, progress_every=5)
    assert len(ws.snapshots) == 2


def test_a_forbidden_watch_is_one_line_and_rolls_back(kube, api, notebook):
    kube.fail(rf"GET .*/namespaces/{NAMESPACE}/volumesnapshots$", 403, times=1)
    with SnapshotController(kube, mode="never"), pytest.raises(AuthError) as err:
        prepare(api, notebook, timeout=20)
    assert "cannot watch volumesnapshots" in str(err.value)
    assert snapshots(kube) == []


def test_an_unknown_pod_is_left_out_by_default_but_fatal_when_its_volumes_are_asked_for(kube, api, notebook):
    environ = {**notebook.environ, "HOSTNAME": "custom-hostname"}
    ws = prepare_workspace(api, None, make_spec(), environ=environ)
    assert ws.volumes == [] and ws.plan.reason == "not running in a pod"
    assert any("pod 'custom-hostname' was not found" in n for n in ws.plan.notes)
    with pytest.raises(WorkspaceError, match="was not found"):
        prepare_workspace(api, None, make_spec(), environ=environ, mode="clone")


def test_a_cluster_without_the_snapshot_api_is_named(kube, api, notebook):
    kube.fail(r"GET /apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses", 404, times=10)
    ws = prepare(api, notebook)
    assert ws.volumes == [] and "no VolumeSnapshot API" in ws.plan.reason
    with pytest.raises(WorkspaceError, match="no VolumeSnapshot API"):
        prepare(api, notebook, mode="snapshot")
    assert len(prepare(api, notebook, mode="clone").volumes) == 2


def test_a_snapshot_created_but_answered_with_an_error_is_rolled_back(kube, api, notebook):
    kube.fail(rf"POST .*/namespaces/{NAMESPACE}/volumesnapshots$", 500, after_write=True)
    with SnapshotController(kube), pytest.raises(ClusterError, match="500"):
        prepare(api, notebook)
    assert snapshots(kube) == []
    assert len(kube.requests("POST", "volumesnapshots")) == 1  # a create is never repeated
