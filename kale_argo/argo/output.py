"""The compiled Workflow as a dict or as YAML: deterministic, byte for byte."""

from __future__ import annotations

from typing import Any

import yaml

from ..spec import PipelineSpec
from .options import CompileOptions
from .workflow import compile_workflow

try:
    _Dumper: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Dumper = yaml.SafeDumper


def compile_dict(spec: PipelineSpec, params: dict[str, Any] | None = None,
                 options: CompileOptions | None = None) -> dict[str, Any]:
    """The Workflow manifest as a plain dict (what is submitted)."""
    return compile_workflow(spec, params, options).to_dict()


def compile_yaml(spec: PipelineSpec, params: dict[str, Any] | None = None,
                 options: CompileOptions | None = None) -> str:
    """The Workflow manifest as YAML: keys ordered (``name`` first, then alphabetically)."""
    return to_yaml(compile_dict(spec, params, options))


def to_yaml(manifest: dict[str, Any]) -> str:
    """``manifest`` as deterministic YAML."""
    return yaml.dump(_ordered(manifest), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1 << 30)


def _ordered(node: Any) -> Any:
    if isinstance(node, dict):
        keys = sorted(node, key=lambda k: (k != "name", k))
        return {k: _ordered(node[k]) for k in keys}
    if isinstance(node, list):
        return [_ordered(v) for v in node]
    return node
