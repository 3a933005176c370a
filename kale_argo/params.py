"""Pipeline parameter values as text and back (standard library only), shared by the IR, the
step runtime, the local executor and the Argo compiler."""

from __future__ import annotations

import re
from typing import Any

from .errors import UserError

_TRUE = {"true", "1", "yes", "y", "on"}
_DECIMAL = re.compile(r"[+-]?[0-9](?:_?[0-9])*\Z")
SHOWN_CHARS = 60  # a longer rejected value is shown shortened
_FALSE = {"false", "0", "no", "n", "off"}


def parameter_text(value: Any) -> str:
    """A parameter value as the text a step receives (``true``/``false`` for booleans), which
    :func:`convert_parameter` turns back into the value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def convert_parameter(name: str, type_: str, raw: object, where: str | None = None) -> Any:
    """Convert ``raw`` to a parameter's type; strings are parsed the way the CLI receives them."""
    try:
        if type_ == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(raw)
        if type_ == "int":
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(raw)
            if isinstance(raw, str):
                # decimal only, as argparse's type=int and Kale read it: 010 is 10, 0x10 an error
                text = raw.strip()
                if not _DECIMAL.match(text):
                    raise ValueError(raw)
                return int(text, 10)
            return int(raw)  # type: ignore[call-overload]
        if type_ == "float":
            if isinstance(raw, bool):
                raise ValueError(raw)
            return float(raw)  # type: ignore[arg-type]
        return str(raw)
    except (TypeError, ValueError):
        raise UserError(f"parameter {name!r} expects {type_}, got {shown(raw)}", where=where,
                        hint="true/false" if type_ == "bool" else f"pass a valid {type_}") from None


def shown(raw: object) -> str:
    """``repr(raw)``, shortened to about :data:`SHOWN_CHARS` characters for an error message."""
    text = repr(raw)
    if len(text) <= SHOWN_CHARS:
        return text
    return f"{text[:SHOWN_CHARS - 20]}...{text[-10:]} ({len(str(raw))} characters)"
