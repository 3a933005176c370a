"""Step options as Kubernetes/Argo fields: resources, retry strategy, pod metadata.

Argo's IntOrString fields are written as strings, the form its published JSON schema declares.
"""

from __future__ import annotations

import math

from hera.workflows import models as m

from ..errors import PipelineError, UserError
from ..spec import StepOptions, StepSpec
from ..units import format_duration, parse_quantity
from .names import check_label_key, check_label_value

# Resources Kubernetes allows in fractions; any other (extended) resource must be a whole number.
FRACTIONAL = ("cpu", "memory", "ephemeral-storage", "hugepages-")


def resources(step: StepSpec) -> m.ResourceRequirements | None:
    """``limits`` as requests and limits (equal, as Kubernetes requires for extended resources)."""
    limits = step.options.limits
    if not limits:
        return None
    for name, amount in limits.items():
        try:
            check_label_key(name, "resource name", step.location)
        except UserError as exc:
            raise PipelineError(f"step {step.name!r}: {exc.message}", where=step.location,
                                hint="e.g. cpu, memory or nvidia.com/gpu") from None
        if not name.startswith(FRACTIONAL) and parse_quantity(amount) != int(parse_quantity(amount)):
            raise PipelineError(f"step {step.name!r}: limit {name!r} {amount!r} must be a whole number",
                                where=step.location, hint=f"{name} cannot be shared, e.g. use 1")
    quantities = {name: m.Quantity(root=amount) for name, amount in sorted(limits.items())}
    return m.ResourceRequirements(limits=quantities, requests=dict(quantities))


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
