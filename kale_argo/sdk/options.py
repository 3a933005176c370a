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
        raw = dict(step.options)
        if "security_context" in raw:
            raw["security_context"] = security_context(raw["security_context"], "security_context",
                                                       step.location, f"step {step.name!r}: ")
        cached = validate_options(raw, step.location, step.name)
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
    defaults = dict(defaults)
    if "security_context" in defaults:
        defaults["security_context"] = security_context(defaults["security_context"],
                                                        "security_context", where, "steps_defaults: ")
    fields["steps_defaults"] = validate_options(defaults, where)
    if opts.get("pod_security_context") is not None:
        pod = security_context(opts["pod_security_context"], "pod_security_context", where)
        if pod.get("runAsUser") == 0 and pod.get("runAsNonRoot", True) is not False:
            raise PipelineError("pod_security_context runs as user 0 (root) while runAsNonRoot is "
                                "true (the default), so no pod would start", where=where,
                                hint="also give 'runAsNonRoot': False to run as root")
        fields["pod_security_context"] = pod
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


# --- securityContext options ----------------------------------------------------------------------
# The Kubernetes fields each option takes (as in a pod's YAML), with their types: a type, a tuple of
# allowed strings, a list of one shape, or a nested dict of fields.
_PROFILE = {"type": ("RuntimeDefault", "Localhost", "Unconfined"), "localhostProfile": str}
_SELINUX = {"level": str, "role": str, "type": str, "user": str}
_WINDOWS = {"gmsaCredentialSpec": str, "gmsaCredentialSpecName": str, "hostProcess": bool,
            "runAsUserName": str}
_IDENTITY = {"runAsGroup": int, "runAsNonRoot": bool, "runAsUser": int, "appArmorProfile": _PROFILE,
             "seLinuxOptions": _SELINUX, "seccompProfile": _PROFILE, "windowsOptions": _WINDOWS}
CONTAINER_SECURITY: dict[str, Any] = {
    **_IDENTITY, "allowPrivilegeEscalation": bool, "capabilities": {"add": [str], "drop": [str]},
    "privileged": bool, "procMount": ("Default", "Unmasked"), "readOnlyRootFilesystem": bool}
POD_SECURITY: dict[str, Any] = {
    **_IDENTITY, "fsGroup": int, "fsGroupChangePolicy": ("Always", "OnRootMismatch"),
    "seLinuxChangePolicy": ("MountOption", "Recursive"), "supplementalGroups": [int],
    "supplementalGroupsPolicy": ("Merge", "Strict"), "sysctls": [{"name": str, "value": str}]}
_SECURITY_HINTS = {
    "security_context": "e.g. security_context={'runAsUser': 0, 'runAsNonRoot': False} (Kubernetes "
                        "container securityContext fields; None removes a default)",
    "pod_security_context": "e.g. pod_security_context={'runAsUser': 1001, 'fsGroup': 1001} "
                            "(Kubernetes pod securityContext fields; None removes a default)",
}


class _ShapeError(ValueError):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _conform(value: Any, shape: Any, path: str) -> Any:
    """``value`` checked against ``shape``; dict keys in snake_case become Kubernetes' camelCase."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            raise _ShapeError(f"{path} must be a dict, got {type(value).__name__} {value!r}"[:200])
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = _camel(key) if isinstance(key, str) else key
            if name not in shape:
                raise _ShapeError(f"{path} has no field {key!r}",
                                  did_you_mean(str(name), shape) or f"known: {', '.join(sorted(shape))}")
            out[name] = _conform(item, shape[name], f"{path}.{name}")
        return out
    if isinstance(shape, list):
        if not isinstance(value, (list, tuple)):
            raise _ShapeError(f"{path} must be a list, got {type(value).__name__} {value!r}"[:200])
        return [_conform(v, shape[0], f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(shape, tuple):
        if value not in shape:
            raise _ShapeError(f"{path} {value!r} is not one of {', '.join(shape)}"[:200],
                              did_you_mean(str(value), shape))
        return value
    if shape is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise _ShapeError(f"{path} {value!r} must be a whole number >= 0 (a user or group id)"[:200])
    if shape is not int and not isinstance(value, shape):
        raise _ShapeError(f"{path} must be {'true or false' if shape is bool else 'a string'}, "
                          f"got {type(value).__name__} {value!r}"[:200])
    return value


def _elsewhere(name: object, option: str) -> str | None:
    """A hint when ``name`` belongs to the other option (a pod field given for a container...)."""
    if option == "security_context" and name in POD_SECURITY:
        return f"{name} is a pod field: give it in @pipeline(pod_security_context={{{name!r}: ...}})"
    if option == "pod_security_context" and name in CONTAINER_SECURITY:
        return (f"{name} is a container field: give it in steps_defaults={{'security_context': "
                f"{{{name!r}: ...}}}} or a step's security_context")
    return None


def security_context(raw: Any, option: str, where: str | None, label: str = "") -> dict[str, Any]:
    """A ``security_context`` (container) or ``pod_security_context`` (pod) option, validated.

    Keys may be written as in YAML (``runAsUser``) or in snake_case (``run_as_user``); the result
    uses YAML's names. A top-level None removes that field from the hardened default.
    """
    fields = POD_SECURITY if option == "pod_security_context" else CONTAINER_SECURITY
    if raw is None:
        return {}
    try:
        if not isinstance(raw, dict):
            raise _ShapeError(f"{option} must be a dict, got {type(raw).__name__} {raw!r}"[:200])
        out: dict[str, Any] = {}
        for key, value in raw.items():
            name = _camel(key) if isinstance(key, str) else key
            if name not in fields:
                raise _ShapeError(f"{option} has no field {key!r}", _elsewhere(name, option)
                                  or did_you_mean(str(name), fields) or f"known: {', '.join(sorted(fields))}")
            out[name] = None if value is None else _conform(value, fields[name], f"{option}.{name}")
        return out
    except _ShapeError as exc:
        raise PipelineError(f"{label}{exc}", where=where,
                            hint=exc.hint or _SECURITY_HINTS[option]) from None
