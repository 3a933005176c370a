"""A Kubeflow-style notebook pod seeded into the fake Kubernetes API, and a fake snapshot controller.

``seed_notebook(kube, tmp_path, ...)`` creates (over HTTP) the namespace's notebook pod, its PVCs,
their PVs, the StorageClass and the VolumeSnapshotClass, and returns a :class:`Notebook` whose
``environ`` makes ``kale_argo.cluster.workspace`` believe it runs inside that pod.
``SnapshotController`` is the test's stand-in for the CSI snapshot controller: a thread that lists
VolumeSnapshots over HTTP and patches their status ready (after a delay), never, or with an error.
"""

from __future__ import annotations

import threading
import time
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kale_argo.spec import PipelineSpec, ScriptSpec, StepSpec
from tests.fakes.kube import FakeKube

NAMESPACE = "kubeflow-user"
NOTEBOOK = "my-notebook"
DRIVER = "hostpath.csi.k8s.io"
STORAGE_CLASS = "csi-hostpath-sc"
SNAPSHOT_CLASS = "csi-hostpath-snapclass"
IMAGE = "kubeflownotebookswg/jupyter-scipy:v1.8.0"
DIGEST = "sha256:" + "ab" * 32
SNAPSHOTS = "snapshot.storage.k8s.io/v1/volumesnapshots"


def pipeline_spec(script: str = "/home/jovyan/work/pipe.py", **extra: Any) -> PipelineSpec:
    """A one-step pipeline traced from ``script`` (a path in the notebook pod)."""
    return PipelineSpec(name="demo", steps=[StepSpec(name="a", step="a", function="a")],
                        script=ScriptSpec(path=script, sha256="0" * 64, pipeline_function="p"), **extra)


@dataclass(frozen=True)
class Claim:
    """A PVC the notebook mounts."""

    name: str
    mount_path: str
    size: str = "5Gi"
    access_modes: tuple[str, ...] = ("ReadWriteOnce",)
    storage_class: str | None = STORAGE_CLASS
    sub_path: str | None = None


DEFAULT_CLAIMS = (Claim(f"workspace-{NOTEBOOK}", "/home/jovyan", "5Gi"), Claim("data-vol", "/data", "1Gi"))


@dataclass
class Notebook:
    """What was seeded, and the environment of a process running in the notebook container."""

    namespace: str
    pod: str
    claims: tuple[Claim, ...]
    environ: dict[str, str] = field(default_factory=dict)

    @property
    def pinned_image(self) -> str:
        return f"{IMAGE.rsplit(':', 1)[0]}@{DIGEST}"


def notebook_pod(namespace: str, claims: tuple[Claim, ...], *, name: str = NOTEBOOK,
                 sidecar: bool = True) -> dict[str, Any]:
    """A notebook StatefulSet's pod (``<name>-0``) mounting ``claims``, with an istio sidecar."""
    pod_name = f"{name}-0"
    mounts = [{"name": f"vol-{i}", "mountPath": c.mount_path,
               **({"subPath": c.sub_path} if c.sub_path else {})} for i, c in enumerate(claims)]
    mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    volumes = [{"name": f"vol-{i}", "persistentVolumeClaim": {"claimName": c.name}}
               for i, c in enumerate(claims)]
    volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory"}})
    containers = [{"name": name, "image": IMAGE, "workingDir": "/home/jovyan", "volumeMounts": mounts,
                   "env": [{"name": "NB_PREFIX", "value": f"/notebook/{namespace}/{name}"}]}]
    statuses = [{"name": name, "image": IMAGE, "ready": True,
                 "imageID": f"docker.io/{IMAGE.rsplit(':', 1)[0]}@{DIGEST}"}]
    if sidecar:
        containers.append({"name": "istio-proxy", "image": "istio/proxyv2:1.17"})
        statuses.append({"name": "istio-proxy", "image": "istio/proxyv2:1.17", "ready": True,
                         "imageID": "docker.io/istio/proxyv2@sha256:" + "cd" * 32})
    return {"metadata": {"name": pod_name, "namespace": namespace, "labels": {"notebook-name": name}},
            "spec": {"containers": containers, "volumes": volumes, "nodeName": "node-1"},
            "status": {"phase": "Running", "containerStatuses": statuses}}


def seed_storage(kube: FakeKube, *, driver: str = DRIVER, storage_class: str = STORAGE_CLASS,
                 snapshot_class: str | None = SNAPSHOT_CLASS, snapshot_driver: str | None = None) -> None:
    """A StorageClass for ``driver`` and (unless None) a VolumeSnapshotClass for it."""
    kube.create("storage.k8s.io/v1/storageclasses", {
        "metadata": {"name": storage_class}, "provisioner": driver,
        "volumeBindingMode": "WaitForFirstConsumer"})
    if snapshot_class:
        kube.create("snapshot.storage.k8s.io/v1/volumesnapshotclasses", {
            "metadata": {"name": snapshot_class}, "driver": snapshot_driver or driver,
            "deletionPolicy": "Delete"})


