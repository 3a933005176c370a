"""The per-step record ``<marshal_dir>/.kale/steps/<step>.json`` that executors summarise from."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from .marshal.files import write_json_atomic

STEPS_DIR = os.path.join(".kale", "steps")


def record_path(marshal_dir: str, step: str) -> str:
    """Where the record of ``step`` is written."""
    return os.path.join(marshal_dir, STEPS_DIR, re.sub(r"[^A-Za-z0-9_.-]", "_", step) + ".json")


def write_record(marshal_dir: str, step: str, *, status: str, started: float, finished: float,
                 outputs: dict[str, dict[str, Any]], error: str | None) -> dict[str, Any]:
    """Write the record atomically: {step, status, started, finished, outputs, error}."""
    record = {"step": step, "status": status, "started": started, "finished": finished,
              "outputs": outputs, "error": error}
    write_json_atomic(record_path(marshal_dir, step), record, sync=False)
    return record


def read_record(marshal_dir: str, step: str) -> dict[str, Any] | None:
    """The record of ``step``, or None if it has not finished (or never ran)."""
    try:
        with open(record_path(marshal_dir, step)) as fh:
            return json.load(fh)
    except (FileNotFoundError, ValueError):
        return None
