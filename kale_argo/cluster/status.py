"""Reading a Workflow's status: its phase, its steps (phase, duration, pod), the failed step, a summary.

Pure functions over the Workflow as a dict, shared by both backends; rendering is :mod:`kale_argo.views`'.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from ..choices import DONE_PHASES
from ..labels import ARGO_POD_NAME_FORMAT_ANNOTATION, EXPERIMENT_LABEL, PIPELINE_LABEL

MAX_POD_PREFIX = 253 - 10 - 1  # Argo: maxK8sResourceNameLength - k8sNamingHashLength - 1


@dataclass(frozen=True)
class StepStatus:
    """One step (one pod node) of a run: ``name`` as the user wrote it (Kale's ``train_model``),
    ``task`` the Argo task name (``train-model``)."""

    name: str
    phase: str
    started: str | None
    finished: str | None
    duration: float | None
    message: str
    pod: str
    node_id: str
    task: str = ""


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


_INSTANCE = re.compile(r"(.+)\((\d+):.*\)\Z")


def dag_tasks(workflow: dict[str, Any]) -> list[tuple[str, str]]:
    """(Argo task name, step name as written) of the entrypoint DAG's tasks, in pipeline order.

    The step name comes from the task's ``call`` parameter (kale-argo's compiled runs); a task
    without one keeps its Argo name. A run started from a WorkflowTemplate (``workflowTemplateRef``)
    has its DAG in the spec Argo stored when it started (``status.storedWorkflowTemplateSpec``).
    """
    spec = workflow.get("spec") or {}
    if not spec.get("templates"):
        spec = {**((workflow.get("status") or {}).get("storedWorkflowTemplateSpec") or {}),
                **{k: v for k, v in spec.items() if k == "entrypoint"}}
    for template in spec.get("templates") or []:
        if template.get("name") != spec.get("entrypoint") or not template.get("dag"):
            continue
        result = []
        for task in template["dag"].get("tasks") or []:
            step = task.get("name", "")
            for param in (task.get("arguments") or {}).get("parameters") or []:
                if param.get("name") == "call":
                    with contextlib.suppress(ValueError, AttributeError):
                        step = json.loads(param.get("value") or "{}").get("step") or step
            result.append((task.get("name", ""), step))
        return result
    return []


def steps(workflow: dict[str, Any], now: datetime.datetime | None = None) -> list[StepStatus]:
    """The run's pod steps, in pipeline order (the DAG's; others after, in start order)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    tasks = dag_tasks(workflow)
    order = {task: i for i, (task, _) in enumerate(tasks)}
    written = dict(tasks)
    result = []
    for node_id, node in nodes.items():
        kind = node.get("type")
        shown = kind == "Pod" or (kind == "Skipped" and node.get("phase") == "Skipped") or (
            kind == "TaskGroup" and not node.get("children"))  # `when` false; a fan-out of nothing
        if not shown:
            continue
        node = {"id": node_id, **node}
        task = node.get("displayName") or node.get("name", node_id)
        instance = _INSTANCE.match(task)  # a fan-out's pod: train(2:2) is train[2], as locally
        if instance:
            task = instance.group(1)
        name = written.get(task, task) + (f"[{instance.group(2)}]" if instance else "")
        result.append(StepStatus(
            name=name, phase=node.get("phase") or "Pending",
            started=node.get("startedAt"), finished=node.get("finishedAt"),
            duration=duration(node.get("startedAt"), node.get("finishedAt"), now),
            message=node.get("message") or "", pod=pod_name(workflow, node) if kind == "Pod" else "",
            node_id=node_id, task=task))
    return sorted(result, key=lambda s: (order.get(s.task, len(order)), s.started is None, s.started or "",
                                         s.name))


def planned_steps(workflow: dict[str, Any], now: datetime.datetime | None = None) -> list[StepStatus]:
    """Every step of the pipeline in pipeline order: those with no pod yet as ``Pending``."""
    started = steps(workflow, now)
    seen = {s.task for s in started}
    waiting = [StepStatus(step, "Pending", None, None, None, "", "", "", task)
               for task, step in dag_tasks(workflow) if task not in seen]
    order = {task: i for i, (task, _) in enumerate(dag_tasks(workflow))}
    return sorted([*started, *waiting], key=lambda s: order.get(s.task, len(order)))


def failed_step(workflow: dict[str, Any]) -> StepStatus | None:
    """The first step that failed or errored, or None."""
    failed = [s for s in steps(workflow) if s.phase in ("Failed", "Error")]
    return min(failed, key=lambda s: s.finished or "") if failed else None


def find_step(workflow: dict[str, Any], name: str) -> StepStatus | None:
    """A step by the name written (``data_loading``) or its Argo task name (``data-loading``)."""
    chosen = steps(workflow)
    exact = next((s for s in chosen if name in (s.name, s.task)), None)
    return exact or next((s for s in chosen if name.replace("_", "-") in (s.name, s.task)), None)


def summary(workflow: dict[str, Any]) -> dict[str, Any]:
    """The run as a small JSON-serialisable dict (``get -o summary``)."""
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
