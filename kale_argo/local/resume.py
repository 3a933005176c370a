"""Resuming a local run: which steps of an earlier run in the same marshal folder are kept.

A step is kept when its record says it succeeded in that run, every value it stored passes full
verification (every byte against its checksum, the run and the tag of the run's key), and every
step it depends on is kept too (a step rerun upstream may return other values). Fan-outs and the
steps reading a gathered list rerun.
"""

from __future__ import annotations

import json
import os

from ..runtime import marshal
from ..runtime.marshal.binding import RunBinding, read_key
from ..runtime.record import read_record
from ..spec import PipelineSpec, topological_order
from .flow import stored_keys
from .rundir import RunFolder

PARAMS_FILE = os.path.join(".kale", "run", "params.json")
"""The parameters' texts of the run in a marshal folder."""


def kept_steps(spec: PipelineSpec, run: RunFolder, params: dict[str, str]) -> dict[str, str]:
    """Step name -> why it reruns (empty string: kept). ``params``: the parameters' texts of this
    run; a step that reads one the earlier run gave another value reruns."""
    binding = RunBinding(run.run_id, read_key(run.key_file))
    try:
        with open(os.path.join(run.path, PARAMS_FILE)) as fh:
            earlier = json.load(fh)
    except (OSError, ValueError):
        earlier = {}
    verdict: dict[str, str] = {}
    steps = {s.name: s for s in spec.steps}
    for name in topological_order(spec.steps) or list(steps):
        step = steps[name]
        record = read_record(run.path, name) or {}
        if step.map_over is not None:
            verdict[name] = "a fan-out"
        elif record.get("status") != "succeeded" or record.get("run") != run.run_id:
            verdict[name] = str(record.get("status") or "did not run")
        elif any(earlier.get(p) != params.get(p) for p in step.parameters_used()):
            verdict[name] = "a parameter changed"
        elif any(verdict.get(d) for d in step.depends):
            verdict[name] = "a step it depends on reruns"
        else:
            verdict[name] = _unverified(run.path, stored_keys(spec, name), name, binding)
    return verdict


def _unverified(path: str, keys: list[str], step: str, binding: RunBinding) -> str:
    for key in keys:
        try:
            marshal.verify(path, key, step=step, binding=binding)
        except marshal.MarshalError as exc:
            return f"value {key!r} fails verification ({exc})"
    return ""
