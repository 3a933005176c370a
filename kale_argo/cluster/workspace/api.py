"""The workspace layer's entry points, as the cluster layer's ``submit_pipeline`` calls them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from ...errors import ClusterError, KaleArgoError
from ...labels import RUN_LABEL, WORKSPACE_ANNOTATION
from ...spec import PipelineSpec, RunWorkspace, VolumeSpec
from ..kube import Kube, Obj, owner_reference
from .pending import explain_pending_claims
from .plan import Planner, WorkspacePlan
from .preflight import check_access
from .snapshots import (
    delete_snapshots,
    new_token,
    progress,
    snapshot_body,
    snapshot_name,
    wait_ready,
)
from .storage import marshal_needs_colocation

__all__ = ["PreparedWorkspace", "explain_pending_claims", "marshal_colocation", "plan_workspace",
           "prepare_workspace"]


@dataclass
class PreparedWorkspace:
    """What :func:`prepare_workspace` made: volumes (snapshot names filled), image, script location.

    ``snapshots`` are the VolumeSnapshot names this object created (and may delete or adopt).
    """

    namespace: str
    volumes: list[VolumeSpec] = field(default_factory=list)
    default_image: str | None = None
    script_path: str | None = None
    working_dir: str | None = None
    colocate: bool = False
    annotations: dict[str, str] = field(default_factory=dict)
    snapshots: list[str] = field(default_factory=list)
    keep_snapshots: bool = False
    api_client: Any = None
    plan: WorkspacePlan | None = None

    @property
    def result(self) -> RunWorkspace:
        """What the run gets: volumes (snapshots filled in), image, script location, co-location."""
        return RunWorkspace(volumes=tuple(self.volumes), image=self.default_image,
                            script_path=self.script_path, working_dir=self.working_dir,
                            colocate=self.colocate, annotations=dict(self.annotations))

    def rollback(self) -> list[str]:
        """Delete the VolumeSnapshots this workspace created (idempotent; missing ones are fine).

        Returns one line per snapshot that could not be deleted (empty when all went)."""
        if not self.snapshots or self.api_client is None:
            return []
        failed = delete_snapshots(Kube(self.api_client), self.namespace, self.snapshots)
        self.snapshots = []
        return failed

    def adopt(self, workflow: dict[str, Any]) -> list[str]:
        """Tie each created snapshot to the created Workflow: a ``kale-argo.io/workflow`` label and,
        unless ``keep_snapshots``, an ownerReference (deleting the run deletes them).

        ``workflow`` is the Workflow as the server returned it (metadata.name and .uid). The run
        exists by now, so nothing is raised: returns one line per snapshot that could not be tied.
        """
        if not self.snapshots or self.api_client is None:
            return []
        kube = Kube(self.api_client)
        meta = workflow.get("metadata") or {}
        patch: dict[str, Any] = {"metadata": {"labels": {RUN_LABEL: str(meta.get("name", ""))}}}
        if not self.keep_snapshots:
            try:
                patch["metadata"]["ownerReferences"] = [owner_reference(workflow)]
            except ClusterError as exc:
                return [f"{name}: {exc}" for name in self.snapshots]
        failed = []
        for name in self.snapshots:
            try:
                kube.patch_snapshot(self.namespace, name, patch)
            except KaleArgoError as exc:
                failed.append(f"{name}: {exc.one_line()}")
        return failed


def workspace_record(volumes: Sequence[VolumeSpec], plan: WorkspacePlan) -> str:
    """The Workflow annotation value: where the workspace came from and why (the compiler's
    ``kale-argo.io/volumes`` annotation records each claim's clone)."""
    nb = plan.notebook
    record = {"mode": plan.mode, "reason": plan.reason,
              "pod": f"{nb.namespace}/{nb.name}" if nb else None, "container": nb.container if nb else None,
              "image": plan.image,
              "volumes": [{"claim": v.claim, "mountPath": v.mount_path, "mode": v.mode,
                           "snapshot": v.snapshot, "origin": p.origin}
                          for v, p in zip(volumes, plan.volumes, strict=True)]}
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def marshal_colocation(api_client: Any, spec: PipelineSpec) -> str | None:
    """Why the run must be co-located (its marshal storage class is not known to serve
    ReadWriteMany), or None; for submits that skip :func:`prepare_workspace` (mode none)."""
    return marshal_needs_colocation(Kube(api_client), spec)


def plan_workspace(api_client: Any, namespace: str | None, spec: PipelineSpec | None, *,
                   mode: str | None = None, volumes: Sequence[str] = (),
                   snapshot_class: str | None = None, environ: Mapping[str, str] | None = None,
                   cwd: str | None = None) -> WorkspacePlan:
    """What :func:`prepare_workspace` would do, with reasons, creating nothing."""
    kube = Kube(api_client)
    plan = Planner(kube, namespace, snapshot_class=snapshot_class, environ=environ, cwd=cwd).plan(
        spec, mode, volumes)
    if spec is not None and (why := marshal_needs_colocation(kube, spec)):
        plan.colocate = True
        plan.notes.append(why)
    return plan


def prepare_workspace(
    api_client: Any,
    namespace: str | None,
    spec: PipelineSpec,
    *,
    mode: str | None = None,
    volumes: Sequence[str] = (),
    out: TextIO | None = None,
    keep_snapshots: bool = False,
    snapshot_class: str | None = None,
    timeout: float = 300.0,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
    progress_every: float = 10.0,
) -> PreparedWorkspace:
    """Discover, preflight and (for snapshot mode) snapshot the run's workspace volumes.

    ``mode``: "snapshot" | "clone" | "mount" | "none" | None (default: spec.autosnapshot, else
    snapshot inside a pod whose storage supports it, none elsewhere). ``volumes``:
    ``CLAIM:/mount/path[:snapshot|clone|mount]`` strings from ``--volume``, added to ``spec.volumes``
    (named volumes are used even with mode "none"). ``namespace`` None means the notebook's.
    ``out`` receives progress lines. ``environ``/``cwd`` default to the process's (tests pass them).
    Raises WorkspaceError (exit 2) naming what is missing; if anything fails after a snapshot was
    made, the snapshots are deleted before the error propagates.
    """
    kube = Kube(api_client)
    plan = plan_workspace(api_client, namespace, spec, mode=mode, volumes=volumes,
                          snapshot_class=snapshot_class, environ=environ, cwd=cwd)
    check_access(kube, plan, keep_snapshots)
    prepared = PreparedWorkspace(namespace=plan.namespace, default_image=plan.image,
                                 script_path=plan.script_path, working_dir=plan.working_dir,
                                 colocate=plan.colocate, keep_snapshots=keep_snapshots,
                                 api_client=api_client, plan=plan)
    for line in plan.notes:
        progress(out, f"note: {line}")
    try:
        made = _take_snapshots(kube, plan, spec, prepared, out, timeout, progress_every)
    except BaseException:
        failed = prepared.rollback()
        for line in failed:
            progress(out, f"could not delete snapshot {line}")
        raise
    prepared.volumes = [v.to_spec(*made.get(v.claim, (None, None))) for v in plan.volumes]
    prepared.annotations = {WORKSPACE_ANNOTATION: workspace_record(prepared.volumes, plan)}
    return prepared


def _take_snapshots(kube: Kube, plan: WorkspacePlan, spec: PipelineSpec, prepared: PreparedWorkspace,
                    out: TextIO | None, timeout: float, progress_every: float) -> dict[str, tuple[str, Any]]:
    """Create and await the plan's snapshots; claim -> (snapshot name, restoreSize)."""
    todo = plan.to_snapshot()
    if not todo:
        return {}
    token = new_token()
    names: dict[str, str] = {}
    for vol in todo:
        name = snapshot_name(spec.name, vol.claim, token)
        body: Obj = snapshot_body(name, plan.namespace, vol.claim, vol.snapshot_class, token, spec.name)
        prepared.snapshots.append(name)  # first: a create whose answer is lost is rolled back too
        kube.create_snapshot(plan.namespace, body)
        names[name] = vol.claim
        progress(out, f"snapshot {name} of claim {vol.claim} (class {vol.snapshot_class}) created")
    sizes = wait_ready(kube, plan.namespace, names, token, timeout=timeout, out=out,
                       progress_every=progress_every)
    return {claim: (name, sizes.get(name)) for name, claim in names.items()}


