"""Validate Kale's @step and @pipeline keyword options into IR fields."""

from __future__ import annotations

import re
from typing import Any

from ..errors import PipelineError, did_you_mean
from ..names import dns1123_label
from ..spec import ACCESS_MODES, StepOptions, VolumeSpec, validate_options
from ..units import validate_duration, validate_quantity
from .decorators import PIPELINE_OPTIONS, STEP_OPTIONS, Pipeline, Step

_ACCESS_ALIASES = {v.lower(): k for k, v in ACCESS_MODES.items()}
_STEP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_name(name: object, what: str, where: str, strict: bool) -> str:
    """``name`` if it can become a Kubernetes/Argo name, else a PipelineError.

    ``strict`` (step names, which also name files and Argo templates) allows only letters, digits,
    '-', '_' and '.'; otherwise anything that leaves a non-empty DNS-1123 label is accepted.
    """
    hint = "use letters, digits and '-', starting with a letter or digit, e.g. 'train-model'"
    if not isinstance(name, str) or not name.strip():
        raise PipelineError(f"{what} name {name!r} must be a non-empty string", where=where, hint=hint)
    if not dns1123_label(name) or (strict and not _STEP_NAME.match(name)):
        raise PipelineError(f"{what} name {name!r} cannot become a valid Kubernetes/Argo name",
                            where=where, hint=hint)
    return name


def check_keywords(given: dict[str, Any], allowed: tuple[str, ...], what: str, where: str) -> None:
    """Unknown keywords are a PipelineError with a did-you-mean."""
    for key in given:
        if key not in allowed:
            raise PipelineError(f"{what} got an unknown keyword {key!r}", where=where,
                                hint=did_you_mean(key, allowed) or f"known: {', '.join(allowed)}")


def step_options(step: Step) -> StepOptions:
    """The step's validated options (cached on the step)."""
    cached = getattr(step, "_validated", None)
    if cached is None:
        check_keywords({"name": 1, **step.options}, STEP_OPTIONS, f"@step {step.name!r}",
                       step.location)
        check_name(step.name, "step", step.location, strict=True)
        cached = validate_options(step.options, step.location, step.name)
        step._validated = cached  # type: ignore[attr-defined]
    return cached


def _volume(item: Any, where: str) -> dict[str, Any]:
    """A Kale-style volume (dict, or "claim:/path[:mode]") as VolumeSpec fields."""
    if isinstance(item, str):
        try:
            vol = VolumeSpec.parse(item)
        except ValueError as exc:
            raise PipelineError(f"volume {item!r}: {exc}", where=where) from None
        return {"claim": vol.claim, "mount_path": vol.mount_path, "mode": vol.mode}
    if not isinstance(item, dict):
        raise PipelineError(f"volume {item!r} must be a dict or 'CLAIM:/mount/path'", where=where)
    data = dict(item)
    renames = {"name": "claim", "mount_point": "mount_path", "type": "mode",
               "storage_class_name": "storage_class", "snapshot_class_name": "snapshot_class"}
    for old, new in renames.items():
        if old in data and new not in data:
            data[new] = data.pop(old)
    if data.get("mode") in ("pvc", "pv"):  # Kale's notebook volumes: type pvc, snapshot flag
        data["mode"] = "snapshot" if data.get("snapshot", True) else "mount"
    if isinstance(data.get("snapshot"), bool):
        data.pop("snapshot")
    if "size" in data and "size_type" in data:
        data["size"] = f"{data.pop('size')}{data.pop('size_type')}"
    data.pop("annotations", None)
    if data.get("size") is not None:
        data["size"] = validate_quantity(data["size"], f"volume {data.get('claim')!r} size", where)
    return data


def pipeline_fields(pipe: Pipeline) -> dict[str, Any]:
    """PipelineSpec fields from the @pipeline options (raises PipelineError with the location)."""
    opts, where = pipe.options, pipe.location
    check_keywords(opts, PIPELINE_OPTIONS, "@pipeline", where)
    check_name(pipe.name, "pipeline", where, strict=False)
    fields: dict[str, Any] = {"name": pipe.name}
    for key in ("experiment", "description", "docker_image", "autosnapshot"):
        if opts.get(key) is not None:
            fields[key] = opts[key]
    mode = str(opts.get("volume_access_mode", "rwm"))
    mode = _ACCESS_ALIASES.get(mode.lower(), mode.lower())
    if mode not in ACCESS_MODES:
        raise PipelineError(f"volume_access_mode {opts['volume_access_mode']!r} is not one of "
                            "rwo, rwm, rom", where=where, hint=did_you_mean(mode, ACCESS_MODES))
    fields["marshal"] = {
        "volume": bool(opts.get("marshal_volume", True)),
        "size": validate_quantity(opts.get("marshal_volume_size", "1Gi"), "marshal_volume_size",
                                  where),
        "path": opts.get("marshal_path", "/marshal"),
        "access_mode": mode,
        "storage_class": opts.get("storage_class_name"),
    }
    fields["volumes"] = [_volume(v, where) for v in (opts.get("volumes") or [])]
    if opts.get("timeout") is not None:
        fields["timeout"] = validate_duration(opts["timeout"], "pipeline timeout", where)
    defaults = opts.get("steps_defaults") or {}
    if not isinstance(defaults, dict):
        raise PipelineError("steps_defaults must be a dict of step options", where=where)
    check_keywords(defaults, STEP_OPTIONS[1:], "steps_defaults", where)
    fields["steps_defaults"] = validate_options(defaults, where)
    return fields


def merge_options(defaults: StepOptions, own: StepOptions) -> StepOptions:
    """``own`` over ``defaults``: set fields win; dicts (limits, labels...) merge key by key."""
    merged = defaults.model_dump()
    for key, value in own.model_dump(exclude_unset=True).items():
        if isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **value}
        else:
            merged[key] = value
    return StepOptions.model_validate(merged)
