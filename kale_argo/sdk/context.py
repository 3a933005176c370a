"""The tracer of the pipeline being traced, if any, and whether pipeline calls are ignored
(standard library only)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_TRACER: ContextVar[Any] = ContextVar("kale_argo_tracer", default=None)
_LOADING: ContextVar[bool] = ContextVar("kale_argo_loading", default=False)
RUNTIME_MAIN = "kale_argo.runtime.__main__"


def current_tracer() -> Any:
    """The active tracer, or None outside pipeline tracing."""
    return _TRACER.get()


def set_tracer(tracer: Any) -> Any:
    """Make ``tracer`` active; returns a token for :func:`reset_tracer`."""
    return _TRACER.set(tracer)


def reset_tracer(token: Any) -> None:
    """Restore the tracer active before :func:`set_tracer`."""
    _TRACER.reset(token)


@contextmanager
def loading_script() -> Iterator[None]:
    """While a script is imported to find its pipeline, calls of the pipeline do nothing."""
    token = _LOADING.set(True)
    try:
        yield
    finally:
        _LOADING.reset(token)


def pipeline_calls_ignored() -> bool:
    """True while a script is being loaded, or inside a step (``python -m kale_argo.runtime``):
    a pipeline call the script makes at import time (not under ``__main__``) must not start a run."""
    if _LOADING.get():
        return True
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == RUNTIME_MAIN