def seed_claim(kube: FakeKube, namespace: str, claim: Claim, driver: str = DRIVER) -> None:
    """A bound PVC and its CSI PersistentVolume."""
    volume = f"pvc-{claim.name}"
    spec: dict[str, Any] = {"accessModes": list(claim.access_modes), "volumeName": volume,
                            "resources": {"requests": {"storage": claim.size}}}
    if claim.storage_class:
        spec["storageClassName"] = claim.storage_class
    kube.create("v1/persistentvolumeclaims", {
        "metadata": {"name": claim.name, "namespace": namespace}, "spec": spec,
        "status": {"phase": "Bound", "accessModes": list(claim.access_modes),
                   "capacity": {"storage": claim.size}}})
    kube.create("v1/persistentvolumes", {
        "metadata": {"name": volume},
        "spec": {"capacity": {"storage": claim.size}, "accessModes": list(claim.access_modes),
                 "storageClassName": claim.storage_class or "",
                 "claimRef": {"namespace": namespace, "name": claim.name},
                 "csi": {"driver": driver, "volumeHandle": f"handle-{claim.name}"}},
        "status": {"phase": "Bound"}})


def seed_notebook(kube: FakeKube, tmp_path: Path, *, namespace: str = NAMESPACE,
                  claims: tuple[Claim, ...] = DEFAULT_CLAIMS, driver: str = DRIVER,
                  storage: bool = True, snapshot_class: str | None = SNAPSHOT_CLASS,
                  snapshot_driver: str | None = None) -> Notebook:
    """Seed a notebook pod with its claims (and, unless ``storage=False``, the classes)."""
    kube.emulator.add_namespace(namespace)
    if storage:
        seed_storage(kube, driver=driver, snapshot_class=snapshot_class, snapshot_driver=snapshot_driver)
    for claim in claims:
        seed_claim(kube, namespace, claim, driver)
    pod = notebook_pod(namespace, claims)
    kube.create("v1/pods", pod)
    ns_file = tmp_path / "sa-namespace"
    ns_file.write_text(namespace + "\n")
    environ = {"HOSTNAME": pod["metadata"]["name"], "NB_PREFIX": f"/notebook/{namespace}/{NOTEBOOK}",
               "KALE_ARGO_NAMESPACE_FILE": str(ns_file)}
    return Notebook(namespace=namespace, pod=pod["metadata"]["name"], claims=claims, environ=environ)


class SnapshotController:
    """The test's snapshot controller: marks new VolumeSnapshots ready after ``delay`` seconds.

    ``mode``: "ready" (default), "never" (they stay not ready) or "error" (status.error is set).
    Reads and writes go over HTTP like a real controller's. ``seen`` lists the snapshots it saw.
    """

    def __init__(self, kube: FakeKube, *, delay: float = 0.0, mode: str = "ready",
                 restore_size: str | None = None) -> None:
        self.kube = kube
        self.delay = delay
        self.mode = mode
        self.restore_size = restore_size
        self.seen: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-snapshot-controller", daemon=True)

    def __enter__(self) -> SnapshotController:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                snapshots = self.kube.list(SNAPSHOTS)
            except Exception:  # an injected fault, or the server shutting down: try again
                continue
            for snap in snapshots:
                meta = snap["metadata"]
                key = f"{meta['namespace']}/{meta['name']}"
                first = self.seen.setdefault(key, time.monotonic())
                if (snap.get("status") or {}).get("readyToUse") is not None or self.mode == "never":
                    continue
                if time.monotonic() - first < self.delay:
                    continue
                self._finish(snap)

    def _finish(self, snap: dict[str, Any]) -> None:
        meta = snap["metadata"]
        source = snap["spec"]["source"]["persistentVolumeClaimName"]
        claim = self.kube.get("v1/persistentvolumeclaims", meta["namespace"], source) or {}
        size = self.restore_size or ((claim.get("status") or {}).get("capacity") or {}).get("storage")
        status: dict[str, Any] = {"readyToUse": self.mode == "ready", "restoreSize": size,
                                  "boundVolumeSnapshotContentName": f"snapcontent-{meta['uid']}"}
        if self.mode == "error":
            status["error"] = {"message": "failed to take snapshot: driver said no",
                               "time": "2026-01-01T00:00:00Z"}
        try:
            self.kube.patch(SNAPSHOTS, meta["namespace"], meta["name"], {"status": status})
        except urllib.error.HTTPError as exc:  # deleted meanwhile (a rollback): nothing to finish
            if exc.code != 404:
                raise


@pytest.fixture
def snapshot_controller(kube: FakeKube) -> Iterator[SnapshotController]:
    """A running :class:`SnapshotController` marking snapshots ready at once."""
    with SnapshotController(kube) as controller:
        yield controller
