"""kale-argo: plain Python @step/@pipeline scripts, run locally or as Argo Workflows.

>>> from kale_argo import pipeline, step

Importing this package stays light (standard library only): every step process imports it.
"""

from .errors import KaleArgoError, MarshalError, PipelineError, RunFailed, UserError
from .sdk.decorators import Pipeline, Step, artifact, pipeline, step
from .version import __version__

__all__ = [
    "KaleArgoError", "MarshalError", "Pipeline", "PipelineError", "RunFailed", "Step",
    "UserError", "__version__", "artifact", "pipeline", "step",
]
