"""Runs and pipelines for Jupyter: a compact HTML table per run (and its plain-text twin), the DAG.

Input is plain data (a run handle's ``summary()``: name, kind, phase, pipeline, namespace, link and
the steps' name, phase, duration, bytes, message), so these render without touching a cluster.
"""

from __future__ import annotations

import html
from typing import Any

from ..spec import PipelineSpec
from .text import format_duration, table

_COLOURS = {"Succeeded": "#1a7f37", "Failed": "#cf222e", "Error": "#cf222e", "Running": "#0969da",
            "Pending": "#6e7781", "Skipped": "#6e7781", "Cancelled": "#9a6700", "Omitted": "#6e7781"}


def _size(n: int | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _duration(seconds: float | None) -> str:
    return format_duration(seconds) if seconds is not None else ""


def _title(data: dict[str, Any]) -> str:
    what = "local run" if data.get("kind") == "local" else "run"
    where = f" in {data['namespace']}" if data.get("namespace") else ""
    pipeline = f" of pipeline {data['pipeline']!r}" if data.get("pipeline") else ""
    return f"{what} {data['name']}{pipeline}{where}: {data['phase']}"


def render_run(data: dict[str, Any]) -> str:
    """A run as a compact HTML table: its steps' phase, duration and output size, the UI link."""
    esc = html.escape
    phase = str(data.get("phase") or "")
    colour = _COLOURS.get(phase, "inherit")
    parts = ['<div class="kale-argo-run">',
             f'<div><b>{esc(_title(data).rsplit(": ", 1)[0])}</b>: '
             f'<span style="color:{colour}">{esc(phase)}</span>']
    if data.get("link"):
        parts.append(f' &middot; <a href="{esc(data["link"], quote=True)}" target="_blank">Argo UI</a>')
    parts.append("</div>")
    parts.append('<table style="border-collapse:collapse;font-size:90%">'
                 "<thead><tr><th style='text-align:left'>step</th><th style='text-align:left'>phase</th>"
                 "<th style='text-align:right'>duration</th><th style='text-align:right'>outputs</th>"
                 "<th style='text-align:left'>message</th></tr></thead><tbody>")
    for s in data.get("steps") or []:
        c = _COLOURS.get(s["phase"], "inherit")
        parts.append(f"<tr><td>{esc(s['name'])}</td><td style='color:{c}'>{esc(s['phase'])}</td>"
                     f"<td style='text-align:right'>{esc(_duration(s.get('duration')))}</td>"
                     f"<td style='text-align:right'>{esc(_size(s.get('bytes')))}</td>"
                     f"<td>{esc(s.get('message') or '')}</td></tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def render_run_text(data: dict[str, Any]) -> str:
    """The same as :func:`render_run`, as text (a handle's ``repr``)."""
    lines = [_title(data)]
    if data.get("link"):
        lines.append(f"Argo UI: {data['link']}")
    rows = [(s["name"], s["phase"], _duration(s.get("duration")), _size(s.get("bytes")),
             s.get("message") or "") for s in data.get("steps") or []]
    if rows:
        lines.append(table(rows, ("STEP", "PHASE", "DURATION", "OUTPUTS", "MESSAGE")))
    return "\n".join(lines)


def render_pipeline(spec: PipelineSpec, status: dict[str, str] | None = None) -> str:
    """The pipeline's DAG for a notebook: the SVG picture when :mod:`.svg` is there, else the text tree."""
    try:
        from .svg import render_svg  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        from .graph import render_graph

        return (f'<pre class="kale-argo-pipeline">{html.escape(render_graph(spec, "text"))}</pre>')
    return str(render_svg(spec, status))


def render_error(message: str) -> str:
    """A one-line error in place of a picture."""
    return f'<pre class="kale-argo-error" style="color:#cf222e">{html.escape(message)}</pre>'
