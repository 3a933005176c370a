"""``--volume CLAIM:/mount/path[:snapshot|clone|mount]`` as :class:`~kale_argo.spec.VolumeSpec`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import get_args

from ...errors import ConfigError
from ...names import dns1123_label
from ...spec import VolumeSpec, WorkspaceMode

VOLUME_MODES: tuple[str, ...] = get_args(WorkspaceMode)


def parse_volume(text: str, default_mode: str = "snapshot") -> VolumeSpec:
    """One ``--volume`` value; a ConfigError (exit 2) names what is wrong with it."""
    where = f"--volume {text}"
    claim, sep, rest = text.strip().partition(":")
    path, mode = rest, default_mode
    head, colon, tail = rest.rpartition(":")
    if colon and tail in VOLUME_MODES:
        path, mode = head, tail
    elif colon and not tail.startswith("/") and tail:
        raise ConfigError(f"unknown volume mode {tail!r}", where=where,
                          hint=f"use one of: {', '.join(VOLUME_MODES)}")
    if not sep or not claim or not path:
        raise ConfigError("a volume is CLAIM:/mount/path[:mode]", where=where,
                          hint="e.g. --volume workspace-nb:/home/jovyan:clone")
    if dns1123_label(claim) != claim:
        raise ConfigError(f"{claim!r} is not a valid PersistentVolumeClaim name", where=where,
                          hint="claim names are lowercase letters, digits and '-'")
    if not path.startswith("/"):
        raise ConfigError(f"mount path {path!r} must be absolute", where=where)
    return VolumeSpec(claim=claim, mount_path=path, mode=mode)  # type: ignore[arg-type]


def merge_volumes(declared: Iterable[VolumeSpec], given: Iterable[VolumeSpec]) -> list[VolumeSpec]:
    """``declared`` (from @pipeline) overridden by ``given`` (from --volume) per claim and per path."""
    result: list[VolumeSpec] = []
    for vol in [*declared, *given]:
        result = [v for v in result if v.claim != vol.claim and v.mount_path != vol.mount_path]
        result.append(vol)
    return result
