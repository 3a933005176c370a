"""Waiting for a run to end (with a timeout, noticing claims stuck Pending), and why it failed."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ClusterError, KaleArgoError
from .backend import Backend
from .status import failed_step, is_done, metadata, phase

log = logging.getLogger(__name__)
LOG_TAIL = 20
STUCK_CHECK = 60.0  # seconds between checks for claims stuck Pending while waiting


def wait(backend: Backend, name: str, *, timeout: float | None = None,
         on_update: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The run once it is done (through the backend's watch); ClusterError after ``timeout`` seconds.

    ``on_update`` sees the Workflow after each change. Every ``STUCK_CHECK`` seconds without an end,
    the run's volume claims are checked: a claim stuck Pending with warning events (e.g. storage
    without ReadWriteMany) is a ClusterError naming it, instead of a silent hang.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    workflow: dict[str, Any] | None = None
    while True:
        window = STUCK_CHECK if deadline is None else min(STUCK_CHECK, deadline - time.monotonic())
        if window > 0:
            for workflow in backend.watch(name, timeout=window):
                if on_update is not None:
                    on_update(workflow)
                if is_done(workflow):
                    return workflow
        stuck = pending_claims(backend, name)
        if deadline is not None and time.monotonic() >= deadline:
            break
        if stuck:
            raise ClusterError(f"run {name!r} cannot start: {stuck}",
                               hint=f"the run is kept: fix the storage, or `kale-argo delete {name}`")
    last = phase(workflow) if workflow else "unknown"
    raise ClusterError(f"run {name!r} did not finish within {timeout:g}s (it is {last})"
                       + (f"; {stuck}" if stuck else ""),
                       hint=f"check it with `kale-argo status {name}`; wait longer with --timeout")


def pending_claims(backend: Backend, name: str) -> str | None:
    """Why the run's volume claims are stuck Pending (their events), when the backend can tell."""
    client = getattr(backend, "api_client", None)
    if client is None:
        return None
    try:
        from .workspace import explain_pending_claims

        return explain_pending_claims(client, backend.namespace, name)
    except Exception as exc:  # best effort: the timeout is the error being reported
        log.debug("could not explain pending claims: %s", exc)
        return None


@dataclass(frozen=True)
class Failure:
    """Why a run did not succeed: the one-line reason, the failed step and the tail of its log."""

    reason: str
    step: str | None = None
    log: list[str] = field(default_factory=list)
    log_error: str | None = None


def failure(backend: Backend, workflow: dict[str, Any], *, tail: int = LOG_TAIL) -> Failure:
    """Which step failed and the tail of its log (read through the backend)."""
    name = metadata(workflow).get("name", "")
    message = (workflow.get("status") or {}).get("message") or ""
    step = failed_step(workflow)
    if step is None:
        return Failure(f"run {name} {phase(workflow)}" + (f": {message}" if message else ""))
    reason = f"run {name} {phase(workflow)}: step {step.name!r} {step.phase}" + (
        f": {step.message}" if step.message else "")
    try:
        lines = [line.text for line in itertools.islice(backend.logs(name, step=step.name, tail=tail), tail)]
    except KaleArgoError as exc:
        return Failure(reason, step.name, log_error=exc.one_line())
    return Failure(reason, step.name, lines)
