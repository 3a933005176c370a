"""The tracer of the pipeline being traced, if any (standard library only)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

_TRACER: ContextVar[Any] = ContextVar("kale_argo_tracer", default=None)


def current_tracer() -> Any:
    """The active tracer, or None outside pipeline tracing."""
    return _TRACER.get()


def set_tracer(tracer: Any) -> Any:
    """Make ``tracer`` active; returns a token for :func:`reset_tracer`."""
    return _TRACER.set(tracer)


def reset_tracer(token: Any) -> None:
    """Restore the tracer active before :func:`set_tracer`."""
    _TRACER.reset(token)
