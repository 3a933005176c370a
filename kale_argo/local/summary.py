"""The closing summary of a local run: one row per step with status, duration and output sizes."""

from __future__ import annotations

from ..runtime.progress import human_bytes
from .result import SKIPPED, LocalRun, StepResult


def _outputs(step: StepResult) -> str:
    if step.status == SKIPPED and step.error:  # why: its condition was false, nothing to fan out over
        return step.error
    if not step.outputs:
        return "-"
    return ", ".join(f"{key} {human_bytes(int(info.get('bytes') or 0))}"
                     for key, info in step.outputs.items())


def format_summary(run: LocalRun) -> str:
    """The summary table as text (no trailing newline)."""
    rows = [("step", "status", "duration", "outputs")]
    for step in run.steps.values():
        duration = "-" if step.duration is None else f"{step.duration:.2f}s"
        status = step.status + (f" ({step.attempts} tries)" if step.attempts > 1 else "")
        if step.kept:
            status += " (kept)"
        if step.cached is not None:
            status += f" (cached, saved {step.cached:.2f}s)"
        rows.append((step.name, status, duration, _outputs(step)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
             for r in rows]
    counts: dict[str, int] = {}
    for step in run.steps.values():
        counts[step.status] = counts.get(step.status, 0) + 1
    tally = ", ".join(f"{n} {status}" for status, n in counts.items())
    cached = [s.cached for s in run.steps.values() if s.cached is not None]
    if cached:
        tally += f" ({len(cached)} from the step cache, {sum(cached):.2f}s saved)"
    lines.append(f"pipeline {run.pipeline!r}: {tally} in {run.duration:.2f}s")
    lines.append(f"marshal dir: {run.marshal_dir}")
    for node, files in run.artifacts.items():
        lines.extend(f"artifact {node}/{name}: {path}" for name, path in files.items())
    return "\n".join(lines)
