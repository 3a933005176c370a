"""The Argo compiler: a traced pipeline (the IR) -> an Argo Workflow, built with Hera.

>>> from kale_argo.argo import CompileOptions, compile_yaml
>>> text = compile_yaml(spec, {"lr": "0.5"}, CompileOptions(namespace="kubeflow-user"))
"""

from .metadata import (
    ANNOTATION_EXPERIMENT,
    ANNOTATION_PIPELINE,
    ANNOTATION_SCRIPT,
    ANNOTATION_SCRIPT_SHA256,
    ANNOTATION_VERSION,
    ANNOTATION_VOLUMES,
    LABEL_EXPERIMENT,
    LABEL_PIPELINE,
)
from .names import label_value
from .options import CompileOptions
from .output import compile_dict, compile_yaml, to_yaml
from .workflow import compile_workflow, step_image

__all__ = [
    "ANNOTATION_EXPERIMENT", "ANNOTATION_PIPELINE", "ANNOTATION_SCRIPT", "ANNOTATION_SCRIPT_SHA256",
    "ANNOTATION_VERSION", "ANNOTATION_VOLUMES", "LABEL_EXPERIMENT", "LABEL_PIPELINE", "CompileOptions",
    "compile_dict", "compile_workflow", "compile_yaml", "label_value", "step_image", "to_yaml",
]
