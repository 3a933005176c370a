"""Validate Kale's @step and @pipeline keyword options into IR fields."""

from __future__ import annotations

import math
import re
import sys
from typing import Any

from ..choices import VOLUME_MODES
from ..errors import PipelineError, did_you_mean
from ..names import dns1123_label, is_dns1123_subdomain, is_label_value, is_qualified_key
from ..spec import ACCESS_MODES, StepOptions, VolumeSpec, first_error, validate_options
from ..units import parse_quantity, validate_duration, validate_quantity
from .decorators import PIPELINE_OPTIONS, PIPELINE_SYNONYMS, STEP_OPTIONS, Pipeline, Step

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


def _type_error(what: str, value: Any, expected: str, where: str, hint: str | None = None) -> PipelineError:
    return PipelineError(f"{what} must be {expected}, got {type(value).__name__} {value!r}"[:300],
                         where=where, hint=hint)


def check_bool(value: Any, what: str, where: str) -> bool:
    """``value`` if it is a bool (Kale refused "false" and 0 alike)."""
    if not isinstance(value, bool):
        raise _type_error(what, value, "True or False", where, hint=f"write {what}=True or False")
    return value


def check_str(value: Any, what: str, where: str) -> str:
    """``value`` if it is a string."""
    if not isinstance(value, str):
        raise _type_error(what, value, "a string", where)
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_duration(value: Any, what: str, where: str, *, digits_ok: bool = False) -> None:
    """Seconds as a number, or a duration string with units ('30s', '5m', '1h30m'); with
    ``digits_ok`` also a string of digits, in seconds (Kale's ``retry_interval="60"``)."""
    hint = "use seconds (30) or a string with units such as '30s', '5m', '1h30m'"
    if _number(value):
        return
    if not isinstance(value, str):
        raise _type_error(what, value, "a duration", where, hint=hint)
    if not digits_ok and value.strip().replace(".", "", 1).isdigit():
        raise PipelineError(f"{what} {value!r} is a number in a string", where=where,
                            hint=f"write {value.strip()} (seconds) or '{value.strip()}s'")


def _check_dict(value: Any, what: str, where: str, key_ok: Any, value_ok: Any, hint: str) -> None:
    if not isinstance(value, dict):
        raise _type_error(what, value, "a dict", where, hint=hint)
    for key, item in value.items():
        if not isinstance(key, str) or not key_ok(key):
            raise PipelineError(f"{what} key {key!r} is not a valid Kubernetes key", where=where,
                                hint="[dns.prefix/]name: at most 63 letters, digits, '-', '_', '.'")
        if not isinstance(item, str):
            raise PipelineError(f"{what} {key!r} must be a string, got {type(item).__name__} "
                                f"{item!r}"[:300], where=where, hint=f"write {key!r}: {str(item)!r}")
        if value_ok is not None and not value_ok(item):
            raise PipelineError(f"{what} {key!r} value {item!r} is not a valid label value",
                                where=where, hint="at most 63 letters, digits, '-', '_' or '.', "
                                                  "alphanumeric at both ends")


