"""Keeping tokens out of output, logs, exceptions and reprs.

Every credential the cluster layer handles is registered with :func:`register_secret`; a logging
filter installed on the root logger scrubs them from every record, and :func:`redact` scrubs any
text (error messages, response bodies) before it is shown.
"""

from __future__ import annotations

import logging
import re
import threading

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
MASK = "[REDACTED]"


class Secret(str):
    """A string whose repr and str-in-containers never show the value (``str(secret)`` still does)."""

    def __repr__(self) -> str:
        return "Secret('***')"


def register_secret(value: str | None) -> Secret | None:
    """Remember ``value`` as a secret to scrub everywhere; returns it wrapped (None stays None)."""
    if not value:
        return None
    with _LOCK:
        _SECRETS.add(str(value))
        if str(value).lower().startswith("bearer "):
            _SECRETS.add(str(value)[7:].strip())
    _install_filter()
    return Secret(value)


def redact(text: object) -> str:
    """``text`` as a string with every registered secret and any bearer token masked."""
    result = str(text)
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if len(secret) >= 4:
            result = result.replace(secret, MASK)
    return _BEARER.sub(rf"\g<1>{MASK}", result)


class RedactingFilter(logging.Filter):
    """Scrubs secrets from a log record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            record.msg = redact(record.getMessage())
            record.args = ()
        return True


_FILTER = RedactingFilter()


def _install_filter() -> None:
    root = logging.getLogger()
    for handler in root.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    if _FILTER not in root.filters:
        root.addFilter(_FILTER)
    for name in ("urllib3", "urllib3.connectionpool", "requests", "kubernetes", "hera"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
