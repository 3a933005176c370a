"""Deciding what a run's workspace will be: which claims are snapshotted, cloned or mounted, and why.

Planning reads the cluster (pod, claims, volumes, storage and snapshot classes) and creates nothing;
``kale-argo workspace`` shows a plan (:mod:`kale_argo.views.workspace`),
:func:`~.api.prepare_workspace` carries one out.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ...choices import VOLUME_MODES, WORKSPACE_MODES
from ...errors import AuthError, WorkspaceError
from ...spec import PipelineSpec, VolumeSpec
from ..kube import Kube, Obj
from .discovery import MountedClaim, NotebookPod, discover_notebook, pod_identity
from .storage import ClaimInfo, class_name, inspect_claim, larger, snapshot_class_for
from .volumes import merge_volumes, parse_volume


@dataclass(frozen=True)
class PlannedVolume:
    """One workspace volume of the run: its source claim, how it reaches the steps, and why."""

    claim: str
    mount_path: str
    mode: str
    origin: str
    reason: str
    info: ClaimInfo | None = None
    size: str | None = None
    storage_class: str | None = None
    access_modes: list[str] = field(default_factory=list)
    snapshot_class: str | None = None
    snapshot: str | None = None

    def to_spec(self, snapshot: str | None = None, size: str | None = None) -> VolumeSpec:
        """The compiler's view of this volume (``snapshot``/``size`` once the snapshot exists)."""
        return VolumeSpec(claim=self.claim, mount_path=self.mount_path, mode=self.mode,  # type: ignore[arg-type]
                          size=larger(self.size, size), storage_class=self.storage_class,
                          access_modes=list(self.access_modes), snapshot_class=self.snapshot_class,
                          snapshot=snapshot or self.snapshot)


@dataclass
class WorkspacePlan:
    """What a submit from here would snapshot, clone or mount, with reasons; nothing created yet."""

    namespace: str
    mode: str
    reason: str
    notebook: NotebookPod | None = None
    volumes: list[PlannedVolume] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    colocate: bool = False
    image: str | None = None
    script_path: str | None = None
    working_dir: str | None = None

    def to_snapshot(self) -> list[PlannedVolume]:
        """Volumes that need a new VolumeSnapshot."""
        return [v for v in self.volumes if v.mode == "snapshot" and not v.snapshot]

    def to_json(self) -> dict[str, object]:
        """The plan as JSON-able data (``kale-argo workspace -o json``)."""
        return {
            "namespace": self.namespace, "mode": self.mode, "reason": self.reason,
            "pod": self.notebook.name if self.notebook else None,
            "container": self.notebook.container if self.notebook else None,
            "image": self.image, "colocate": self.colocate, "script_path": self.script_path,
            "working_dir": self.working_dir, "skipped": list(self.skipped), "notes": list(self.notes),
            "volumes": [{"claim": v.claim, "mount_path": v.mount_path, "mode": v.mode, "origin": v.origin,
                         "reason": v.reason, "size": v.size, "storage_class": v.storage_class,
                         "access_modes": list(v.access_modes), "snapshot_class": v.snapshot_class,
                         "snapshot": v.snapshot, "driver": v.info.driver if v.info else None}
                        for v in self.volumes],
        }


def decide_default(spec: PipelineSpec | None, notebook: NotebookPod | None,
                   supported: str | None) -> tuple[str, str]:
    """The notebook volumes' mode when none was asked for, and why.

    ``supported`` is None when every mounted claim can be snapshotted, else the reason it cannot.
    """
    auto = spec.autosnapshot if spec is not None else None
    if notebook is None:
        return "none", "not running in a pod"
    if auto is False:
        return "none", "the pipeline sets autosnapshot=False"
    if not notebook.mounts:
        return "none", f"pod {notebook.name} mounts no PersistentVolumeClaim"
    if auto is True:
        return "snapshot", "the pipeline sets autosnapshot=True"
    if supported is not None:
        return "none", f"the storage cannot be snapshotted: {supported}"
    return "snapshot", "default inside a pod whose storage supports snapshots"


