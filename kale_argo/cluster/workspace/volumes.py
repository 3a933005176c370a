"""``--volume CLAIM:/mount/path[:snapshot|clone|mount]`` as :class:`~kale_argo.spec.VolumeSpec`."""

from __future__ import annotations

from collections.abc import Iterable

from ...errors import ConfigError
from ...spec import VolumeSpec


def parse_volume(text: str, default_mode: str = "snapshot") -> VolumeSpec:
    """One ``--volume`` value; a ConfigError (exit 2) names what is wrong with it."""
    try:
        return VolumeSpec.parse(text, default_mode)
    except ValueError as exc:
        raise ConfigError(str(exc), where=f"--volume {text}",
                          hint="e.g. --volume workspace-nb:/home/jovyan:clone") from None


def merge_volumes(declared: Iterable[VolumeSpec], given: Iterable[VolumeSpec]) -> list[VolumeSpec]:
    """``declared`` (from @pipeline) overridden by ``given`` (from --volume) per claim and per path."""
    result: list[VolumeSpec] = []
    for vol in [*declared, *given]:
        result = [v for v in result if v.claim != vol.claim and v.mount_path != vol.mount_path]
        result.append(vol)
    return result
