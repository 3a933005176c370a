"""Workspace snapshot and clone from inside a notebook-like pod, on csi-hostpath with real snapshots.

The pod runs the step image with the runner service account and a csi-hostpath PVC at /workspace
holding the script, a module next to it and a data file; ``kale-argo`` runs in it via kubectl exec.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kind_env import IMAGE, NAMESPACE, PIPELINES, RUNNER_SA, STEP_SA, STORAGE_CLASS, Cluster

from kale_argo.cluster.workspace.discovery import pin

POD = "notebook"
CLAIM = "notebook-workspace"
MOUNT = "/workspace"
SCRIPT = f"{MOUNT}/e2e_workspace.py"

NOTEBOOK = f"""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: {CLAIM}, namespace: {NAMESPACE}}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: {STORAGE_CLASS}
  resources: {{requests: {{storage: 1Gi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: {POD}, namespace: {NAMESPACE}, labels: {{app: kale-e2e-notebook}}}}
spec:
  serviceAccountName: {RUNNER_SA}
  containers:
    - name: {POD}
      image: {IMAGE}
      imagePullPolicy: IfNotPresent
      command: ["sleep", "infinity"]
      workingDir: {MOUNT}
      env: [{{name: NB_PREFIX, value: /notebook/{NAMESPACE}/{POD}}}]
      volumeMounts: [{{name: workspace, mountPath: {MOUNT}}}]
  volumes:
    - name: workspace
      persistentVolumeClaim: {{claimName: {CLAIM}}}
"""


def exec_in(cluster: Cluster, *argv: str, stdin: str | None = None,
            timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run a command in the notebook container (never raises on its exit code)."""
    return cluster.kubectl("exec", "-i" if stdin is not None else "--tty=false", "-n", NAMESPACE, POD,
                           "-c", POD, "--", *argv, input=stdin, timeout=timeout, check=False)


def write_file(cluster: Cluster, path: str, text: str) -> None:
    done = exec_in(cluster, "sh", "-c", f"cat > {path}", stdin=text)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def notebook(cluster: Cluster) -> Iterator[Cluster]:
    """The notebook pod, Ready, with the pipeline, its helper module and data.txt on its volume."""
    cluster.kubectl("apply", "-f", "-", input=NOTEBOOK)
    cluster.kubectl("wait", "--for=condition=Ready", f"pod/{POD}", "-n", NAMESPACE, "--timeout=300s")
    for name in ("e2e_workspace.py", "e2e_helper.py"):
        write_file(cluster, f"{MOUNT}/{name}", (PIPELINES / name).read_text())
    write_file(cluster, f"{MOUNT}/data.txt", "v1\n")
    yield cluster
    cluster.kubectl("delete", "pod", POD, "-n", NAMESPACE, "--wait=false", check=False)


def _out(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


def _new_run(cluster: Cluster, before: set[str]) -> str:
    created = [n for n in cluster.workflows() if n not in before and n.startswith("e2e-workspace")]
    assert len(created) == 1, created
    return created[0]


def _snapshots_of(cluster: Cluster, run: str) -> list[dict[str, Any]]:
    items = cluster.json("get", "volumesnapshots", "-n", NAMESPACE)["items"]
    return [s for s in items if any(o.get("kind") == "Workflow" and o.get("name") == run
                                    for o in s["metadata"].get("ownerReferences", []))]


def _run_log(cluster: Cluster, run: str) -> str:
    logs = exec_in(cluster, "kale-argo", "logs", run, "--step", "read_workspace")
    assert logs.returncode == 0, _out(logs)
    return logs.stdout


def test_workspace_plan_from_the_pod(notebook: Cluster) -> None:
    plan = exec_in(notebook, "kale-argo", "workspace", SCRIPT, "-o", "json")
    assert plan.returncode == 0, _out(plan)
    data = json.loads(plan.stdout)
    assert data["pod"] == POD and data["namespace"] == NAMESPACE and data["mode"] == "snapshot"
    volume = next(v for v in data["volumes"] if v["claim"] == CLAIM)
    assert volume["mount_path"] == MOUNT and volume["snapshot_class"] == "csi-hostpath-snapclass"
    assert data["image"] == expected_image(notebook)
    if data["image"] == IMAGE:  # not pinned: the plan says why
        text = exec_in(notebook, "kale-argo", "workspace", SCRIPT)
        assert text.returncode == 0 and f"image: {IMAGE} (not pinned: " in text.stdout, _out(text)


def expected_image(cluster: Cluster) -> str:
    """The image the notebook's runs use: its own, pinned only to a digest pullable by its name.

    The step image is ``kind load``ed, so containerd records its digest as
    ``import-YYYY-MM-DD@sha256:...`` (a name on the node only) and the pod's imageID carries that:
    ``kale-argo-step@<digest>`` would sit in ImagePullBackOff, so the tag is kept.
    """
    status = cluster.json("get", "pod", POD, "-n", NAMESPACE)["status"]["containerStatuses"]
    own = next(c for c in status if c["name"] == POD)
    pinned, _ = pin(IMAGE, own.get("imageID"), own.get("image"))
    if "/import-" in own.get("imageID", ""):
        assert pinned is None, f"a kind-loaded image was pinned to {pinned}"
    return pinned or IMAGE


def test_snapshot_freezes_the_workspace_at_submit(notebook: Cluster) -> None:
    before = set(notebook.workflows())
    proc = exec_in(notebook, "kale-argo", "submit", SCRIPT, "--workspace", "snapshot",
                   "--service-account", STEP_SA)
    assert proc.returncode == 0, _out(proc)
    run = _new_run(notebook, before)
    write_file(notebook, f"{MOUNT}/data.txt", "v2\n")  # after submit: the run must not see it

    assert notebook.wait_phase(run, ("Succeeded", "Failed", "Error"), timeout=600) == "Succeeded"
    log = _run_log(notebook, run)
    assert "E2E-WORKSPACE=<v1>" in log, log
    assert f"CWD={MOUNT}" in log, log

    snapshots = _snapshots_of(notebook, run)
    assert snapshots, "the run's VolumeSnapshot is not owned by its Workflow"
    assert all(s["spec"]["source"].get("persistentVolumeClaimName") == CLAIM for s in snapshots)
    assert all(s.get("status", {}).get("readyToUse") for s in snapshots)
    claims = notebook.json("get", "workflow", run, "-n", NAMESPACE)["spec"]["volumeClaimTemplates"]
    assert any((c["spec"].get("dataSource") or {}).get("kind") == "VolumeSnapshot" for c in claims)
    pods = notebook.run_pods(run)
    images = {c["image"] for p in pods for c in p["spec"]["containers"] if c["name"] == "main"}
    assert images == {expected_image(notebook)}, "the steps did not run the notebook's image"

    deleted = exec_in(notebook, "kale-argo", "delete", run)
    assert deleted.returncode == 0, _out(deleted)
    deadline = time.monotonic() + 180
    while _snapshots_of(notebook, run) and time.monotonic() < deadline:
        time.sleep(3)
    assert not _snapshots_of(notebook, run), "deleting the run left its snapshots behind"


def test_clone_mode_sees_the_current_workspace(notebook: Cluster) -> None:
    write_file(notebook, f"{MOUNT}/data.txt", "v3\n")
    before = set(notebook.workflows())
    snapshots_before = len(notebook.json("get", "volumesnapshots", "-n", NAMESPACE)["items"])
    proc = exec_in(notebook, "kale-argo", "submit", SCRIPT, "--workspace", "clone",
                   "--service-account", STEP_SA, "--watch")
    assert proc.returncode == 0, _out(proc)
    run = _new_run(notebook, before)
    assert "E2E-WORKSPACE=<v3>" in _run_log(notebook, run)
    claims = notebook.json("get", "workflow", run, "-n", NAMESPACE)["spec"]["volumeClaimTemplates"]
    sources = [c["spec"].get("dataSource") or {} for c in claims]
    assert {"kind": "PersistentVolumeClaim", "name": CLAIM} in [
        {"kind": s.get("kind"), "name": s.get("name")} for s in sources]
    assert len(notebook.json("get", "volumesnapshots", "-n", NAMESPACE)["items"]) == snapshots_before
