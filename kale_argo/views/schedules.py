"""Schedules (CronWorkflows) and templates (WorkflowTemplates) as text: ``schedule list``,
``template list`` and what ``schedule``/``template push`` created."""

from __future__ import annotations

from typing import Any, TextIO

from ..labels import PIPELINE_LABEL
from .text import render_data, table

LIST_OUTPUTS = ("table", "name", "json", "yaml")


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _parameters(spec: dict[str, Any]) -> str:
    params = (spec.get("arguments") or {}).get("parameters") or []
    return ",".join(
        f"{p.get('name')}={p.get('value')}" for p in params if not str(p.get("name", "")).startswith("kale-")
    )


def render_schedules(items: list[dict[str, Any]], fmt: str, out: TextIO) -> None:
    """``schedule list -o table|name|json|yaml``: name, schedule, time zone, suspended, last run."""
    if _data(items, fmt, out):
        return
    rows = []
    for obj in items:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        rows.append(
            [
                _meta(obj).get("name", ""),
                " | ".join(spec.get("schedules") or [spec.get("schedule", "")]),
                spec.get("timezone") or "",
                "yes" if spec.get("suspend") else "no",
                spec.get("concurrencyPolicy") or "Allow",
                status.get("lastScheduledTime") or "",
                (_meta(obj).get("labels") or {}).get(PIPELINE_LABEL, ""),
                _parameters(spec.get("workflowSpec") or {}),
            ]
        )
    out.write(
        table(
            rows,
            [
                "NAME",
                "SCHEDULE",
                "TIMEZONE",
                "SUSPENDED",
                "CONCURRENCY",
                "LAST RUN",
                "PIPELINE",
                "PARAMETERS",
            ],
        )
        + "\n"
    )


def render_templates(items: list[dict[str, Any]], fmt: str, out: TextIO) -> None:
    """``template list -o table|name|json|yaml``: name, pipeline, parameters (defaults), created."""
    if _data(items, fmt, out):
        return
    rows = [
        [
            _meta(obj).get("name", ""),
            (_meta(obj).get("labels") or {}).get(PIPELINE_LABEL, ""),
            _parameters(obj.get("spec") or {}),
            _meta(obj).get("creationTimestamp") or "",
        ]
        for obj in items
    ]
    out.write(table(rows, ["NAME", "PIPELINE", "PARAMETERS", "CREATED"]) + "\n")


def _data(items: list[dict[str, Any]], fmt: str, out: TextIO) -> bool:
    if fmt in ("json", "yaml"):
        render_data(items, fmt, out)
        return True
    if fmt == "name":
        out.write("".join(f"{_meta(o).get('name')}\n" for o in items))
        return True
    return False


def describe_published(published: Any) -> str:
    """One sentence about a created or updated schedule or template (and its Argo UI link)."""
    spec = published.manifest.get("spec") or {}
    cron = published.kind == "CronWorkflow"
    verb = "updated" if published.updated else "created"
    text = f"{'schedule' if cron else 'template'} {published.name} {verb} in namespace {published.namespace}"
    if cron:
        zone = f" ({spec['timezone']})" if spec.get("timezone") else ""
        text += f": {', '.join(spec.get('schedules') or [])}{zone}" + (
            ", suspended" if spec.get("suspend") else ""
        )
    else:
        start = f"argo submit --from workflowtemplate/{published.name} -n {published.namespace}"
        text += f"; start a run with: {start}"
    return text + (f"\nArgo UI: {published.link}" if published.link else "")


def render_published(published: Any, fmt: str, out: TextIO) -> None:
    """What ``schedule`` or ``template push`` made: a sentence (and the UI link), its name, or the object."""
    if fmt in ("json", "yaml"):
        render_data(published.manifest, fmt, out)
    elif fmt == "name":
        out.write(f"{published.name}\n")
    else:
        out.write(f"{published}\n")
    out.flush()
