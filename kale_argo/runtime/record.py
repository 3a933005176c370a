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
                 outputs: dict[str, dict[str, Any]], error: str | None,
                 run_id: str | None = None, cached: float | None = None) -> dict[str, Any]:
    """Write the record atomically: {step, status, started, finished, outputs, error} (and
    ``run``, the run's id, when it has one; ``cached``, the duration of the run that stored the
    outputs, when they came from the step cache)."""
    record: dict[str, Any] = {"step": step, "status": status, "started": started,
                              "finished": finished, "outputs": outputs, "error": error}
    if run_id is not None:
        record["run"] = run_id
    if cached is not None:
        record["cached"] = cached
    write_json_atomic(record_path(marshal_dir, step), record, sync=False)
    return record


def read_record(marshal_dir: str, step: str) -> dict[str, Any] | None:
    """The record of ``step``, or None if it has not finished (or never ran, or it is unreadable)."""
    try:
        with open(record_path(marshal_dir, step)) as fh:
            return json.load(fh)
    except (OSError, ValueError):  # missing, unreadable, not a file: no record
        return None


def missing_outputs(marshal_dir: str, keys: list[str], run_id: str | None) -> list[str]:
    """The declared outputs ``keys`` for which ``marshal_dir`` holds no value stored by the run
    ``run_id`` (any run when None): what a step that claims success must not lack."""
    from .marshal import describe

    missing = []
    for key in keys:
        try:
            meta = describe(marshal_dir, key)
        except Exception:  # an invalid key or unreadable metadata: not saved
            meta = None
        if meta is None or (run_id is not None and meta.get("run") != run_id):
            missing.append(key)
    return missing
