"""Argo names for a pipeline: template and task names, generateName; label checks as ConfigErrors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..errors import ConfigError
from ..names import dns1123_label, is_label_value, is_qualified_key, unique_names

# Argo's workflow name limit (63, used in labels) minus the 5 random characters of generateName.
GENERATE_NAME_MAX = 63 - 5
TASK_NAME_MAX = 63


def argo_names(raw: Iterable[str], reserved: Iterable[str] = ()) -> list[str]:
    """Kale-style names (``data_loading``) as unique Argo task/template names (``data-loading``).

    Valid by Argo's rule (``[a-zA-Z0-9][-a-zA-Z0-9]*``) and DNS-1123, never starting with a digit (a
    DAG task may not), unique among themselves and ``reserved``; later duplicates get ``-2``,
    ``-3``... in input order, so the result is deterministic.
    """
    taken = list(reserved)
    fixed = [f"s-{n}" if dns1123_label(n)[:1].isdigit() else n for n in raw]
    return unique_names([*taken, *fixed], TASK_NAME_MAX)[len(taken):]


def task_names(steps: Sequence[str]) -> dict[str, str]:
    """Step name -> its DAG task name (:func:`argo_names` of all the steps, in order)."""
    return dict(zip(steps, argo_names(steps), strict=True))


def generate_name(pipeline: str) -> str:
    """``metadata.generateName`` for a pipeline: its DNS-1123 form, cut to fit, and a dash."""
    return (dns1123_label(pipeline, GENERATE_NAME_MAX - 1) or "pipeline") + "-"


def check_label_value(value: str, what: str, where: str | None = None) -> None:
    """A ConfigError unless ``value`` is a valid label value."""
    if not is_label_value(value):
        raise ConfigError(f"{what} value {value!r} is not a valid label value", where=where,
                          hint="at most 63 letters, digits, '-', '_' or '.', alphanumeric at both ends")


def check_label_key(key: str, what: str, where: str | None = None) -> None:
    """A ConfigError unless ``key`` is a qualified name (``[prefix/]name``), as labels need."""
    if not is_qualified_key(key):
        raise ConfigError(f"{what} key {key!r} is not a valid Kubernetes key", where=where,
                          hint="[dns.prefix/]name, the name at most 63 letters, digits, '-', '_', '.'")
