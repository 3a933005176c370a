"""Where the SDK hands over to the application layer: calling a ``@pipeline`` function and the
``Pipeline`` methods (``run`` today) go through :func:`application`, the SDK's one (lazy) import
of :mod:`kale_argo.app`, so that importing the SDK stays light (standard library only).
"""

from __future__ import annotations

import contextlib
import os
import sys
from types import ModuleType
from typing import Any


def application() -> ModuleType:
    """The application layer, imported on first use."""
    from .. import app

    return app


def run_server(pipe: Any, warm_start: bool | None) -> contextlib.AbstractContextManager[Any]:
    """The fork server of a local run of ``pipe``, started before ``pipe`` is traced (see
    :func:`kale_argo.app.running.prestarted`), from the file that defines it or, for a pipeline in
    a kernel's cells, from the module its cells make (written only by the trace). None where its
    source cannot be read back, or the cells do not make a module (the trace says why)."""
    from ..errors import KaleArgoError
    from .interactive import build_module, defined_in_kernel

    app = application()
    if not defined_in_kernel(pipe.func):
        return app.prestarted(os.path.abspath(pipe.func.__code__.co_filename), warm_start)
    try:
        shipped = build_module(pipe, write=False)
    except KaleArgoError:
        return contextlib.nullcontext()
    return app.prestarted(shipped.path, warm_start, text=shipped.source.encode("utf-8"))


def call_pipeline(pipe: Any, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """Run, compile or submit ``pipe`` with ``params`` as Kale's SDK did (see :mod:`kale_argo.app.script`).

    A call made while the script is imported by ``kale-argo`` or by a step (a call not under
    ``if __name__ == "__main__":``) does nothing and returns None.
    """
    from .context import pipeline_calls_ignored

    if pipeline_calls_ignored():
        return None
    where = _caller()
    return application().pipeline_called(pipe, args, params, where)


def _caller() -> str:
    frame = sys._getframe(3)  # _caller <- call_pipeline <- Pipeline.__call__ <- the caller
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"
