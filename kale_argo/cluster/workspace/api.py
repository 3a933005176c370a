"""The workspace layer's entry points (signatures agreed with the cluster layer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from ...spec import PipelineSpec, VolumeSpec


@dataclass
class PreparedWorkspace:
    """What :func:`prepare_workspace` made: volumes (snapshot names filled), image, script location.

    ``snapshots`` are the VolumeSnapshot names this object created (and may delete or adopt).
    """

    namespace: str
    volumes: list[VolumeSpec] = field(default_factory=list)
    default_image: str | None = None
    script_path: str | None = None
    working_dir: str | None = None
    colocate: bool = False
    annotations: dict[str, str] = field(default_factory=dict)
    snapshots: list[str] = field(default_factory=list)
    keep_snapshots: bool = False
    api_client: Any = None

    def compile_options(self) -> dict[str, Any]:
        """Keyword arguments for ``kale_argo.argo.CompileOptions`` (only the fields this layer sets)."""
        raise NotImplementedError

    def rollback(self) -> None:
        """Delete the VolumeSnapshots this workspace created (idempotent; missing ones are fine)."""
        raise NotImplementedError

    def adopt(self, workflow: dict[str, Any]) -> None:
        """Tie each created snapshot to the created Workflow (ownerReference), unless keep_snapshots.

        ``workflow`` is the Workflow as the server returned it (needs metadata.name and .uid).
        """
        raise NotImplementedError


def prepare_workspace(
    api_client: Any,
    namespace: str,
    spec: PipelineSpec,
    *,
    mode: str | None = None,
    volumes: Sequence[str] = (),
    out: TextIO | None = None,
    keep_snapshots: bool = False,
    snapshot_class: str | None = None,
    timeout: float = 300.0,
    script_path: str | None = None,
) -> PreparedWorkspace:
    """Discover, preflight and (for snapshot mode) snapshot the run's workspace volumes.

    ``mode``: "snapshot" | "clone" | "mount" | "none" | None (default: spec.autosnapshot, else
    snapshot inside a pod whose storage supports it, none elsewhere). "none" returns an empty
    workspace (the caller may skip the call). ``volumes``: ``CLAIM:/mount/path[:snapshot|clone|mount]``
    strings from ``--volume``, added to ``spec.volumes``. ``out`` receives progress lines.
    ``script_path`` defaults to ``spec.script.path``. Raises WorkspaceError (exit 2) naming what
    is missing; on any failure after a snapshot was made, the snapshots are deleted first.
    """
    raise NotImplementedError


def plan_workspace(
    api_client: Any | None,
    namespace: str | None,
    spec: PipelineSpec | None,
    *,
    mode: str | None = None,
    volumes: Sequence[str] = (),
    snapshot_class: str | None = None,
) -> Any:
    """What :func:`prepare_workspace` would do, with reasons, creating nothing."""
    raise NotImplementedError


def explain_pending_claims(api_client: Any, namespace: str, workflow_name: str) -> str | None:
    """One line naming the run's PVCs stuck Pending and their latest events, or None if none are."""
    raise NotImplementedError
