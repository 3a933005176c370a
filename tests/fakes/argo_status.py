"""What Argo's workflow-controller would write: node statuses for a compiled Workflow's DAG tasks.

Both fakes use this to move a run through Pending -> Running -> Succeeded/Failed on a test's command.
"""

from __future__ import annotations

import datetime
from typing import Any

from kale_argo.cluster.status import pod_name

_T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def _ts(seconds: float) -> str:
    return (_T0 + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def dag_tasks(workflow: dict[str, Any]) -> list[tuple[str, str]]:
    """(task name, template name) of the entrypoint DAG's tasks."""
    spec = workflow.get("spec") or {}
    for template in spec.get("templates") or []:
        if template.get("name") == spec.get("entrypoint") and template.get("dag"):
            return [(t["name"], t.get("template", t["name"])) for t in template["dag"]["tasks"]]
    return []


def status(workflow: dict[str, Any], phase: str, step_phases: dict[str, str] | None = None,
           messages: dict[str, str] | None = None) -> dict[str, Any]:
    """A ``status`` for ``workflow``: run ``phase``, each named task's phase (others absent)."""
    name = workflow["metadata"]["name"]
    step_phases = step_phases or {}
    messages = messages or {}
    done = phase in ("Succeeded", "Failed", "Error")
    nodes: dict[str, Any] = {name: {"id": name, "name": name, "displayName": name, "type": "DAG",
                                    "phase": phase, "startedAt": _ts(0),
                                    **({"finishedAt": _ts(60)} if done else {})}}
    for index, (task, template) in enumerate(dag_tasks(workflow)):
        if task not in step_phases:
            continue
        node_id = f"{name}-{1000 + index}"
        node = {"id": node_id, "name": f"{name}.{task}", "displayName": task, "type": "Pod",
                "templateName": template, "phase": step_phases[task], "startedAt": _ts(index * 5)}
        if step_phases[task] in ("Succeeded", "Failed", "Error"):
            node["finishedAt"] = _ts(index * 5 + 3)
        if task in messages:
            node["message"] = messages[task]
        nodes[node_id] = node
    result: dict[str, Any] = {"phase": phase, "startedAt": _ts(0), "nodes": nodes}
    if done:
        result["finishedAt"] = _ts(60)
    return result


def pod_for(workflow: dict[str, Any], task: str) -> str:
    """The pod name Argo would give ``task``'s node (the same rule as the controller's)."""
    name = workflow["metadata"]["name"]
    template = dict(dag_tasks(workflow)).get(task, task)
    return pod_name(workflow, {"name": f"{name}.{task}", "templateName": template})
