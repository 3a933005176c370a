"""The workspace plan as text (``kale-argo workspace``)."""

from __future__ import annotations

from ..cluster.workspace.plan import WorkspacePlan


def plan_lines(plan: WorkspacePlan) -> list[str]:
    """A human-readable account of ``plan``: each volume, how it reaches the steps, and why."""
    out = [f"namespace: {plan.namespace}", f"workspace: {plan.mode} ({plan.reason})"]
    if plan.notebook:
        nb = plan.notebook
        out.append(f"notebook pod: {nb.name}, container {nb.container}")
        out.append(f"image: {plan.image or nb.image}"
                   + ("" if nb.pinned_image else f" (not pinned: {nb.pin_note})"))
    for v in plan.volumes:
        target = {"snapshot": f"new VolumeSnapshot (class {v.snapshot_class}) -> cloned claim",
                  "clone": "claim cloned from the PVC (dataSource)",
                  "mount": "the PVC itself, shared (not reproducible)"}[v.mode]
        if v.snapshot:
            target = f"existing VolumeSnapshot {v.snapshot} -> cloned claim"
        detail = ", ".join(x for x in [v.size, v.storage_class and f"class {v.storage_class}",
                                       "/".join(v.access_modes)] if x)
        out.append(f"  {v.claim} at {v.mount_path}: {v.mode}: {target} [{detail}] (from {v.origin})")
    out += [f"  skipped {line}" for line in plan.skipped]
    if plan.colocate:
        out.append("co-located: claims are ReadWriteOnce, so all of the run's pods share one node")
    if plan.script_path:
        out.append(f"script: {plan.script_path} (working dir {plan.working_dir})")
    out += [f"note: {line}" for line in plan.notes]
    return out
