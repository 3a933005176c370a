"""Step options as Kubernetes/Argo fields: resources, retry strategy, pod metadata, security.

Argo's IntOrString fields are written as strings, the form its published JSON schema declares.
"""

from __future__ import annotations

import math
from typing import Any

from hera.workflows import models as m

from ..errors import PipelineError, UserError
from ..spec import PipelineSpec, StepOptions, StepSpec
from ..units import format_duration, parse_quantity
from .names import check_label_key, check_label_value

# Resources Kubernetes allows in fractions; any other (extended) resource must be a whole number.
FRACTIONAL = ("cpu", "memory", "ephemeral-storage", "hugepages-")
# Hardened pods: a numeric non-root user (so images whose USER is root or a name, like python:*-slim,
# run), uid 1000 / gid 100 as the Jupyter images' (Kubeflow notebooks') user `jovyan`, so files a
# notebook wrote in a cloned workspace are the steps' own and the other way round.
RUN_AS_USER = 1000
RUN_AS_GROUP = 100
RUNTIME_DEFAULT = {"type": "RuntimeDefault"}
# Pod-level fields repeated on every container, so each one is hardened on its own.
_IDENTITY = ("runAsNonRoot", "runAsUser", "runAsGroup", "seccompProfile")


def resources(step: StepSpec) -> m.ResourceRequirements | None:
    """``limits`` as limits, and as requests for every resource ``requests`` does not name (so
    with limits alone requests equal limits, as Kubernetes requires for extended resources)."""
    limits, own = step.options.limits, step.options.requests
    if not limits and not own:
        return None
    for option, amounts in (("limit", limits), ("request", own)):
        for name, amount in amounts.items():
            try:
                check_label_key(name, "resource name", step.location)
            except UserError as exc:
                raise PipelineError(f"step {step.name!r}: {exc.message}", where=step.location,
                                    hint="e.g. cpu, memory or nvidia.com/gpu") from None
            if not name.startswith(FRACTIONAL) and parse_quantity(amount) != int(parse_quantity(amount)):
                raise PipelineError(f"step {step.name!r}: {option} {name!r} {amount!r} must be a whole "
                                    "number", where=step.location,
                                    hint=f"{name} cannot be shared, e.g. use 1")
    for name, amount in own.items():
        if name in limits and parse_quantity(amount) > parse_quantity(limits[name]):
            raise PipelineError(f"step {step.name!r}: request {name!r} {amount!r} is more than its limit "
                                f"{limits[name]!r}", where=step.location,
                                hint="a request is at most the limit; raise the limit or lower the request")
        if name in limits and not name.startswith(FRACTIONAL) and \
                parse_quantity(amount) != parse_quantity(limits[name]):
            raise PipelineError(f"step {step.name!r}: request {name!r} must equal its limit (an "
                                "extended resource cannot be overcommitted)", where=step.location,
                                hint=f"drop requests[{name!r}]: it then equals the limit")
    requests = {**limits, **own}
    return m.ResourceRequirements(
        limits={k: m.Quantity(root=v) for k, v in sorted(limits.items())} or None,
        requests={k: m.Quantity(root=v) for k, v in sorted(requests.items())})


def retry_strategy(step: StepSpec) -> m.RetryStrategy | None:
    """Kale's retry options as an Argo retryStrategy (retrying failures and errors) with backoff."""
    opts = step.options
    if not opts.retry_count:
        return None
    backoff = None
    if opts.retry_interval is not None or opts.retry_factor is not None or opts.retry_max_interval:
        factor = None
        if opts.retry_factor is not None:
            if opts.retry_factor != int(opts.retry_factor):
                raise PipelineError(f"step {step.name!r}: retry_factor {opts.retry_factor} must be a "
                                    "whole number on Argo", where=step.location, hint="e.g. 2")
            factor = m.IntOrString(root=str(int(opts.retry_factor)))
        backoff = m.Backoff(
            duration=format_duration(opts.retry_interval if opts.retry_interval is not None else 1),
            factor=factor,
            max_duration=format_duration(opts.retry_max_interval) if opts.retry_max_interval else None)
    return m.RetryStrategy(limit=m.IntOrString(root=str(opts.retry_count)), retry_policy="Always",
                           backoff=backoff)


def timeout_seconds(seconds: float | None) -> int | None:
    """A timeout in whole seconds (rounded up), as ``activeDeadlineSeconds`` takes it."""
    return None if seconds is None else max(1, math.ceil(seconds))


