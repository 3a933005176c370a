"""The pipeline's DAG as text: a tree for the terminal, Mermaid or Graphviz for docs.

Node ids are the Argo task names, labels the Kale step names, so the picture matches the run.
"""

from __future__ import annotations

import json

from ..spec import PipelineSpec
from .names import task_names

FORMATS = ("text", "mermaid", "dot")


def render_graph(spec: PipelineSpec, fmt: str = "text") -> str:
    """``spec``'s DAG in ``fmt`` (one of :data:`FORMATS`), ending with a newline."""
    ids = task_names([s.name for s in spec.steps])
    if fmt == "mermaid":
        lines = ["flowchart TD"]
        mid = {name: _mermaid_id(i) for name, i in ids.items()}
        lines += [f'  {mid[s.name]}["{_mermaid_label(s.name)}"]' for s in spec.steps]
        lines += [f"  {mid[d]} --> {mid[s.name]}" for s in spec.steps for d in s.depends]
    elif fmt == "dot":
        lines = [f"digraph {json.dumps(spec.name)} {{", "  rankdir=TB;", "  node [shape=box];"]
        lines += [f"  {json.dumps(ids[s.name])} [label={json.dumps(s.name)}];" for s in spec.steps]
        lines += [f"  {json.dumps(ids[d])} -> {json.dumps(ids[s.name])};"
                  for s in spec.steps for d in s.depends]
        lines.append("}")
    elif fmt == "text":
        lines = _tree(spec)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return "\n".join(lines) + "\n"


def _tree(spec: PipelineSpec) -> list[str]:
    children: dict[str, list[str]] = {s.name: [] for s in spec.steps}
    for s in spec.steps:
        for d in s.depends:
            children[d].append(s.name)
    count = len(spec.steps)
    lines = [f"{spec.name} ({count} step{'s' if count != 1 else ''})"]
    shown: set[str] = set()

    def walk(name: str, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└── " if last else "├── ")
        if name in shown:
            lines.append(f"{prefix}{branch}{name} (see above)")
            return
        shown.add(name)
        parents = spec.step(name).depends
        after = f"  (after {', '.join(parents)})" if len(parents) > 1 else ""
        lines.append(f"{prefix}{branch}{name}{after}")
        kids = children[name]
        inner = prefix if top else prefix + ("    " if last else "│   ")
        for i, kid in enumerate(kids):
            walk(kid, inner, i == len(kids) - 1, False)

    for s in spec.steps:
        if not s.depends:
            walk(s.name, "", True, True)
    return lines


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;")


def _mermaid_id(task: str) -> str:
    """Mermaid ids: no dashes (they read as edges), and not the keyword ``end``."""
    text = task.replace("-", "_")
    return f"{text}_" if text == "end" else text
