"""Argo and Kubernetes names for a pipeline: template and task names, label values, generateName."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..errors import ConfigError
from ..names import dns1123_label, unique_names

# Argo's workflow name limit (63, used in labels) minus the 5 random characters of generateName.
GENERATE_NAME_MAX = 63 - 5
TASK_NAME_MAX = 63
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_INVALID = re.compile(r"[^-A-Za-z0-9_.]+")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


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


def label_value(text: str) -> str:
    """``text`` as a valid label value (at most 63 characters, alphanumeric at both ends)."""
    value = _LABEL_INVALID.sub("-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def check_label_value(value: str, what: str, where: str | None = None) -> None:
    """A ConfigError unless ``value`` is a valid label value."""
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise ConfigError(f"{what} value {value!r} is not a valid label value", where=where,
                          hint="at most 63 letters, digits, '-', '_' or '.', alphanumeric at both ends")


def check_label_key(key: str, what: str, where: str | None = None) -> None:
    """A ConfigError unless ``key`` is a qualified name (``[prefix/]name``), as labels need."""
    prefix, _, name = key.rpartition("/")
    ok = 0 < len(name) <= 63 and bool(_LABEL_VALUE.match(name))
    if prefix:
        ok = ok and len(prefix) <= 253 and bool(_PREFIX.match(prefix))
    if not ok:
        raise ConfigError(f"{what} key {key!r} is not a valid Kubernetes key", where=where,
                          hint="[dns.prefix/]name, the name at most 63 letters, digits, '-', '_', '.'")
