"""Reading a Workflow's status: its phase, its steps (phase, duration, pod), the failed step, a summary.

Pure functions over the Workflow as a dict, shared by both backends; rendering is :mod:`kale_argo.views`'.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass
from typing import Any

from ..choices import DONE_PHASES
from ..labels import ARGO_POD_NAME_FORMAT_ANNOTATION, EXPERIMENT_LABEL, PIPELINE_LABEL

MAX_POD_PREFIX = 253 - 10 - 1  # Argo: maxK8sResourceNameLength - k8sNamingHashLength - 1


@dataclass(frozen=True)
class StepStatus:
    """One step (one pod node) of a run."""

    name: str
    phase: str
    started: str | None
    finished: str | None
    duration: float | None
    message: str
    pod: str
    node_id: str


def metadata(workflow: dict[str, Any]) -> dict[str, Any]:
    return workflow.get("metadata") or {}


def phase(workflow: dict[str, Any]) -> str:
    """The run's phase (``Pending`` before the controller picked it up)."""
    return (workflow.get("status") or {}).get("phase") or "Pending"


def is_done(workflow: dict[str, Any]) -> bool:
    return phase(workflow) in DONE_PHASES


def _time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def duration(started: str | None, finished: str | None, now: datetime.datetime | None = None) -> float | None:
    """Seconds from ``started`` to ``finished`` (or to ``now`` while running)."""
    start = _time(started)
    if start is None:
        return None
    end = _time(finished) or now
    return None if end is None else max(0.0, (end - start).total_seconds())


def fnv32a(text: str) -> int:
    """The FNV-1a 32-bit hash Argo uses in pod names."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def pod_name(workflow: dict[str, Any], node: dict[str, Any]) -> str:
    """The pod Argo creates for ``node`` (Argo's ``GeneratePodName``, pod-name format v1 or v2)."""
    name = metadata(workflow).get("name", "")
    version = (metadata(workflow).get("annotations") or {}).get(ARGO_POD_NAME_FORMAT_ANNOTATION, "v2")
    node_name = node.get("name", "")
    if version == "v1":
        return node.get("id", "")
    if node_name == name:
        return name
    prefix = name
    if ".inline" not in node_name:
        template = node.get("templateName") or (node.get("templateRef") or {}).get("template") or ""
        prefix = f"{name}-{template}"
    return f"{prefix[:MAX_POD_PREFIX]}-{fnv32a(node_name)}"


def steps(workflow: dict[str, Any], now: datetime.datetime | None = None) -> list[StepStatus]:
    """The run's pod steps, in start order (not-started ones last, by name)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    result = []
    for node_id, node in nodes.items():
        if node.get("type") != "Pod":
            continue
        node = {"id": node_id, **node}
        result.append(StepStatus(
            name=node.get("displayName") or node.get("name", node_id), phase=node.get("phase") or "Pending",
            started=node.get("startedAt"), finished=node.get("finishedAt"),
            duration=duration(node.get("startedAt"), node.get("finishedAt"), now),
            message=node.get("message") or "", pod=pod_name(workflow, node), node_id=node_id))
    return sorted(result, key=lambda s: (s.started is None, s.started or "", s.name))


def failed_step(workflow: dict[str, Any]) -> StepStatus | None:
    """The first step that failed or errored, or None."""
    failed = [s for s in steps(workflow) if s.phase in ("Failed", "Error")]
    return min(failed, key=lambda s: s.finished or "") if failed else None


def find_step(workflow: dict[str, Any], name: str) -> StepStatus | None:
    """A step by display name (Kale's ``data_loading`` matches Argo's ``data-loading`` too)."""
    wanted = {name, name.replace("_", "-")}
    return next((s for s in steps(workflow) if s.name in wanted), None)


def summary(workflow: dict[str, Any]) -> dict[str, Any]:
    """The run as a small JSON-serialisable dict (``status -o json``)."""
    meta, status = metadata(workflow), workflow.get("status") or {}
    labels = meta.get("labels") or {}
    return {
        "name": meta.get("name"), "namespace": meta.get("namespace"), "phase": phase(workflow),
        "pipeline": labels.get(PIPELINE_LABEL), "experiment": labels.get(EXPERIMENT_LABEL),
        "started": status.get("startedAt"), "finished": status.get("finishedAt"),
        "duration": duration(status.get("startedAt"), status.get("finishedAt"),
                             datetime.datetime.now(datetime.timezone.utc)),
        "message": status.get("message") or "",
        "steps": [asdict(s) for s in steps(workflow)],
    }
