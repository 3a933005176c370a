"""Kubernetes and Argo names, valid by construction, and image references (standard library only)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_INVALID = re.compile(r"[^a-z0-9-]+")
_DASHES = re.compile(r"-{2,}")


def dns1123_label(name: str, max_length: int = 63) -> str:
    """``name`` as a DNS-1123 label: lowercase alphanumerics and '-', alphanumeric at both ends.

    Returns "" when nothing valid is left (the caller reports that).
    """
    text = _INVALID.sub("-", name.strip().lower().replace("_", "-").replace(".", "-"))
    text = _DASHES.sub("-", text).strip("-")
    return text[:max_length].rstrip("-")


def unique_names(names: Iterable[str], max_length: int = 63) -> list[str]:
    """Normalise ``names`` to DNS-1123 labels, resolving collisions deterministically.

    The first occurrence keeps its name; later ones get ``-2``, ``-3``... in input order.
    """
    seen: set[str] = set()
    result: list[str] = []
    for raw in names:
        base = dns1123_label(raw, max_length) or "step"
        candidate, n = base, 1
        while candidate in seen:
            n += 1
            suffix = f"-{n}"
            candidate = base[: max_length - len(suffix)].rstrip("-") + suffix
        seen.add(candidate)
        result.append(candidate)
    return result


def is_image_reference(image: str) -> bool:
    """Whether ``image`` can be a container image reference: not blank, no white space."""
    return bool(image.strip()) and not any(c.isspace() for c in image)


_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_INVALID = re.compile(r"[^-A-Za-z0-9_.]+")
_KEY_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def label_value(text: str) -> str:
    """``text`` as a valid label value (at most 63 characters, alphanumeric at both ends)."""
    value = _LABEL_INVALID.sub("-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def is_label_value(value: str) -> bool:
    """Whether ``value`` is a valid label value as written."""
    return len(value) <= 63 and bool(_LABEL_VALUE.match(value))


def is_qualified_key(key: str) -> bool:
    """Whether ``key`` is a label/annotation key: ``[dns.prefix/]name``."""
    prefix, _, name = key.rpartition("/")
    ok = 0 < len(name) <= 63 and bool(_LABEL_VALUE.match(name))
    if prefix:
        ok = ok and len(prefix) <= 253 and bool(_KEY_PREFIX.match(prefix))
    return ok


def is_dns1123_label(name: str) -> bool:
    """A DNS-1123 label, as Kubernetes validates namespace names."""
    return bool(_DNS_LABEL.fullmatch(name))


def is_dns1123_subdomain(name: str) -> bool:
    """A DNS-1123 subdomain, as Kubernetes validates object names (``a--b`` is valid)."""
    return 0 < len(name) <= 253 and all(_DNS_LABEL.fullmatch(p) for p in name.split("."))
