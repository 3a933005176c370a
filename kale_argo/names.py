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
