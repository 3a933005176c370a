"""VolumeSnapshots of a run: create them, wait until ready (a watch, with progress), delete, adopt."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from typing import TextIO

from ...errors import WorkspaceError
from ...labels import (
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PIPELINE_LABEL,
    SNAPSHOT_TOKEN_LABEL,
    SOURCE_CLAIM_ANNOTATION,
)
from ...names import dns1123_label, label_value
from ..failures import Transient
from ..kube import SNAPSHOT_GROUP, SNAPSHOT_VERSION, Kube, Obj


def progress(out: TextIO | None, line: str) -> None:
    """Print one progress line to ``out`` (nothing when it is None)."""
    if out is not None:
        print(line, file=out, flush=True)


def new_token() -> str:
    """A short random token tying one submission's snapshots together."""
    return secrets.token_hex(3)


def snapshot_name(pipeline: str, claim: str, token: str) -> str:
    """``<pipeline>-<claim>-<token>``, a valid name of at most 63 characters."""
    base = dns1123_label(f"{pipeline}-{claim}", 63 - len(token) - 1) or "workspace"
    return f"{base}-{token}"


def snapshot_body(name: str, namespace: str, claim: str, snapshot_class: str | None, token: str,
                  pipeline: str) -> Obj:
    """A VolumeSnapshot of ``claim``."""
    spec: Obj = {"source": {"persistentVolumeClaimName": claim}}
    if snapshot_class:
        spec["volumeSnapshotClassName"] = snapshot_class
    return {
        "apiVersion": f"{SNAPSHOT_GROUP}/{SNAPSHOT_VERSION}", "kind": "VolumeSnapshot",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {MANAGED_BY_LABEL: MANAGED_BY, SNAPSHOT_TOKEN_LABEL: token,
                                PIPELINE_LABEL: label_value(pipeline)},
                     "annotations": {SOURCE_CLAIM_ANNOTATION: claim}},
        "spec": spec,
    }


def wait_ready(kube: Kube, namespace: str, pending: dict[str, str], token: str, *, timeout: float,
               out: TextIO | None = None, progress_every: float = 10.0,
               clock: Callable[[], float] = time.monotonic) -> dict[str, str | None]:
    """Wait until every snapshot in ``pending`` (name -> source claim) is readyToUse.

    Watches the snapshots labelled with ``token`` (no polling), prints a line when each becomes
    ready and every ``progress_every`` seconds while waiting. Returns name -> restoreSize.
    Raises WorkspaceError on a snapshot error, a deleted snapshot, or the timeout.
    """
    start = clock()
    deadline = start + timeout
    waiting = dict(pending)
    sizes: dict[str, str | None] = {}

    def say(line: str) -> None:
        progress(out, line)

    say(f"waiting for {len(waiting)} snapshot(s) to be ready: {', '.join(waiting)}")
    while waiting:
        remaining = deadline - clock()
        if remaining <= 0:
            names = ", ".join(f"{n} (claim {c})" for n, c in waiting.items())
            raise WorkspaceError(f"snapshot(s) not ready after {timeout:g}s: {names}",
                                 hint="check the snapshot controller and CSI driver "
                                      "(kubectl describe volumesnapshot), or raise the timeout")
        seconds = max(1, int(min(remaining, progress_every) + 0.999))
        try:
            for event in kube.watch_snapshots(namespace, f"{SNAPSHOT_TOKEN_LABEL}={token}", seconds):
                _handle(event, waiting, sizes, say, clock() - start)
                if not waiting or clock() >= deadline:
                    break
        except Transient:
            pass  # the read timed out or the stream dropped: re-watch
        if waiting and clock() < deadline:
            say(f"  still waiting for {', '.join(waiting)} ({clock() - start:.0f}s)")
    return sizes


def _handle(event: Obj, waiting: dict[str, str], sizes: dict[str, str | None],
            say: Callable[[str], None], elapsed: float) -> None:
    obj = event.get("object") or {}
    name = (obj.get("metadata") or {}).get("name")
    if name not in waiting:
        return
    if event.get("type") == "DELETED":
        raise WorkspaceError(f"snapshot {name} (claim {waiting[name]}) was deleted while waiting for it")
    status = obj.get("status") or {}
    error = (status.get("error") or {}).get("message")
    if error:
        raise WorkspaceError(f"snapshot {name} of claim {waiting[name]} failed: {error}")
    if status.get("readyToUse") is True:
        sizes[name] = status.get("restoreSize")
        size = f", {sizes[name]}" if sizes[name] else ""
        say(f"  snapshot {name} of claim {waiting.pop(name)} is ready ({elapsed:.0f}s{size})")


def delete_snapshots(kube: Kube, namespace: str, names: Iterable[str]) -> list[str]:
    """Delete snapshots, best effort: returns one line per snapshot that could not be deleted."""
    failed = []
    for name in names:
        try:
            kube.delete_snapshot(namespace, name)
        except Exception as exc:  # keep deleting the others; report every failure
            failed.append(f"{name}: {exc}")
    return failed
