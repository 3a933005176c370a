"""The one resumable watch of a run, used by both backends.

Read the Workflow, then stream its changes from that ``resourceVersion`` in windows of at most
:data:`~.failures.WATCH_WINDOW` seconds. A 410 (the version expired) or a 5xx answer is followed by a
fresh read; a dropped stream resumes from the last version seen. Failures in a row are bounded
(:data:`MAX_FAILURES`) with exponential backoff; anything else is the one-line ClusterError.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import NotFoundError
from .failures import WATCH_WINDOW, Call, HTTPFailure, Transient, cluster_error, connection_error
from .status import is_done, metadata

log = logging.getLogger(__name__)
MAX_FAILURES = 5
BASE_DELAY, MAX_DELAY = 0.2, 3.0
#: ``events(resource_version, seconds)``: the run's watch events (``{"type", "object"}``) from that
#: version for about that long, failures mapped to HTTPFailure / Transient.
Events = Callable[[str | None, int], Iterator[dict[str, Any]]]


def watch_run(name: str, namespace: str, *, get: Callable[[], dict[str, Any]], events: Events,
              server: str, timeout: float | None = None,
              sleep: Callable[[float], None] = time.sleep) -> Iterator[dict[str, Any]]:
    """The Workflow ``name`` now and after each change, until it is done or ``timeout`` passed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    workflow = get()
    yield workflow
    version = metadata(workflow).get("resourceVersion")
    failures = 0
    while not is_done(workflow):
        remaining = WATCH_WINDOW if deadline is None else deadline - time.monotonic()
        if remaining <= 0:
            return
        window = max(1, min(WATCH_WINDOW, int(remaining + 0.999)))
        opened = time.monotonic()
        try:
            for event in events(version, window):
                failures = 0
                if event.get("type") == "DELETED":
                    raise NotFoundError(f"run {name!r} was deleted in namespace {namespace!r}")
                obj = event.get("object") or {}
                if metadata(obj).get("name") != name:
                    continue
                version = metadata(obj).get("resourceVersion") or version
                workflow = obj
                yield workflow
                if is_done(workflow):
                    return
            if time.monotonic() - opened < window / 2:
                failures += 1  # the stream ended early: a dropped connection
        except HTTPFailure as exc:
            failures += 1
            if (exc.status < 500 and exc.status != 410) or failures > MAX_FAILURES:
                raise cluster_error(exc, Call("watch", "workflows", namespace, name), server=server) from None
            log.debug("watch %s: %s; reading it again", name, exc)
            workflow = get()
            version = metadata(workflow).get("resourceVersion")
            yield workflow
        except Transient as exc:
            failures += 1
            if exc.tls or failures > MAX_FAILURES:
                raise connection_error(exc, server=server) from None
            log.debug("watch %s dropped (%s); resuming from %s", name, exc, version)
        if failures:
            sleep(min(MAX_DELAY, BASE_DELAY * 2 ** (failures - 1)))