def check_step_types(raw: dict[str, Any], label: str, where: str) -> None:
    """Kale's strict types for step options: counts int, booleans bool, dicts of strings,
    durations as seconds or strings with units (never a number in a string)."""
    if raw.get("image") is not None:
        check_str(raw["image"], f"{label}image", where)
    count = raw.get("retry_count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        raise _type_error(f"{label}retry_count", count, "a whole number", where,
                          hint="a whole number of retries, e.g. retry_count=3")
    for key in ("retry_interval", "retry_max_interval", "timeout"):
        if raw.get(key) is not None:  # Kale typed the retry intervals str ("60" is seconds), timeout int
            _check_duration(raw[key], f"{label}{key}", where, digits_ok=key != "timeout")
    if raw.get("parallelism") is not None:
        from .flow import check_parallelism

        check_parallelism(raw["parallelism"], label.removeprefix("step ").rstrip(": ").strip("'"), where)
    if raw.get("cache") is not None and not isinstance(raw["cache"], bool):
        raise _type_error(f"{label}cache", raw["cache"], "True or False", where, hint="e.g. cache=False")
    factor = raw.get("retry_factor")
    if factor is not None and not _number(factor):
        raise _type_error(f"{label}retry_factor", factor, "a number", where, hint="e.g. retry_factor=2")
    if raw.get("limits") is not None:
        _check_dict(raw["limits"], f"{label}limits", where, lambda k: is_qualified_key(k), None,
                    "e.g. limits={'cpu': '1', 'memory': '2Gi', 'nvidia.com/gpu': '1'}")
    if raw.get("labels") is not None:
        _check_dict(raw["labels"], f"{label}labels", where, is_qualified_key, is_label_value,
                    "e.g. labels={'team': 'ml'}")
    if raw.get("annotations") is not None:
        _check_dict(raw["annotations"], f"{label}annotations", where, is_qualified_key, None,
                    "e.g. annotations={'owner': 'me@example.com'}")


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
        check_step_types(step.options, f"step {step.name!r}: ", step.location)
        raw = pod_settings(raw, step.location, f"step {step.name!r}: ")
        cached = validate_options(raw, step.location, step.name)
        step._validated = cached  # type: ignore[attr-defined]
    return cached


_ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_]*[A-Za-z0-9])?$")


def step_artifacts(step: Step) -> list[dict[str, str]]:
    """The step's ``@artifact`` files as ArtifactSpec fields (names checked: Argo's rule)."""
    result: list[dict[str, str]] = []
    for name, path, where in step.artifacts:
        if not isinstance(name, str) or not _ARTIFACT_NAME.match(name) or len(name) > 63:
            raise PipelineError(f"artifact name {name!r} of step {step.name!r} cannot become an "
                                "Argo artifact name", where=where,
                                hint="letters, digits, '-' and '_', e.g. 'html-report'")
        if not isinstance(path, str) or not path.strip() or path.endswith("/"):
            raise PipelineError(f"artifact {name!r}: path {path!r} must name a file", where=where,
                                hint="e.g. path='/home/jovyan/report.html'")
        if name in {a["name"] for a in result}:
            raise PipelineError(f"step {step.name!r} has two artifacts named {name!r}", where=where,
                                hint="give each @artifact its own name")
        result.append({"name": name, "path": path})
    return result


def _annotations(value: Any, what: str, where: str) -> dict[str, str]:
    """Kale's ``[{'key': k, 'value': v}, ...]`` (or a plain dict) as a dict; empty entries dropped."""
    if value is None:
        return {}
    if isinstance(value, list):
        result: dict[str, str] = {}
        for item in value:
            if not isinstance(item, dict) or set(item) != {"key", "value"}:
                raise PipelineError(f"{what} annotations must be a list of {{'key': k, 'value': v}} "
                                    f"dicts or a dict, got {item!r}"[:300], where=where)
            if item["key"] != "" and item["value"] != "":
                result[str(item["key"])] = item["value"]
        value = result
    _check_dict(value, f"{what} annotations", where, is_qualified_key, None,
                "e.g. annotations=[{'key': 'owner', 'value': 'me'}]")
    return dict(value)


def _k8s_name(value: Any, what: str, where: str) -> str:
    """``value`` if Kubernetes accepts it as an object name (DNS-1123 subdomain)."""
    if not isinstance(value, str) or not is_dns1123_subdomain(value):
        fixed = dns1123_label(value) if isinstance(value, str) else ""
        raise PipelineError(f"{what} {value!r} is not a valid Kubernetes name", where=where,
                            hint="lowercase letters, digits, '-' and '.'"
                                 + (f", e.g. {fixed!r}" if fixed else ""))
    return value


def _access_mode(value: Any, what: str, where: str) -> str:
    if not isinstance(value, str):
        raise _type_error(what, value, "one of rwo, rwm, rom", where)
    mode = _ACCESS_ALIASES.get(value.lower(), value.lower())
    if mode not in ACCESS_MODES:
        raise PipelineError(f"{what} {value!r} is not one of rwo, rwm, rom", where=where,
                            hint=did_you_mean(mode, ACCESS_MODES))
    return mode


