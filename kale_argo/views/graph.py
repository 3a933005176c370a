"""The pipeline's DAG as text: a tree for the terminal, Mermaid or Graphviz for docs (SVG/PNG:
:mod:`.svg`).

Node ids are the Argo task names, labels the Kale step names, so the picture matches the run;
edges are labelled with the values that flow along them. A picture is drawn from a traced
:class:`~kale_argo.spec.PipelineSpec` or from a submitted run's Workflow (:func:`dag_of_workflow`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..argo.names import task_names
from ..spec import PipelineSpec, ValueInput


@dataclass
class Dag:
    """Steps (as written, in pipeline order), each one's parents, and the values along each edge."""

    name: str
    steps: list[str]
    parents: dict[str, list[str]]
    edges: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # step -> Argo task name


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


def dag_of(spec: PipelineSpec | Dag) -> Dag:
    """The :class:`Dag` of a traced pipeline."""
    if isinstance(spec, Dag):
        return spec
    names = [s.name for s in spec.steps]
    return Dag(spec.name, names, {s.name: list(s.depends) for s in spec.steps}, edge_values(spec),
               task_names(names))


def dag_of_workflow(workflow: dict[str, Any]) -> Dag:
    """The :class:`Dag` of a compiled Workflow: its entrypoint DAG's tasks, step names and values
    from each task's ``call`` parameter (Argo task names where a task has none)."""
    meta = workflow.get("metadata") or {}
    spec = workflow.get("spec") or {}
    tasks: list[dict[str, Any]] = []
    for template in spec.get("templates") or []:
        if template.get("name") == spec.get("entrypoint") and template.get("dag"):
            tasks = template["dag"].get("tasks") or []
    step_of: dict[str, str] = {}
    calls: dict[str, dict[str, Any]] = {}
    for task in tasks:
        call: dict[str, Any] = {}
        for p in (task.get("arguments") or {}).get("parameters") or []:
            if p.get("name") == "call":
                try:
                    call = json.loads(p.get("value") or "{}")
                except ValueError:
                    call = {}
        step_of[task["name"]] = str(call.get("step") or task["name"])
        calls[task["name"]] = call
    steps = [step_of[t["name"]] for t in tasks]
    parents: dict[str, list[str]] = {}
    edges: dict[tuple[str, str], list[str]] = {}
    for task in tasks:
        me = step_of[task["name"]]
        words = re.findall(r"[A-Za-z0-9][-A-Za-z0-9]*(?:\.[A-Za-z]+)?", task.get("depends") or "")
        deps = [*(task.get("dependencies") or []), *(w.split(".")[0] for w in words)]
        parents[me] = list(dict.fromkeys(step_of[d] for d in deps if d in step_of))
        for d in parents[me]:
            edges.setdefault((d, me), [])
        call = calls[task["name"]]
        for arg in [*(call.get("args") or []), *(call.get("kwargs") or {}).values()]:
            if isinstance(arg, dict) and arg.get("kind") == "value" and arg.get("producer") in parents[me]:
                keys = edges.setdefault((arg["producer"], me), [])
                if arg.get("key") and arg["key"] not in keys:
                    keys.append(arg["key"])
    name = ((meta.get("annotations") or {}).get("kale-argo.io/pipeline-name") or meta.get("name")
            or "pipeline")
    return Dag(str(name), steps, parents, edges, {v: k for k, v in step_of.items()})


def render_graph(spec: PipelineSpec | Dag, fmt: str = "text", status: dict[str, str] | None = None) -> str:
    """``spec``'s DAG in ``fmt`` (text, mermaid or dot), ending with a newline; with ``status``
    (step -> phase) each step shows its phase."""
    dag = dag_of(spec)
    ids = dag.ids or {s: s for s in dag.steps}
    edges = dag.edges
    if fmt == "mermaid":
        lines = ["flowchart TD"]
        mid = {name: _mermaid_id(i) for name, i in ids.items()}
        lines += [f'  {mid[s]}["{_mermaid_label(_with_phase(s, status))}"]' for s in dag.steps]
        lines += [f"  {mid[a]} -->" + (f'|"{_mermaid_label(", ".join(keys))}"|' if keys else "")
                  + f" {mid[b]}" for (a, b), keys in edges.items()]
        if status is not None:
            from .svg import FILL, PLAIN, normal_phase

            for s in dag.steps:
                fill, stroke = FILL.get(normal_phase(status.get(s, "Pending")), PLAIN)
                lines.append(f"  style {mid[s]} fill:{fill},stroke:{stroke}")
    elif fmt == "dot":
        lines = [f"digraph {json.dumps(dag.name)} {{", "  rankdir=TB;", "  node [shape=box];"]
        for s in dag.steps:
            colour = ""
            if status is not None:
                from .svg import FILL, PLAIN, normal_phase

                fill, stroke = FILL.get(normal_phase(status.get(s, "Pending")), PLAIN)
                colour = f", style=filled, fillcolor={json.dumps(fill)}, color={json.dumps(stroke)}"
            lines.append(f"  {json.dumps(ids[s])} [label={json.dumps(_with_phase(s, status))}{colour}];")
        lines += [f"  {json.dumps(ids[a])} -> {json.dumps(ids[b])}"
                  + (f" [label={json.dumps(', '.join(keys))}]" if keys else "") + ";"
                  for (a, b), keys in edges.items()]
        lines.append("}")
    elif fmt == "text":
        lines = _tree(dag, status)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return "\n".join(lines) + "\n"


def _with_phase(step: str, status: dict[str, str] | None) -> str:
    if status is None:
        return step
    from .svg import normal_phase

    return f"{step} ({normal_phase(status.get(step, 'Pending'))})"


def _tree(dag: Dag, status: dict[str, str] | None = None) -> list[str]:
    edges = dag.edges
    children: dict[str, list[str]] = {s: [] for s in dag.steps}
    for s in dag.steps:
        for d in dag.parents.get(s, []):
            children[d].append(s)
    count = len(dag.steps)
    lines = [f"{dag.name} ({count} step{'s' if count != 1 else ''})"]
    shown: set[str] = set()

    def walk(name: str, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└── " if last else "├── ")
        if name in shown:
            lines.append(f"{prefix}{branch}{name} (see above)")
            return
        shown.add(name)
        parents = dag.parents.get(name, [])
        after = f"  (after {', '.join(parents)})" if len(parents) > 1 else ""
        values = [k for p in parents for k in edges.get((p, name), [])]
        takes = f"  <- {', '.join(values)}" if values else ""
        lines.append(f"{prefix}{branch}{_with_phase(name, status)}{takes}{after}")
        kids = children[name]
        inner = prefix if top else prefix + ("    " if last else "│   ")
        for i, kid in enumerate(kids):
            walk(kid, inner, i == len(kids) - 1, False)

    for s in dag.steps:
        if not dag.parents.get(s):
            walk(s, "", True, True)
    return lines


def _mermaid_label(text: str) -> str:
    return text.replace('"', "#quot;")


def _mermaid_id(task: str) -> str:
    """Mermaid ids: no dashes (they read as edges), and not the keyword ``end``."""
    text = task.replace("-", "_")
    return f"{text}_" if text == "end" else text
