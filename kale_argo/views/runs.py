"""Runs on a cluster as text: ``status``, ``list``, the live view of ``--watch`` and the failure report."""

from __future__ import annotations

from typing import Any, TextIO

from ..choices import DONE_PHASES
from ..cluster.follow import Failure
from ..cluster.status import metadata, phase, steps, summary
from .text import format_duration, render_data, table


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


def render_list(workflows: list[dict[str, Any]], fmt: str, out: TextIO) -> None:
    """``list -o table|yaml|json``: one row (or summary) per run, newest first."""
    if fmt in ("json", "yaml"):
        render_data([summary(w) for w in workflows], fmt, out)
        return
    ordered = sorted(workflows, key=lambda w: metadata(w).get("creationTimestamp") or "", reverse=True)
    rows = []
    for wf in ordered:
        data = summary(wf)
        rows.append((data["name"], data["phase"], data["pipeline"] or "", data["experiment"] or "",
                     metadata(wf).get("creationTimestamp") or "", format_duration(data["duration"])))
    out.write(table(rows, ("NAME", "PHASE", "PIPELINE", "EXPERIMENT", "CREATED", "DURATION")) + "\n")


def render_failure(failure: Failure, out: TextIO) -> None:
    """Which step failed, and the tail of its log."""
    out.write(failure.reason + "\n")
    if failure.log_error:
        out.write(f"  (its log is not available: {failure.log_error})\n")
    if failure.log and failure.step:
        out.write(f"--- last {len(failure.log)} lines of {failure.step}'s log ---\n")
        for line in failure.log:
            out.write(f"  {line}\n")


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
