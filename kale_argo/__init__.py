"""kale-argo: plain Python @step/@pipeline scripts, run locally or as Argo Workflows.

>>> from kale_argo import pipeline, step

Importing this package stays light (standard library only): every step process imports it.
"""

from typing import Any

from .errors import KaleArgoError, MarshalError, PipelineError, RunFailed, UserError
from .sdk.decorators import Pipeline, Step, artifact, pipeline, step
from .sdk.flow import when
from .version import __version__


def __getattr__(name: str) -> Any:
    """``kale_argo.get_run``, imported on first use (importing the package stays light)."""
    if name == "get_run":
        from .app.handles import get_run

        return get_run
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "KaleArgoError", "MarshalError", "Pipeline", "PipelineError", "RunFailed", "Step",
    "UserError", "__version__", "artifact", "get_run", "pipeline", "step", "when",
]
