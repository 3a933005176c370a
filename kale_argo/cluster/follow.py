"""Following a run to its end: the live step view, waiting with a timeout, and the failure report."""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any, TextIO

from ..errors import ClusterError, KaleArgoError, RunFailed
from .backend import Backend
from .runview import LiveView, failed_step, is_done, metadata, phase

log = logging.getLogger(__name__)
LOG_TAIL = 20
STUCK_CHECK = 60.0  # seconds between checks for claims stuck Pending while waiting


def wait(backend: Backend, name: str, *, timeout: float | None = None, view: LiveView | None = None
         ) -> dict[str, Any]:
    """The run once it is done (through the backend's watch); ClusterError after ``timeout`` seconds.

    Every ``STUCK_CHECK`` seconds without an end, the run's volume claims are checked: a claim stuck
    Pending with warning events (e.g. storage without ReadWriteMany) is a ClusterError naming it,
    instead of a silent hang.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    workflow: dict[str, Any] | None = None
    while True:
        window = STUCK_CHECK if deadline is None else min(STUCK_CHECK, deadline - time.monotonic())
        if window > 0:
            for workflow in backend.watch(name, timeout=window):
                if view is not None:
                    view.update(workflow)
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


def failure_report(backend: Backend, workflow: dict[str, Any], out: TextIO, *, tail: int = LOG_TAIL) -> str:
    """Print which step failed and the tail of its log; returns the one-line reason."""
    name = metadata(workflow).get("name", "")
    message = (workflow.get("status") or {}).get("message") or ""
    step = failed_step(workflow)
    if step is None:
        reason = f"run {name} {phase(workflow)}" + (f": {message}" if message else "")
        out.write(reason + "\n")
        return reason
    reason = f"run {name} {phase(workflow)}: step {step.name!r} {step.phase}" + (
        f": {step.message}" if step.message else "")
    out.write(reason + "\n")
    try:
        lines = list(itertools.islice(backend.logs(name, step=step.name, tail=tail), tail))
    except KaleArgoError as exc:
        out.write(f"  (its log is not available: {exc.one_line()})\n")
        return reason
    if lines:
        out.write(f"--- last {len(lines)} lines of {step.name}'s log ---\n")
        for line in lines:
            out.write(f"  {line.text}\n")
    return reason


def follow(backend: Backend, name: str, out: TextIO, *, timeout: float | None = None) -> dict[str, Any]:
    """Show the run's steps live until it ends; RunFailed (exit 1) with the report unless it Succeeded."""
    workflow = wait(backend, name, timeout=timeout, view=LiveView(out))
    if phase(workflow) != "Succeeded":
        raise RunFailed(failure_report(backend, workflow, out))
    out.write(f"run {name} Succeeded\n")
    return workflow
