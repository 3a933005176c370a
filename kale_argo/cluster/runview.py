"""Reading a Workflow's status: its steps (phase, duration, pod), the failed step, tables and YAML.

Pure functions over the Workflow as a dict, shared by both backends and the CLI.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from .labels import ARGO_POD_NAME_FORMAT_ANNOTATION, DONE_PHASES, EXPERIMENT_LABEL, PIPELINE_LABEL

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


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


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


def table(rows: Iterable[Iterable[Any]], header: Iterable[str]) -> str:
    """A plain left-aligned text table."""
    data = [[str(c) for c in header], *[["" if c is None else str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in data) for i in range(len(data[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in data)


def render_data(data: Any, fmt: str, out: TextIO) -> None:
    """``data`` (summaries) as ``-o json`` or ``-o yaml``."""
    if fmt == "json":
        out.write(json.dumps(data, indent=2) + "\n")
    else:
        import yaml

        out.write(yaml.safe_dump(data, sort_keys=False))


def render_status(workflow: dict[str, Any], fmt: str, out: TextIO) -> None:
    """``status -o table|yaml|json``."""
    data = summary(workflow)
    if fmt in ("json", "yaml"):
        render_data(data, fmt, out)
        return
    out.write(f"Run:      {data['name']}  ({data['namespace']})\n")
    out.write(f"Phase:    {data['phase']}")
    out.write(f"  {format_duration(data['duration'])}\n" if data["duration"] is not None else "\n")
    if data["pipeline"]:
        out.write(f"Pipeline: {data['pipeline']}\n")
    if data["message"]:
        out.write(f"Message:  {data['message']}\n")
    rows = [(s["name"], s["phase"], format_duration(s["duration"]), s["message"]) for s in data["steps"]]
    if rows:
        out.write(table(rows, ("STEP", "PHASE", "DURATION", "MESSAGE")) + "\n")


def render_list(workflows: list[dict[str, Any]], out: TextIO) -> None:
    """``list``: one row per run, newest first."""
    ordered = sorted(workflows, key=lambda w: metadata(w).get("creationTimestamp") or "", reverse=True)
    rows = []
    for wf in ordered:
        data = summary(wf)
        rows.append((data["name"], data["phase"], data["pipeline"] or "", data["experiment"] or "",
                     metadata(wf).get("creationTimestamp") or "", format_duration(data["duration"])))
    out.write(table(rows, ("NAME", "PHASE", "PIPELINE", "EXPERIMENT", "CREATED", "DURATION")) + "\n")


class LiveView:
    """Prints one line per step phase change, and the run's phase changes: ``--watch``'s view."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.seen: dict[str, str] = {}
        self.run_phase: str | None = None

    def update(self, workflow: dict[str, Any]) -> None:
        run_phase = phase(workflow)
        if run_phase != self.run_phase:
            self.run_phase = run_phase
            self.out.write(f"{metadata(workflow).get('name')}: {run_phase}\n")
        for step in steps(workflow):
            if self.seen.get(step.node_id) == step.phase:
                continue
            self.seen[step.node_id] = step.phase
            took = f"  {format_duration(step.duration)}" if step.phase in DONE_PHASES | {"Skipped"} else ""
            message = f"  {step.message}" if step.message and step.phase in ("Failed", "Error") else ""
            self.out.write(f"  {step.name:<24} {step.phase}{took}{message}\n")
        self.out.flush()
