"""What a local run produced: each step's status, duration and outputs (read from the runtime's
per-step record ``<marshal_dir>/.kale/steps/<step>.json``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

SUCCEEDED, FAILED, SKIPPED, CANCELLED, PENDING, RUNNING = (
    "succeeded", "failed", "skipped", "cancelled", "pending", "running")


@dataclass
class StepResult:
    """One step of a local run."""

    name: str
    status: str = PENDING
    duration: float | None = None
    returncode: int | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str | None = None
    tail: list[str] = field(default_factory=list, repr=False)

    @property
    def output_bytes(self) -> int:
        """Total size of the step's marshalled outputs."""
        return sum(int(o.get("bytes") or 0) for o in self.outputs.values())


@dataclass
class LocalRun:
    """A finished local run: ``steps`` in the pipeline's call order."""

    pipeline: str
    marshal_dir: str
    params: dict[str, Any]
    steps: dict[str, StepResult]
    duration: float = 0.0

    @property
    def succeeded(self) -> bool:
        return all(s.status == SUCCEEDED for s in self.steps.values())

    def failed_steps(self) -> list[StepResult]:
        """Steps that ran and failed."""
        return [s for s in self.steps.values() if s.status == FAILED]


def record_path(marshal_dir: str, step: str) -> str:
    """Where the step runtime writes a step's record."""
    return os.path.join(marshal_dir, ".kale", "steps", f"{step}.json")


def read_record(marshal_dir: str, step: str) -> dict[str, Any] | None:
    """The runtime's record of ``step``, or None if it wrote none (or it is unreadable)."""
    try:
        with open(record_path(marshal_dir, step), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
