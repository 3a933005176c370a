"""Kubernetes quantities and durations: parsing and validation (standard library only)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from .errors import UserError

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12),
    "P": Decimal(10**15), "E": Decimal(10**18),
}
_QUANTITY = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_quantity(value: str | int | float) -> Decimal:
    """The numeric value of a Kubernetes quantity ("10Gi", "500m", "1e3", 2); ValueError if invalid."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(text)
    number, suffix, exponent = match.groups()
    try:
        base = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(text) from exc
    if exponent is not None:
        return base * (Decimal(10) ** int(exponent))
    if suffix in _BINARY:
        return base * _BINARY[suffix]
    return base * _DECIMAL[suffix or ""]


def quantity_hint(text: str) -> str:
    """A hint for a string that is not a Kubernetes quantity."""
    match = re.match(r"^\s*([0-9.]+)\s*([a-zA-Z]*)\s*$", text)
    if match:
        number, unit = match.groups()
        letter = unit[:1].upper() if unit else ""
        if letter in {"K", "M", "G", "T", "P", "E"}:
            dec = "k" if letter == "K" else letter
            return f"did you mean {number}{dec} or {number}{letter}i?"
    return "use a Kubernetes quantity such as 1Gi, 500Mi, 2 or 500m"


def validate_quantity(value: object, what: str, where: str | None = None) -> str:
    """``value`` as a canonical quantity string, or a UserError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UserError(f"{what} must be a Kubernetes quantity, got {value!r}", where=where,
                        hint="use a string such as '10Gi'")
    text = str(value).strip()
    try:
        amount = parse_quantity(text)
    except ValueError:
        raise UserError(f"{what} {text!r} is not a Kubernetes quantity", where=where,
                        hint=quantity_hint(text)) from None
    if amount < 0:
        raise UserError(f"{what} {text!r} must not be negative", where=where)
    return text


def parse_duration(value: object) -> float:
    """Seconds in a duration: a number of seconds or a string like "30s", "1m30s", "2h"."""
    if isinstance(value, bool):
        raise ValueError(repr(value))
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(repr(value))
        return float(value)
    if not isinstance(value, str):
        raise ValueError(repr(value))
    text = value.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    if not text or _DURATION_PART.sub("", text):
        raise ValueError(text)
    return sum(float(n) * _DURATION_UNIT[u] for n, u in _DURATION_PART.findall(text))


def validate_duration(value: object, what: str, where: str | None = None) -> float:
    """Seconds in ``value``, or a UserError naming ``what``."""
    try:
        return parse_duration(value)
    except ValueError:
        raise UserError(f"{what} {value!r} is not a duration", where=where,
                        hint="use seconds (30) or a string such as '30s', '5m', '1h30m'") from None


def format_duration(seconds: float) -> str:
    """A Go/Argo duration string for ``seconds`` ("90s" -> "1m30s")."""
    total = round(seconds)
    if total == 0 and seconds > 0:
        return f"{round(seconds * 1000)}ms"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"
