"""Runs on a cluster as text: ``get``/``status``, ``list``, ``submit``'s result and the failure report.

``-o json|yaml`` is the Workflow object itself (argo's shape: ``jq .status.phase`` works);
``-o summary`` is kale-argo's small summary; ``-o name`` the name alone; ``-o wide`` adds the
Argo task and pod names.
"""

from __future__ import annotations

from typing import Any, TextIO

from ..cluster.follow import Failure
from ..cluster.status import metadata, planned_steps, summary
from .style import paint, use_colour
from .text import format_duration, render_data, table


def render_status(workflow: dict[str, Any], fmt: str, out: TextIO) -> None:
    """``get -o table|wide|json|yaml|name|summary``."""
    if fmt in ("json", "yaml"):
        render_data(workflow, fmt, out)
        return
    if fmt == "name":
        out.write(f"{metadata(workflow).get('name')}\n")
        return
    data = summary(workflow)
    if fmt == "summary":
        render_data(data, "json", out)
        return
    colour = use_colour(out)
    out.write(f"Run:      {data['name']}  ({data['namespace']})\n")
    out.write(f"Phase:    {paint(data['phase'], data['phase'], colour)}")
    out.write(f"  {format_duration(data['duration'])}\n" if data["duration"] is not None else "\n")
    if data["pipeline"]:
        out.write(f"Pipeline: {data['pipeline']}\n")
    if data["message"]:
        out.write(f"Message:  {data['message']}\n")
    wide = fmt == "wide"
    rows = []
    for s in planned_steps(workflow):
        row = [s.name, (s.phase, s.phase), format_duration(s.duration)]
        if wide:
            row += [s.task, s.pod or "-"]
        rows.append([*row, s.message])
    if rows:
        header = ["STEP", "PHASE", "DURATION", *(["TASK", "POD"] if wide else []), "MESSAGE"]
        out.write(coloured_table(rows, header, colour) + "\n")


def coloured_table(rows: list[list[Any]], header: list[str], colour: bool) -> str:
    """:func:`table` where a cell ``(text, phase)`` is painted in the phase's colour (aligned on the
    plain text)."""
    plain = [[c[0] if isinstance(c, tuple) else c for c in row] for row in rows]
    lines = table(plain, header).split("\n")
    if not colour:
        return "\n".join(lines)
    widths = [max(len(str(r[i] if r[i] is not None else "")) for r in [header, *plain])
              for i in range(len(header))]
    result = [lines[0]]
    for row in rows:
        cells = []
        for cell, width in zip(row, widths, strict=True):
            text = str(cell[0] if isinstance(cell, tuple) else "" if cell is None else cell)
            padded = text.ljust(width)
            cells.append(paint(padded, cell[1], True) if isinstance(cell, tuple) else padded)
        result.append("  ".join(cells).rstrip())
    return "\n".join(result)


def render_list(workflows: list[dict[str, Any]], fmt: str, out: TextIO) -> None:
    """``list -o table|wide|name|json|yaml|summary``: one row per run, newest first.

    ``json``/``yaml`` are a WorkflowList's ``items`` (the Workflow objects)."""
    ordered = sorted(workflows, key=lambda w: metadata(w).get("creationTimestamp") or "", reverse=True)
    if fmt in ("json", "yaml"):
        render_data(ordered, fmt, out)
        return
    if fmt == "summary":
        render_data([summary(w) for w in ordered], "json", out)
        return
    if fmt == "name":
        out.write("".join(f"{metadata(w).get('name')}\n" for w in ordered))
        return
    colour = use_colour(out)
    wide = fmt == "wide"
    rows = []
    for wf in ordered:
        data = summary(wf)
        row: list[Any] = [data["name"], (data["phase"], data["phase"]), data["pipeline"] or "",
                          data["experiment"] or "", metadata(wf).get("creationTimestamp") or "",
                          format_duration(data["duration"])]
        if wide:
            done = sum(1 for s in data["steps"] if s["phase"] == "Succeeded")
            params = ",".join(f"{p.get('name')}={p.get('value')}" for p in
                              ((wf.get("spec") or {}).get("arguments") or {}).get("parameters") or []
                              if not str(p.get("name", "")).startswith("kale-"))
            row = [data["namespace"] or "", *row, f"{done}/{len(planned_steps(wf))}", params,
                   data["message"]]
        rows.append(row)
    header = ["NAME", "PHASE", "PIPELINE", "EXPERIMENT", "CREATED", "DURATION"]
    if wide:
        header = ["NAMESPACE", *header, "STEPS", "PARAMETERS", "MESSAGE"]
    out.write(coloured_table(rows, header, colour) + "\n")


def render_submitted(workflow: dict[str, Any], link: str | None, fmt: str, out: TextIO) -> None:
    """``submit -o text|name|json|yaml``: the created run."""
    if fmt in ("json", "yaml"):
        render_data(workflow, fmt, out)
    elif fmt == "name":
        out.write(f"{metadata(workflow).get('name')}\n")
    else:
        meta = metadata(workflow)
        out.write(f"Submitted run {meta.get('name')} in namespace {meta.get('namespace')}\n")
        if link:
            out.write(f"Argo UI: {link}\n")
    out.flush()


def render_failure(failure: Failure, out: TextIO) -> None:
    """Which step failed, and the tail of its log."""
    out.write(failure.reason + "\n")
    if failure.log_error:
        out.write(f"  (its log is not available: {failure.log_error})\n")
    if failure.log and failure.step:
        out.write(f"--- last {len(failure.log)} lines of {failure.step}'s log ---\n")
        for line in failure.log:
            out.write(f"  {line}\n")


def LiveView(out: TextIO) -> Any:
    """The live view for ``out`` (see :func:`kale_argo.views.live.live_view`)."""
    from .live import live_view

    return live_view(out)
