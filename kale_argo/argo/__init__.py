"""The Argo compiler: a traced pipeline (the IR) -> an Argo Workflow, built with Hera.

>>> from kale_argo.argo import CompileOptions, compile_yaml
>>> text = compile_yaml(spec, {"lr": "0.5"}, CompileOptions(namespace="kubeflow-user"))

Names are loaded on first use, so importing this package (or :mod:`.options`) does not import Hera.
"""

from __future__ import annotations

from ..lazy import exported, lazy_names

_MODULES = {
    "options": ("CompileOptions",),
    "output": ("compile_dict", "compile_yaml", "compile_manifests", "to_yaml"),
    "workflow": ("compile_run", "compile_workflow", "step_image"),
}
__all__ = sorted(exported(_MODULES))
__getattr__, __dir__ = lazy_names(__name__, _MODULES)
