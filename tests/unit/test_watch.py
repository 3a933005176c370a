"""The one resumable watch both backends use (kale_argo.cluster.watch), driven by scripted streams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kale_argo.cluster.failures import HTTPFailure, Transient
from kale_argo.cluster.watch import MAX_FAILURES, watch_run
from kale_argo.errors import AuthError, ClusterError, ConnectionFailed, NotFoundError


def wf(version: int, phase: str | None = "Running", name: str = "run-1") -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": str(version)},
            "status": {"phase": phase} if phase else {}}


class Script:
    """``events(version, seconds)`` answering from a list of scripted streams, one per call."""

    def __init__(self, *streams: Any, now: dict[str, Any] | None = None) -> None:
        self.streams = list(streams)
        self.versions: list[str | None] = []
        self.now = now or wf(1, None)
        self.gets = 0

    def get(self) -> dict[str, Any]:
        self.gets += 1
        return self.now

    def events(self, version: str | None, seconds: int) -> Iterator[dict[str, Any]]:
        self.versions.append(version)
        stream = self.streams.pop(0)
        if isinstance(stream, Exception):
            raise stream
        for item in stream:
            if isinstance(item, Exception):
                raise item
            yield item


def watch(script: Script) -> list[str]:
    return [w["status"].get("phase", "Pending") for w in watch_run(
        "run-1", "ns", get=script.get, events=script.events, server="the test server",
        timeout=30, sleep=lambda s: None)]


def test_a_dropped_stream_resumes_from_the_last_version_seen():
    script = Script([{"type": "MODIFIED", "object": wf(5)}, Transient("connection reset")],
                    [{"type": "MODIFIED", "object": wf(9, "Succeeded")}])
    assert watch(script) == ["Pending", "Running", "Succeeded"]
    assert script.versions == ["1", "5"] and script.gets == 1


def test_an_expired_version_is_read_again():
    script = Script(HTTPFailure(410, "too old"), [{"type": "MODIFIED", "object": wf(20, "Failed")}],
                    now=wf(3, None))
    assert watch(script) == ["Pending", "Pending", "Failed"]
    assert script.gets == 2


def test_events_of_other_runs_are_ignored_and_a_deletion_is_an_error():
    script = Script([{"type": "MODIFIED", "object": wf(4, "Failed", name="other")},
                     {"type": "DELETED", "object": wf(5)}])
    with pytest.raises(NotFoundError, match="was deleted"):
        watch(script)


def test_failures_in_a_row_are_bounded():
    script = Script(*[Transient("refused") for _ in range(MAX_FAILURES + 1)])
    with pytest.raises(ConnectionFailed, match="refused"):
        watch(script)
    assert len(script.versions) == MAX_FAILURES + 1


def test_a_refused_watch_is_not_retried():
    script = Script(HTTPFailure(403, "forbidden"))
    with pytest.raises(AuthError, match="watch workflows"):
        watch(script)
    assert len(script.versions) == 1


def test_server_errors_are_retried_then_reported():
    script = Script(*[HTTPFailure(503, "busy") for _ in range(MAX_FAILURES + 1)])
    with pytest.raises(ClusterError, match="503"):
        watch(script)
    assert script.gets == MAX_FAILURES + 1
