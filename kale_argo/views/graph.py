"""The pipeline's DAG as text: a tree for the terminal, Mermaid or Graphviz for docs.

Node ids are the Argo task names, labels the Kale step names, so the picture matches the run;
edges are labelled with the values that flow along them.
"""

from __future__ import annotations

import json

from ..argo.names import task_names
from ..spec import PipelineSpec, ValueInput


def edge_values(spec: PipelineSpec) -> dict[tuple[str, str], list[str]]:
    """(producer, consumer) -> the marshalled values passed along that edge, in call order."""
    edges: dict[tuple[str, str], list[str]] = {}
    for s in spec.steps:
        for d in s.depends:
            edges.setdefault((d, s.name), [])
        for i in s.inputs():
            if isinstance(i, ValueInput):
                keys = edges.setdefault((i.producer, s.name), [])
                if i.key not in keys:
                    keys.append(i.key)
    return edges


def render_graph(spec: PipelineSpec, fmt: str = "text") -> str:
    """``spec``'s DAG in ``fmt`` (one of :data:`kale_argo.choices.GRAPH_FORMATS`), ending with a newline."""
    ids = task_names([s.name for s in spec.steps])
    edges = edge_values(spec)
    if fmt == "mermaid":
        lines = ["flowchart TD"]
        mid = {name: _mermaid_id(i) for name, i in ids.items()}
        lines += [f'  {mid[s.name]}["{_mermaid_label(s.name)}"]' for s in spec.steps]
        lines += [f"  {mid[a]} -->" + (f'|"{_mermaid_label(", ".join(keys))}"|' if keys else "")
                  + f" {mid[b]}" for (a, b), keys in edges.items()]
    elif fmt == "dot":
        lines = [f"digraph {json.dumps(spec.name)} {{", "  rankdir=TB;", "  node [shape=box];"]
        lines += [f"  {json.dumps(ids[s.name])} [label={json.dumps(s.name)}];" for s in spec.steps]
        lines += [f"  {json.dumps(ids[a])} -> {json.dumps(ids[b])}"
                  + (f" [label={json.dumps(', '.join(keys))}]" if keys else "") + ";"
                  for (a, b), keys in edges.items()]
        lines.append("}")
    elif fmt == "text":
        lines = _tree(spec)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return "\n".join(lines) + "\n"


def _tree(spec: PipelineSpec) -> list[str]:
    edges = edge_values(spec)
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
        values = [k for p in parents for k in edges.get((p, name), [])]
        takes = f"  <- {', '.join(values)}" if values else ""
        lines.append(f"{prefix}{branch}{name}{takes}{after}")
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
