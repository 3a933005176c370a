"""Pipeline parameters as ``spec.arguments.parameters`` (overridable by ``argo submit -p``)."""

from __future__ import annotations

from typing import Any

from hera.workflows import models as m

from ..params import parameter_text
from ..spec import PipelineSpec


def workflow_parameters(spec: PipelineSpec, values: dict[str, Any]) -> list[m.Parameter]:
    """One argument per pipeline parameter, valued ``values`` (defaults with overrides applied)."""
    result = []
    for p in spec.parameters:
        result.append(m.Parameter(
            name=p.name, value=parameter_text(values[p.name]),
            description=f"{p.type}, default {parameter_text(p.default)}",
            enum=["true", "false"] if p.type == "bool" else None))
    return result
