"""The Argo compiler: a traced pipeline (the IR) -> an Argo Workflow, built with Hera.

>>> from kale_argo.argo import CompileOptions, compile_yaml
>>> text = compile_yaml(spec, {"lr": "0.5"}, CompileOptions(namespace="kubeflow-user"))

Names are loaded on first use, so importing this package (or :mod:`.options`) does not import Hera.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CompileOptions": "options", "compile_dict": "output", "compile_yaml": "output",
    "compile_manifests": "output", "compile_run": "workflow", "to_yaml": "output",
    "compile_workflow": "workflow", "step_image": "workflow",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
