"""The SDK: @step and @pipeline (light at import) and tracing a pipeline into the IR."""

from .decorators import Pipeline, Step, artifact, pipeline, step

__all__ = ["Pipeline", "Step", "artifact", "pipeline", "step"]