KALE_VOLUME_KEYS = ("name", "mount_point", "type", "snapshot", "snapshot_name", "size",
                    "size_type", "annotations", "storage_class_name", "volume_access_mode")
KALE_VOLUME_TYPES = ("pvc", "pv", "new_pvc", "clone")
NATIVE_VOLUME_KEYS = ("claim", "mount_path", "mode", "size", "storage_class", "access_modes",
                      "snapshot_class", "snapshot", "annotations")


def _kale_size(data: dict[str, Any], what: str, where: str) -> str | None:
    size, unit = data.get("size"), data.get("size_type")
    if size is None:
        if unit not in (None, ""):
            raise PipelineError(f"{what} has size_type {unit!r} but no size", where=where,
                                hint="e.g. 'size': 10, 'size_type': 'Gi'")
        return None
    if isinstance(size, bool) or not isinstance(size, (int, str)):
        raise _type_error(f"{what} size", size, "a whole number (with size_type) or a quantity",
                          where, hint="e.g. 'size': 10, 'size_type': 'Gi'")
    if unit is not None and not isinstance(unit, str):
        raise _type_error(f"{what} size_type", unit, "a string such as 'Gi'", where)
    return validate_quantity(f"{size}{unit or ''}", f"{what} size", where)


def kale_volume(item: dict[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    """A Kale volume dict as ``("volume", VolumeSpec fields)`` or ``("claim", ClaimSpec fields)``.

    ``pvc`` mounts the existing claim; ``clone`` mounts a fresh copy of it; ``new_pvc`` is a fresh
    empty claim; ``pv`` a claim bound to the existing PersistentVolume ``name``. ``snapshot`` /
    ``snapshot_name`` snapshot the volume when the run ends, as Kale did.
    """
    check_keywords(item, KALE_VOLUME_KEYS, "volume", where)
    kind = item.get("type")
    if kind not in KALE_VOLUME_TYPES:
        raise PipelineError(f"volume type {kind!r} is not one of {', '.join(KALE_VOLUME_TYPES)}",
                            where=where, hint=did_you_mean(str(kind), KALE_VOLUME_TYPES))
    for key in ("name", "mount_point"):
        if key not in item:
            raise PipelineError(f"a {kind} volume needs {key!r}", where=where,
                                hint="e.g. {'type': 'pvc', 'name': 'data', 'mount_point': '/data'}")
    what = f"volume {item.get('name')!r}"
    name = _k8s_name(item["name"], f"{what}: name", where)
    mount = check_str(item["mount_point"], f"{what} mount_point", where)
    if not mount.startswith("/"):
        raise PipelineError(f"{what} mount_point {mount!r} must be an absolute path", where=where)
    snapshot = check_bool(item.get("snapshot", False), f"{what} snapshot", where)
    snapshot_name = item.get("snapshot_name")
    if snapshot_name is not None:
        _k8s_name(snapshot_name, f"{what} snapshot_name", where)
    if snapshot_name and not snapshot:
        raise PipelineError(f"{what} has a snapshot_name but snapshot is False", where=where,
                            hint="add 'snapshot': True, or drop snapshot_name")
    after = (snapshot_name or f"{name}-snapshot") if snapshot else None
    size = _kale_size(item, what, where)
    annotations = _annotations(item.get("annotations"), what, where)
    storage = item.get("storage_class_name")
    if storage is not None:
        _k8s_name(storage, f"{what} storage_class_name", where)
    modes = ([ACCESS_MODES[_access_mode(item["volume_access_mode"], f"{what} volume_access_mode",
                                        where)]] if item.get("volume_access_mode") else [])
    if kind in ("new_pvc", "pv", "clone") and size is None:
        raise PipelineError(f"a {kind} volume needs a size ({what})", where=where,
                            hint="e.g. 'size': 10, 'size_type': 'Gi'")
    if kind in ("new_pvc", "pv"):
        return "claim", {"name": name, "mount_path": mount, "size": size, "storage_class": storage,
                         "access_modes": modes, "annotations": annotations,
                         "volume_name": name if kind == "pv" else None, "snapshot_after": after}
    return "volume", {"claim": name, "mount_path": mount, "mode": "mount" if kind == "pvc" else "clone",
                      "size": size, "storage_class": storage, "access_modes": modes,
                      "annotations": annotations, "snapshot_after": after}


def _volume(item: Any, where: str) -> tuple[str, dict[str, Any]]:
    """A volume of ``@pipeline(volumes=...)``: Kale's dict (with ``type``), kale-argo's dict
    (``claim``, ``mount_path``, ``mode``...) or ``"claim:/path[:mode]"``."""
    if isinstance(item, str):
        try:
            vol = VolumeSpec.parse(item)
        except ValueError as exc:
            raise PipelineError(f"volume {item!r}: {exc}", where=where) from None
        return "volume", {"claim": vol.claim, "mount_path": vol.mount_path, "mode": vol.mode}
    if not isinstance(item, dict):
        raise PipelineError(f"volume {item!r} must be a dict or 'CLAIM:/mount/path'"[:300], where=where,
                            hint="e.g. {'type': 'pvc', 'name': 'data', 'mount_point': '/data'}")
    if "type" in item or "mount_point" in item:
        return kale_volume(item, where)
    check_keywords(item, NATIVE_VOLUME_KEYS, "volume", where)
    data = dict(item)
    for key in ("claim", "mount_path"):
        if key not in data:
            raise PipelineError(f"volume {item!r} needs {key!r}"[:300], where=where,
                                hint="e.g. {'claim': 'data', 'mount_path': '/data', 'mode': 'clone'}")
    _k8s_name(data["claim"], "volume claim", where)
    what = f"volume {data['claim']!r}"
    if data.get("mode", "snapshot") not in VOLUME_MODES:
        raise PipelineError(f"{what} mode {data['mode']!r} is not one of {', '.join(VOLUME_MODES)}",
                            where=where, hint=did_you_mean(str(data["mode"]), VOLUME_MODES))
    if data.get("size") is not None:
        data["size"] = validate_quantity(data["size"], f"{what} size", where)
    if data.get("storage_class") is not None:
        _k8s_name(data["storage_class"], f"{what} storage_class", where)
    data["annotations"] = _annotations(data.get("annotations"), what, where)
    try:
        VolumeSpec.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError: one line, never its wording
        raise PipelineError(f"{what}: {first_error(exc)}", where=where) from None
    return "volume", data


KATIB_NOTE = ("kale-argo: note: katib_run/katib_metadata are ignored: kale-argo has no Katib "
              "integration (run a Katib Experiment yourself)")


def pipeline_fields(pipe: Pipeline) -> dict[str, Any]:
    """PipelineSpec fields from the @pipeline options (raises PipelineError with the location)."""
    opts, where = dict(pipe.options), pipe.location
    check_keywords(opts, PIPELINE_OPTIONS, "@pipeline", where)
    for kale_name, ours in PIPELINE_SYNONYMS.items():
        if kale_name in opts:
            if ours in opts and opts[ours] != opts[kale_name]:
                raise PipelineError(f"@pipeline got both {ours}= and {kale_name}= (the same option)",
                                    where=where, hint=f"keep one of {ours}, {kale_name}")
            opts[ours] = opts.pop(kale_name)
    check_name(pipe.name, "pipeline", where, strict=False)
    fields: dict[str, Any] = {"name": pipe.name}
    for key in ("experiment", "description", "docker_image", "marshal_path", "kfp_host",
                "abs_working_dir"):
        if opts.get(key) is not None:
            check_str(opts[key], key, where)
    for key in ("marshal_volume", "autosnapshot", "katib_run"):
        if opts.get(key) is not None:
            check_bool(opts[key], key, where)
    if opts.get("katib_run") or opts.get("katib_metadata"):
        print(KATIB_NOTE, file=sys.stderr)
    for key in ("experiment", "description", "docker_image", "autosnapshot", "kfp_host"):
        if opts.get(key) is not None:
            fields[key] = opts[key]
    working_dir = opts.get("abs_working_dir")
    if working_dir:
        if not working_dir.startswith("/"):
            raise PipelineError(f"abs_working_dir {working_dir!r} must be an absolute path",
                                where=where, hint="e.g. abs_working_dir='/home/jovyan/project'")
        fields["working_dir"] = working_dir
    if opts.get("cache_volume") is not None:
        fields["cache_volume"] = _k8s_name(opts["cache_volume"], "cache_volume", where)
    mode = _access_mode(opts.get("volume_access_mode", "rwm"), "volume_access_mode", where)
    storage = opts.get("storage_class_name")
    if storage is not None:
        _k8s_name(storage, "storage_class_name", where)
    size = opts.get("marshal_volume_size", "1Gi")
    if isinstance(size, float):
        raise _type_error("marshal_volume_size", size, "a quantity string", where,
                          hint="e.g. marshal_volume_size='10Gi'")
    path = opts.get("marshal_path", "/marshal")
    if not path.startswith("/"):
        raise PipelineError(f"marshal_path {path!r} must be an absolute path", where=where,
                            hint="e.g. marshal_path='/marshal'")
    fields["marshal"] = {
        "volume": opts.get("marshal_volume", True),
        "size": validate_quantity(size, "marshal_volume_size", where),
        "path": path,
        "access_mode": mode,
        "storage_class": storage,
    }
    volumes = opts.get("volumes") or []
    if not isinstance(volumes, list):
        raise _type_error("volumes", volumes, "a list", where,
                          hint="e.g. volumes=[{'type': 'pvc', 'name': 'data', 'mount_point': '/data'}]")
    fields["volumes"], fields["claims"] = [], []
    for item in volumes:
        kind, data = _volume(item, where)
        if storage is not None and not data.get("storage_class"):  # as Kale: the pipeline's class
            data["storage_class"] = storage
        fields["volumes" if kind == "volume" else "claims"].append(data)
    if opts.get("timeout") is not None:
        _check_duration(opts["timeout"], "pipeline timeout", where)
        fields["timeout"] = validate_duration(opts["timeout"], "pipeline timeout", where)
    defaults = opts.get("steps_defaults") or {}
    if not isinstance(defaults, dict):
        raise PipelineError("steps_defaults must be a dict of step options", where=where)
    check_keywords(defaults, STEP_OPTIONS[1:], "steps_defaults", where)
    check_step_types(defaults, "steps_defaults ", where)
    defaults = dict(defaults)
    if "security_context" in defaults:
        defaults["security_context"] = security_context(defaults["security_context"],
                                                        "security_context", where, "steps_defaults: ")
    defaults = pod_settings(defaults, where, "steps_defaults: ")
    fields["steps_defaults"] = validate_options(defaults, where)
    if opts.get("pod_security_context") is not None:
        pod = security_context(opts["pod_security_context"], "pod_security_context", where)
        if pod.get("runAsUser") == 0 and pod.get("runAsNonRoot", True) is not False:
            raise PipelineError("pod_security_context runs as user 0 (root) while runAsNonRoot is "
                                "true (the default), so no pod would start", where=where,
                                hint="also give 'runAsNonRoot': False to run as root")
        fields["pod_security_context"] = pod
    fields.update(pipeline_pod_fields(opts, where))
    return fields


def merge_options(defaults: StepOptions, own: StepOptions) -> StepOptions:
    """``own`` over ``defaults``: set fields win; dicts (limits, labels...) merge key by key."""
    merged = defaults.model_dump()
    for key, value in own.model_dump(exclude_unset=True).items():
        if isinstance(value, dict):
            merged[key] = {**merged.get(key, {}), **value}
        elif key in _UNION_LISTS:
            merged[key] = list(dict.fromkeys([*merged.get(key, []), *value]))
        elif key == "tolerations":
            merged[key] = [*merged.get(key, []), *(t for t in value if t not in merged.get(key, []))]
        else:
            merged[key] = value
    return StepOptions.model_validate(merged)


_UNION_LISTS = ("packages", "env_from_secret", "env_from_configmap")


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


# --- pod settings, step environments ---------------------------------------------------------------
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")  # Kubernetes' C_IDENTIFIER-ish env var rule
_TOLERATION = {"key": str, "operator": ("Exists", "Equal"), "value": str,
               "effect": ("NoSchedule", "PreferNoSchedule", "NoExecute"), "tolerationSeconds": int}
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
POD_GC_STRATEGIES = ("OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess")
_POD_HINTS = {
    "env": "e.g. env={'LOG_LEVEL': 'debug'}",
    "env_from_secret": "a Secret name, a list of names, or {'VAR': 'secret-name/key'}",
    "env_from_configmap": "a ConfigMap name, a list of names, or {'VAR': 'configmap-name/key'}",
    "requests": "e.g. requests={'cpu': '500m', 'memory': '1Gi'}",
    "node_selector": "e.g. node_selector={'cloud.google.com/gke-accelerator': 'nvidia-tesla-t4'}",
    "tolerations": "e.g. tolerations=[{'key': 'nvidia.com/gpu', 'operator': 'Exists', "
                   "'effect': 'NoSchedule'}]",
    "image_pull_policy": "one of Always, IfNotPresent, Never",
    "packages": "pip requirements, e.g. packages=['numpy', 'scikit-learn==1.5.2']",
    "pip_index_urls": "e.g. pip_index_urls=['https://pypi.org/simple']",
    "image_pull_secrets": "names of docker-registry Secrets, e.g. image_pull_secrets=['regcred']",
    "ttl": "a duration ('1d', 3600) or {'after_success': '1h', 'after_failure': '7d'}",
    "pod_gc": "one of OnPodCompletion, OnPodSuccess, OnWorkflowCompletion, OnWorkflowSuccess, or "
              "{'strategy': 'OnPodSuccess', 'delete_delay': '10m'}",
}


def _bad(label: str, message: str, where: str | None, option: str) -> PipelineError:
    return PipelineError(f"{label}{message}"[:300], where=where, hint=_POD_HINTS[option])


def _names(value: Any, option: str, what: str, where: str | None, label: str) -> list[str]:
    """A name or a list of names, each a valid Kubernetes object name."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise _bad(label, f"{option} must be a name or a list of names, got {type(value).__name__} "
                   f"{value!r}", where, option)
    for item in items:
        if not isinstance(item, str) or not is_dns1123_subdomain(item):
            raise _bad(label, f"{option}: {item!r} is not a valid {what} name", where, option)
    return list(dict.fromkeys(items))


def _string_dict(value: Any, option: str, where: str | None, label: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _bad(label, f"{option} must be a dict, got {type(value).__name__} {value!r}", where, option)
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, (dict, list, tuple, set)) or item is None:
            raise _bad(label, f"{option}[{key!r}] must be a string, got {type(item).__name__}",
                       where, option)
        out[str(key)] = str(item).lower() if isinstance(item, bool) else str(item)
    return out


def _env_name(name: str, option: str, where: str | None, label: str) -> None:
    if not _ENV_NAME.match(name):
        raise _bad(label, f"{option}: {name!r} is not a valid environment variable name", where, option)
    if name == "PYTHONPATH" or name.startswith("KALE_ARGO_"):
        raise PipelineError(f"{label}{option}: {name} is set by kale-argo", where=where,
                            hint="choose another name (the step's code and packages need PYTHONPATH)")


def _env_refs(value: Any, kind: str, option: str, where: str | None,
              label: str) -> tuple[list[str], dict[str, dict[str, str]]]:
    """``env_from_secret``/``env_from_configmap``: whole objects (envFrom) or single keys (valueFrom)."""
    what = "Secret" if kind == "secret" else "ConfigMap"
    if not isinstance(value, dict):
        return _names(value, option, what, where, label), {}
    refs: dict[str, dict[str, str]] = {}
    for var, ref in value.items():
        _env_name(str(var), option, where, label)
        name, key = (ref if isinstance(ref, (tuple, list)) and len(ref) == 2
                     else str(ref).partition("/")[::2] if isinstance(ref, str) else ("", ""))
        if not name or not key or not is_dns1123_subdomain(str(name)):
            raise _bad(label, f"{option}[{var!r}] {ref!r} is not '{what.lower()}-name/key'", where, option)
        refs[str(var)] = {"kind": kind, "name": str(name), "key": str(key)}
    return [], refs


def _requirements(value: Any, option: str, where: str | None, label: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        raise _bad(label, f"{option} must be a list of pip requirements, got {value!r}", where, "packages")
    out = []
    for item in items:
        text = item.strip()
        if not text or text.startswith("-") or "\n" in text:
            raise _bad(label, f"{option}: {item!r} is not a pip requirement (options are not "
                       "accepted here)", where, "packages")
        out.append(text)
    return list(dict.fromkeys(out))


def _packages(raw: dict[str, Any], where: str | None, label: str) -> list[str] | None:
    """``packages`` or its KFP spelling ``packages_to_install`` (not both)."""
    if "packages" in raw and "packages_to_install" in raw:
        raise _bad(label, "give packages or packages_to_install, not both", where, "packages")
    key = "packages" if "packages" in raw else "packages_to_install"
    raw_value = raw.pop(key, None)
    raw.pop("packages_to_install", None)
    return None if raw_value is None else _requirements(raw_value, key, where, label)


def pod_settings(raw: dict[str, Any], where: str | None, label: str = "") -> dict[str, Any]:
    """Step options ``raw`` with the pod settings (env, env_from_*, requests, node_selector,
    tolerations, image_pull_policy, packages) validated and turned into IR fields."""
    data = dict(raw)
    packages = _packages(data, where, label)
    if packages is not None:
        data["packages"] = packages
    if data.get("env") is not None:
        data["env"] = _string_dict(data["env"], "env", where, label)
        for name in data["env"]:
            _env_name(name, "env", where, label)
    value_from: dict[str, dict[str, str]] = {}
    for option, kind in (("env_from_secret", "secret"), ("env_from_configmap", "configmap")):
        if data.get(option) is not None:
            data[option], refs = _env_refs(data[option], kind, option, where, label)
            value_from.update(refs)
    if value_from:
        data["env_value_from"] = value_from
    clash = sorted(set(data.get("env") or {}) & set(value_from))
    if clash:
        raise _bad(label, f"environment variable {clash[0]!r} is given both in env and from a "
                   "Secret or ConfigMap", where, "env")
    if data.get("requests") is not None:
        if not isinstance(data["requests"], dict):
            raise _bad(label, f"requests must be a dict, got {type(data['requests']).__name__} "
                       f"{data['requests']!r}", where, "requests")
        data["requests"] = {str(k): validate_quantity(v, f"{label}request {k!r}", where)
                            for k, v in data["requests"].items()}
        if isinstance(data.get("limits"), dict):
            _requests_within_limits(data["requests"], data["limits"], where, label)
    if data.get("node_selector") is not None:
        selector = _string_dict(data["node_selector"], "node_selector", where, label)
        for key, value in selector.items():
            if not is_qualified_key(key) or not is_label_value(value):
                raise _bad(label, f"node_selector {key!r}: {value!r} is not a valid label", where,
                           "node_selector")
        data["node_selector"] = selector
    if data.get("tolerations") is not None:
        data["tolerations"] = _tolerations(data["tolerations"], where, label)
    policy = data.get("image_pull_policy")
    if policy is not None and policy not in _PULL_POLICIES:
        raise _bad(label, f"image_pull_policy {policy!r} is not one of {', '.join(_PULL_POLICIES)}",
                   where, "image_pull_policy")
    return data


def _requests_within_limits(requests: dict[str, str], limits: dict[Any, Any], where: str | None,
                            label: str) -> None:
    """A request above its limit, or an extended resource's request other than its limit: an error."""
    for name, amount in requests.items():
        if name not in limits:
            continue
        limit = parse_quantity(validate_quantity(limits[name], f"{label}limit {name!r}", where))
        if parse_quantity(amount) > limit:
            raise _bad(label, f"request {name!r} {amount!r} is more than its limit {limits[name]!r}",
                       where, "requests")
        if not name.startswith(("cpu", "memory", "ephemeral-storage", "hugepages-")) and \
                parse_quantity(amount) != limit:
            raise _bad(label, f"request {name!r} must equal its limit (an extended resource cannot "
                       "be overcommitted)", where, "requests")


def _tolerations(value: Any, where: str | None, label: str) -> list[dict[str, Any]]:
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, (list, tuple)):
        raise _bad(label, f"tolerations must be a list of dicts, got {value!r}", where, "tolerations")
    out = []
    for i, item in enumerate(items):
        try:
            tol = _conform(item, _TOLERATION, f"tolerations[{i}]")
        except _ShapeError as exc:
            raise _bad(label, str(exc), where, "tolerations") from None
        if tol.get("operator") == "Exists" and tol.get("value"):
            raise _bad(label, f"tolerations[{i}] has a value with operator Exists", where, "tolerations")
        if not tol.get("key") and tol.get("operator", "Equal") != "Exists":
            raise _bad(label, f"tolerations[{i}] without a key needs operator Exists", where,
                       "tolerations")
        if "tolerationSeconds" in tol and tol.get("effect") != "NoExecute":
            raise _bad(label, f"tolerations[{i}]: tolerationSeconds needs effect NoExecute", where,
                       "tolerations")
        out.append(dict(sorted(tol.items())))
    return out


def pipeline_pod_fields(opts: dict[str, Any], where: str) -> dict[str, Any]:
    """The @pipeline options packages (packages_to_install), pip_index_urls, image_pull_secrets,
    ttl and pod_gc as PipelineSpec fields."""
    fields: dict[str, Any] = {}
    packages = _packages(dict(opts), where, "")
    if packages is not None:
        fields["packages"] = packages
    urls = opts.get("pip_index_urls")
    if urls is not None:
        items = [urls] if isinstance(urls, str) else urls
        if not isinstance(items, (list, tuple)) or not all(
                isinstance(u, str) and re.match(r"^(https?|file)://\S+$", u) for u in items):
            raise _bad("", f"pip_index_urls {urls!r} must be a list of http(s) or file URLs", where,
                       "pip_index_urls")
        fields["pip_index_urls"] = list(dict.fromkeys(items))
    if opts.get("image_pull_secrets") is not None:
        fields["image_pull_secrets"] = _names(opts["image_pull_secrets"], "image_pull_secrets",
                                              "Secret", where, "")
    if opts.get("ttl") is not None:
        fields["ttl"] = _ttl(opts["ttl"], where)
    if opts.get("pod_gc") is not None:
        fields["pod_gc"] = _pod_gc(opts["pod_gc"], where)
    return fields


def _seconds(value: Any, what: str, where: str) -> int:
    return math.ceil(validate_duration(value, what, where))


def _ttl(value: Any, where: str) -> dict[str, int]:
    if not isinstance(value, dict):
        return {"after_completion": _seconds(value, "ttl", where)}
    known = ("after_completion", "after_success", "after_failure")
    out = {}
    for key, item in value.items():
        if key not in known:
            raise _bad("", f"ttl has no field {key!r}", where, "ttl")
        out[key] = _seconds(item, f"ttl {key}", where)
    if not out:
        raise _bad("", "ttl is empty", where, "ttl")
    return out


def _pod_gc(value: Any, where: str) -> dict[str, Any]:
    data = {"strategy": value} if isinstance(value, str) else value
    if not isinstance(data, dict) or set(data) - {"strategy", "delete_delay"}:
        raise _bad("", f"pod_gc {value!r} is not a strategy or {{'strategy': ..., 'delete_delay': ...}}",
                   where, "pod_gc")
    if data.get("strategy") not in POD_GC_STRATEGIES:
        raise _bad("", f"pod_gc strategy {data.get('strategy')!r} is not supported", where, "pod_gc")
    out: dict[str, Any] = {"strategy": data["strategy"]}
    if data.get("delete_delay") is not None:
        out["delete_delay"] = validate_duration(data["delete_delay"], "pod_gc delete_delay", where)
    return out