class Planner:
    """Builds a :class:`WorkspacePlan` from the cluster's state (reads only)."""

    def __init__(self, kube: Kube, namespace: str | None, *, snapshot_class: str | None = None,
                 environ: Mapping[str, str] | None = None, cwd: str | None = None) -> None:
        self.kube = kube
        self.namespace = namespace
        self.snapshot_class = snapshot_class
        self.environ = environ
        self.cwd = cwd or os.getcwd()
        self._classes: list[Obj] | None = None
        self._claims: dict[str, ClaimInfo] = {}

    def classes(self) -> list[Obj] | None:
        """All VolumeSnapshotClasses; None when the caller may not list them."""
        if self._classes is None:
            try:
                self._classes = self.kube.snapshot_classes()
            except AuthError:
                return None
        return self._classes

    def claim(self, namespace: str, name: str, where: str | None = None) -> ClaimInfo:
        if name not in self._claims:
            self._claims[name] = inspect_claim(self.kube, namespace, name, where)
        return self._claims[name]

    def snapshot_problem(self, info: ClaimInfo, wanted: str | None) -> str | None:
        """Why ``info`` cannot be snapshotted, or None."""
        classes = self.classes()
        if classes is None:
            return None if wanted else "may not list VolumeSnapshotClasses (name one with --snapshot-class)"
        if not self.kube.snapshot_api:
            return "the cluster has no VolumeSnapshot API (snapshot CRDs and controller not installed)"
        if not info.driver:
            return f"claim {info.name} is not on CSI storage (no driver found)"
        cls = snapshot_class_for(classes, info.driver, wanted)
        if cls is None:
            if wanted:
                return f"VolumeSnapshotClass {wanted!r} does not exist"
            return f"no VolumeSnapshotClass for driver {info.driver} (claim {info.name})"
        if cls.get("driver") and cls.get("driver") != info.driver:
            return (f"VolumeSnapshotClass {class_name(cls)!r} is for driver {cls.get('driver')}, "
                    f"claim {info.name} uses {info.driver}")
        return None

    def plan(self, spec: PipelineSpec | None, mode: str | None = None,
             volumes: Sequence[str] = ()) -> WorkspacePlan:
        """The plan for ``spec`` with ``--workspace mode`` and ``--volume`` strings."""
        if mode is not None and mode not in WORKSPACE_MODES:
            raise WorkspaceError(f"unknown workspace mode {mode!r}", where="--workspace",
                                 hint=f"use one of: {', '.join(WORKSPACE_MODES)}")
        given = [parse_volume(v, mode if mode in VOLUME_MODES else "snapshot") for v in volumes]
        named = merge_volumes(spec.volumes if spec is not None else [], given)
        origins = {v.claim: "--volume" for v in given}
        plan = self.start_plan(mode is not None and mode != "none" and not named)
        candidates = self.notebook_candidates(plan, named)
        if mode is None:
            problem = None
            for m in candidates:
                problem = problem or self.snapshot_problem(self.claim(plan.namespace, m.claim),
                                                           self.snapshot_class)
            plan.mode, plan.reason = decide_default(spec, plan.notebook, problem)
        else:
            plan.mode, plan.reason = mode, "--workspace"
            if mode != "none" and not candidates and not named:
                nb = plan.notebook
                where = "not running in a pod" if nb is None else f"pod {nb.name} mounts no PVC"
                raise WorkspaceError(f"--workspace {mode}: {where}, so there is nothing to {mode}",
                                     where="--workspace",
                                     hint="name volumes with --volume CLAIM:/mount/path[:mode]")
        if plan.mode == "none":
            plan.skipped += [f"{m.claim} at {m.mount_path}: workspace mode none" for m in candidates]
            candidates = []
        for m in candidates:
            plan.volumes.append(self.plan_volume(plan.namespace, VolumeSpec(
                claim=m.claim, mount_path=m.mount_path, mode=plan.mode),  # type: ignore[arg-type]
                "notebook", plan.reason))
        for vol in named:
            plan.volumes.append(self.plan_volume(plan.namespace, vol,
                                                 origins.get(vol.claim, "@pipeline(volumes)"), "named"))
        for planned in plan.volumes:
            plan.notes += [f"{planned.claim}: {n}" for n in (planned.info.notes if planned.info else [])]
        plan.colocate = any(v.mode != "mount" and "ReadWriteOnce" in v.access_modes for v in plan.volumes)
        if any(v.mode == "mount" for v in plan.volumes):
            plan.notes.append("mounted claims are shared with the notebook: the run is not reproducible")
        self.locate_script(plan, spec)
        return plan

    def start_plan(self, need_pod: bool) -> WorkspacePlan:
        """An empty plan in the right namespace, with the notebook pod when we run in one.

        A pod we cannot read or make sense of is fatal only when ``need_pod`` (its volumes were
        asked for); otherwise the plan goes on without it and says why."""
        forbidden = None
        try:
            notebook = discover_notebook(self.kube, self.environ)
        except (AuthError, WorkspaceError) as exc:
            if need_pod:
                raise
            notebook, forbidden = None, f"this pod's volumes are left out: {exc.one_line()}"
        identity = pod_identity(self.environ)
        namespace = self.namespace or (notebook.namespace if notebook else None) or (
            identity.namespace if identity else None)
        if not namespace:
            raise WorkspaceError("no namespace to plan the workspace in", where="--namespace",
                                 hint="pass --namespace")
        plan = WorkspacePlan(namespace=namespace, mode="none", reason="")
        if forbidden:
            plan.notes.append(forbidden)
        if notebook is not None and notebook.namespace != namespace:
            plan.notes.append(f"the notebook pod is in namespace {notebook.namespace}, the run goes to "
                              f"{namespace}: its volumes cannot be cloned there")
            notebook = None
        plan.notebook = notebook
        if notebook is not None:
            plan.image = notebook.pinned_image or notebook.image
        return plan

    @staticmethod
    def notebook_candidates(plan: WorkspacePlan, named: list[VolumeSpec]) -> list[MountedClaim]:
        """The notebook's mounted claims not overridden by a named volume (subPath mounts skipped)."""
        mounts = plan.notebook.mounts if plan.notebook else []
        claims = {v.claim for v in named}
        paths = {v.mount_path for v in named}
        candidates = [m for m in mounts if m.claim not in claims and m.mount_path not in paths]
        for m in candidates:
            if m.sub_path:
                plan.skipped.append(f"{m.claim} at {m.mount_path}: mounted with subPath {m.sub_path}")
        return [m for m in candidates if not m.sub_path]

    def plan_volume(self, namespace: str, vol: VolumeSpec, origin: str, reason: str) -> PlannedVolume:
        """Check one volume against the cluster and fill in its clone's settings."""
        where = f"--volume {vol.claim}" if origin == "--volume" else f"volume {vol.claim}"
        info = self.claim(namespace, vol.claim, where)
        if vol.mode == "mount":
            if not info.rwx:
                raise WorkspaceError(
                    f"mounting claim {vol.claim} into every step needs ReadWriteMany storage; it is "
                    f"{'/'.join(info.access_modes) or 'of unknown access mode'}", where=where,
                    hint="use mode clone or snapshot (a copy per run), which also makes runs reproducible")
            return PlannedVolume(claim=vol.claim, mount_path=vol.mount_path, mode="mount", origin=origin,
                                 reason=reason, info=info, access_modes=list(info.access_modes))
        storage_class = vol.storage_class or info.storage_class
        missing = (not info.storage_class_found if storage_class == info.storage_class
                   else self.kube.storage_class(storage_class) is None) if storage_class else False
        if missing:
            raise WorkspaceError(f"storageclass {storage_class!r} (for the copy of claim {vol.claim}) "
                                 "does not exist", where=where, hint="kubectl get storageclass")
        if vol.mode == "clone" and info.storage_class and storage_class != info.storage_class:
            raise WorkspaceError(f"a clone of claim {vol.claim} must use its storage class "
                                 f"{info.storage_class!r}, not {storage_class!r}", where=where,
                                 hint="CSI clones stay on the source's storage class; use mode snapshot")
        if not info.driver and not info.notes:
            raise WorkspaceError(f"claim {vol.claim} is not on CSI storage, so it cannot be {vol.mode}d",
                                 where=where, hint="use mode mount on RWX storage, or --workspace none")
        wanted_class = vol.snapshot_class or self.snapshot_class
        snapshot_class = None
        if vol.mode == "snapshot" and not vol.snapshot:
            problem = self.snapshot_problem(info, wanted_class)
            if problem:
                raise WorkspaceError(f"cannot snapshot claim {vol.claim}: {problem}", where=where,
                                     hint="install a VolumeSnapshotClass for the driver, pass "
                                          "--snapshot-class, or use mode clone")
            found = snapshot_class_for(self.classes() or [], info.driver, wanted_class)
            snapshot_class = class_name(found) if found else wanted_class
        if vol.snapshot and self.kube.snapshot(namespace, vol.snapshot) is None:
            raise WorkspaceError(f"volumesnapshot {vol.snapshot!r} not found in namespace {namespace!r}",
                                 where=where)
        access = list(vol.access_modes) or (["ReadWriteMany"] if info.rwx else ["ReadWriteOnce"])
        return PlannedVolume(claim=vol.claim, mount_path=vol.mount_path, mode=vol.mode, origin=origin,
                             reason=reason, info=info, size=larger(vol.size, info.size),
                             storage_class=storage_class, access_modes=access,
                             snapshot_class=snapshot_class, snapshot=vol.snapshot)

    def locate_script(self, plan: WorkspacePlan, spec: PipelineSpec | None) -> None:
        """Run the script from the workspace copy when it lives on one (same path, same cwd)."""
        if spec is None or not plan.volumes:
            return
        script = os.path.abspath(spec.script.path)

        def under(path: str) -> bool:
            return any(path == v.mount_path or path.startswith(v.mount_path.rstrip("/") + "/")
                       for v in plan.volumes)

        if under(script):
            plan.script_path = script
            plan.working_dir = self.cwd if under(self.cwd) else os.path.dirname(script)
        else:
            plan.notes.append(f"the script {script} is not on a workspace volume, "
                              "so steps do not run it from the workspace")