def pod_metadata(step: StepSpec) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """The step's labels and annotations (validated), sorted."""
    opts: StepOptions = step.options
    for key, value in opts.labels.items():
        _check(step, key, value, label=True)
    for key in opts.annotations:
        _check(step, key, "", label=False)
    return (dict(sorted(opts.labels.items())) or None, dict(sorted(opts.annotations.items())) or None)


def _check(step: StepSpec, key: str, value: str, *, label: bool) -> None:
    what = "label" if label else "annotation"
    try:
        check_label_key(key, what)
        if label:
            check_label_value(value, f"label {key!r}")
    except UserError as exc:
        raise PipelineError(f"step {step.name!r}: {exc.message}", where=step.location,
                            hint=exc.hint) from None


def pod_security(spec: PipelineSpec, fs_group: int | None) -> dict[str, Any]:
    """The pods' securityContext: non-root, numeric ids, seccomp RuntimeDefault, the ``fs_group``,
    then the pipeline's ``pod_security_context`` (a None value removes a default)."""
    context: dict[str, Any] = {"runAsNonRoot": True, "runAsUser": RUN_AS_USER,
                               "runAsGroup": RUN_AS_GROUP, "seccompProfile": dict(RUNTIME_DEFAULT)}
    if fs_group is not None:
        context.update(fsGroup=fs_group, fsGroupChangePolicy="OnRootMismatch")
    context = _over(context, spec.pod_security_context)
    _check_root(context, "pod_security_context", None)
    return context


def container_security(step: StepSpec, pod: dict[str, Any]) -> m.SecurityContext:
    """Every container's securityContext: no privilege escalation, no capabilities, the pod's
    identity and seccomp profile, then the step's ``security_context``."""
    context: dict[str, Any] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                               **{k: pod[k] for k in _IDENTITY if k in pod}}
    context = _over(context, step.options.security_context)
    _check_root(context, "security_context", step)
    return m.SecurityContext.model_validate(context)


def _over(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **override}
    return {k: v for k, v in merged.items() if v is not None}


def _check_root(context: dict[str, Any], option: str, step: StepSpec | None) -> None:
    """runAsUser 0 with runAsNonRoot true is a pod the kubelet refuses to start: say so now."""
    if context.get("runAsUser") == 0 and context.get("runAsNonRoot"):
        label = f"step {step.name!r}: " if step else ""
        raise PipelineError(f"{label}{option} runs as user 0 (root) while runAsNonRoot is true, so the "
                            "pod would never start", where=step.location if step else None,
                            hint=f"also give {option}={{'runAsNonRoot': False, ...}} to run as root")


def pod_env(step: StepSpec) -> tuple[list[m.EnvVar], list[m.EnvFromSource]]:
    """The step's ``env`` and its values from Secrets and ConfigMaps (references only), sorted."""
    opts = step.options
    env = [m.EnvVar(name=k, value=v) for k, v in sorted(opts.env.items())]
    for var, ref in sorted(opts.env_value_from.items()):
        source = (m.EnvVarSource(secret_key_ref=m.SecretKeySelector(name=ref.name, key=ref.key))
                  if ref.kind == "secret" else
                  m.EnvVarSource(config_map_key_ref=m.ConfigMapKeySelector(name=ref.name, key=ref.key)))
        env.append(m.EnvVar(name=var, value_from=source))
    env_from = [m.EnvFromSource(secret_ref=m.SecretEnvSource(name=n)) for n in opts.env_from_secret]
    env_from += [m.EnvFromSource(config_map_ref=m.ConfigMapEnvSource(name=n))
                 for n in opts.env_from_configmap]
    return env, env_from


def tolerations(step: StepSpec) -> list[m.Toleration] | None:
    """The step's tolerations (validated when it was traced)."""
    return [m.Toleration.model_validate(t) for t in step.options.tolerations] or None


def ttl_strategy(spec: PipelineSpec) -> m.TTLStrategy | None:
    """The pipeline's ``ttl`` as Argo's ttlStrategy."""
    if spec.ttl is None:
        return None
    return m.TTLStrategy(seconds_after_completion=spec.ttl.after_completion,
                         seconds_after_success=spec.ttl.after_success,
                         seconds_after_failure=spec.ttl.after_failure)


def pod_gc(spec: PipelineSpec) -> m.PodGC | None:
    """The pipeline's ``pod_gc`` as Argo's podGC."""
    if spec.pod_gc is None:
        return None
    delay = spec.pod_gc.delete_delay
    return m.PodGC(strategy=spec.pod_gc.strategy,
                   delete_delay_duration=format_duration(delay) if delay is not None else None)
