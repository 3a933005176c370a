"""From a script (or a Pipeline object) to the IR and its parameter values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..spec import PipelineSpec


def load_spec(script: str, pipeline: str | None = None) -> PipelineSpec:
    """Import ``script``, find its pipeline (``pipeline`` names one of several) and trace it."""
    from ..sdk.loader import load_pipeline

    return load_pipeline(script, pipeline).trace()


def resolve(spec: PipelineSpec, params: Mapping[str, Any] | None,
            where: str | None = None) -> dict[str, Any]:
    """The parameter values of a run: defaults overridden by ``params`` (typed values or CLI
    strings); a bad one is reported at ``where`` (the call's file:line), else as ``-p NAME``."""
    return spec.resolve_parameters(dict(params or {}), where=where)
