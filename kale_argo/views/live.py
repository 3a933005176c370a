"""``--watch`` and ``kale-argo watch``: a run's steps while it runs.

In a terminal, one table redrawn in place (pipeline order, aligned, elapsed time ticking each
second, colour unless ``NO_COLOR``); otherwise (a pipe, a CI log) one plain line per change and a
heartbeat line every :data:`HEARTBEAT` seconds while nothing changes.
"""

from __future__ import annotations

import datetime
import threading
import time
from typing import Any, Protocol, TextIO

from ..choices import DONE_PHASES
from ..cluster.status import metadata, phase, planned_steps, steps
from .style import paint, use_colour
from .text import format_duration

HEARTBEAT = 30.0  # seconds between "still running" lines when not a terminal
TICK = 1.0  # seconds between redraws of the table in a terminal


class View(Protocol):
    def update(self, workflow: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def live_view(out: TextIO) -> View:
    """A :class:`TableView` on a terminal, else a :class:`LineView`."""
    isatty = getattr(out, "isatty", None)
    return TableView(out) if isatty and isatty() else LineView(out)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _elapsed(workflow: dict[str, Any], now: datetime.datetime) -> float | None:
    from ..cluster.status import duration

    status = workflow.get("status") or {}
    return duration(status.get("startedAt"), status.get("finishedAt"), now)


def table_lines(workflow: dict[str, Any], colour: bool, now: datetime.datetime | None = None) -> list[str]:
    """The live table: a title line, then one aligned line per step in pipeline order."""
    now = now or _now()
    run_phase = phase(workflow)
    elapsed = _elapsed(workflow, now)
    title = f"{metadata(workflow).get('name')}  {paint(run_phase, run_phase, colour)}" + (
        f"  {format_duration(elapsed)}" if elapsed is not None else "")
    chosen = planned_steps(workflow, now)
    width = max([4, *(len(s.name) for s in chosen)])
    lines = [title, f"  {'STEP'.ljust(width)}  {'PHASE'.ljust(9)}  DURATION"]
    for s in chosen:
        took = format_duration(s.duration) if s.started else ""
        message = f"  {s.message}" if s.message and s.phase in ("Failed", "Error") else ""
        lines.append(f"  {s.name.ljust(width)}  {paint(s.phase.ljust(9), s.phase, colour)}  "
                     f"{took}{message}".rstrip())
    return lines


class TableView:
    """One table, redrawn in place on each change and every :data:`TICK` seconds."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.colour = use_colour(out)
        self.workflow: dict[str, Any] | None = None
        self.drawn = 0
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        self.ticker.start()

    def _tick(self) -> None:
        while not self.stopped.wait(TICK):
            self._draw()

    def _draw(self) -> None:
        with self.lock:
            if self.workflow is None:
                return
            lines = table_lines(self.workflow, self.colour)
            up = f"\x1b[{self.drawn}F" if self.drawn else ""
            self.out.write(up + "".join(f"{line}\x1b[K\n" for line in lines) + "\x1b[J")
            self.out.flush()
            self.drawn = len(lines)

    def update(self, workflow: dict[str, Any]) -> None:
        with self.lock:
            self.workflow = workflow
        self._draw()

    def close(self) -> None:
        self.stopped.set()
        self.ticker.join()
        self._draw()


class LineView:
    """One line per step phase change and per run phase change; a heartbeat while quiet."""

    def __init__(self, out: TextIO, heartbeat: float = HEARTBEAT) -> None:
        self.out = out
        self.seen: dict[str, str] = {}
        self.run_phase: str | None = None
        self.heartbeat = heartbeat
        self.last = time.monotonic()
        self.workflow: dict[str, Any] | None = None
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        self.ticker.start()

    def _tick(self) -> None:
        while not self.stopped.wait(min(self.heartbeat, 5.0)):
            with self.lock:
                if self.workflow is None or time.monotonic() - self.last < self.heartbeat:
                    continue
                running = [s.name for s in steps(self.workflow) if s.phase == "Running"]
                elapsed = _elapsed(self.workflow, _now())
                self.out.write(f"{metadata(self.workflow).get('name')}: still {phase(self.workflow)}"
                               + (f" after {format_duration(elapsed)}" if elapsed is not None else "")
                               + (f"; running: {', '.join(running)}" if running else "") + "\n")
                self.out.flush()
                self.last = time.monotonic()

    def update(self, workflow: dict[str, Any]) -> None:
        with self.lock:
            self.workflow = workflow
            run_phase = phase(workflow)
            wrote = False
            if run_phase != self.run_phase:
                self.run_phase = run_phase
                self.out.write(f"{metadata(workflow).get('name')}: {run_phase}\n")
                wrote = True
            chosen = planned_steps(workflow)
            width = max([4, *(len(s.name) for s in chosen)])
            for step in steps(workflow):
                if self.seen.get(step.node_id) == step.phase:
                    continue
                self.seen[step.node_id] = step.phase
                took = format_duration(step.duration) if step.phase in DONE_PHASES | {"Skipped"} else ""
                message = f"  {step.message}" if step.message and step.phase in ("Failed", "Error") else ""
                self.out.write(f"  {step.name.ljust(width)}  {step.phase.ljust(9)}  {took}{message}".rstrip()
                               + "\n")
                wrote = True
            if wrote:
                self.last = time.monotonic()
            self.out.flush()

    def close(self) -> None:
        self.stopped.set()
        self.ticker.join()
