"""The compiled Workflow as a dict or as YAML: deterministic, byte for byte."""

from __future__ import annotations

from typing import Any

import yaml

from ..spec import PipelineSpec
from .options import CompileOptions
from .workflow import compile_run, compile_workflow

try:
    _Base: Any = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeDumper


class _Dumper(_Base):  # type: ignore[misc,valid-type]
    """Multi-line strings (the script in the code ConfigMap) as literal blocks, readable in review."""


def _text(dumper: Any, value: str) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)
CODE_HEADER = ("# The run's code: the script (data.script) and, zipped, the modules it imports and "
               "kale-argo's step runtime.\n# Every step mounts it; create it with the Workflow: "
               "kubectl create -f FILE (argo submit skips it: kubectl apply -f FILE -l "
               "app.kubernetes.io/component=kale-argo-code first).\n")
_CODE_ORDER = ("apiVersion", "kind", "metadata", "immutable", "data", "binaryData")


def compile_dict(spec: PipelineSpec, params: dict[str, Any] | None = None,
                 options: CompileOptions | None = None) -> dict[str, Any]:
    """The Workflow manifest as a plain dict (what is submitted)."""
    return compile_workflow(spec, params, options).to_dict()


def compile_manifests(spec: PipelineSpec, params: dict[str, Any] | None = None,
                      options: CompileOptions | None = None,
                      notes: list[str] | None = None) -> list[dict[str, Any]]:
    """What a run needs, in the order to create it: the code ConfigMap (if any), then the Workflow."""
    run = compile_run(spec, params, options, notes)
    return [*([run.code] if run.code is not None else []), run.workflow.to_dict()]


def compile_yaml(spec: PipelineSpec, params: dict[str, Any] | None = None,
                 options: CompileOptions | None = None, notes: list[str] | None = None) -> str:
    """The run as YAML, one document per object (the code ConfigMap first, then the Workflow):
    keys ordered (``name`` first, then alphabetically)."""
    *code, workflow = compile_manifests(spec, params, options, notes)
    return documents_yaml(code, workflow)


def documents_yaml(code: list[dict[str, Any]], manifest: dict[str, Any], header: str = CODE_HEADER) -> str:
    """The code ConfigMap(s), each under ``header``, then ``manifest``, as YAML documents."""
    return "".join(header + _code_yaml(doc) + "---\n" for doc in code) + to_yaml(manifest)


def _code_yaml(manifest: dict[str, Any]) -> str:
    """The code ConfigMap with its readable parts (metadata, the script) before the zip."""
    ordered = {k: _ordered(manifest[k]) for k in _CODE_ORDER if k in manifest}
    return yaml.dump(ordered, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1 << 30)


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
