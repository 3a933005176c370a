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
from ..spec import ConstInput, GatherInput, PipelineSpec, ValueInput, condition_text


@dataclass
class Dag:
    """Steps (as written, in pipeline order), each one's parents, and the values along each edge."""

    name: str
    steps: list[str]
    parents: dict[str, list[str]]
    edges: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # step -> Argo task name
    marks: dict[str, str] = field(default_factory=dict)  # step -> "[map x3]" for a fan-out
    conditions: dict[str, str] = field(default_factory=dict)  # step -> "best > threshold"


def edge_values(spec: PipelineSpec) -> dict[tuple[str, str], list[str]]:
    """(producer, consumer) -> the marshalled values passed along that edge, in call order."""
    edges: dict[tuple[str, str], list[str]] = {}
    for s in spec.steps:
        for d in s.depends:
            edges.setdefault((d, s.name), [])
        flows = [(i.producer, f"{i.key}[]") for i in s.inputs() if isinstance(i, GatherInput)]
        flows += [(i.producer, i.key) for i in s.inputs() if isinstance(i, ValueInput)]
        if isinstance(s.map_over, (ValueInput, GatherInput)):
            flows.append((s.map_over.producer, f"each of {s.map_over.key}"))
        for producer, label in flows:
            keys = edges.setdefault((producer, s.name), [])
            if label not in keys:
                keys.append(label)
    return edges


def _mark(spec: PipelineSpec, name: str) -> str:
    over = spec.step(name).map_over
    if over is None:
        return ""
    if isinstance(over, ConstInput) and over.literal is None and isinstance(over.value, list):
        return f" [map x{len(over.value)}]"
    return " [map]"


def dag_of(spec: PipelineSpec | Dag) -> Dag:
    """The :class:`Dag` of a traced pipeline."""
    if isinstance(spec, Dag):
        return spec
    names = [s.name for s in spec.steps]
    return Dag(spec.name, names, {s.name: list(s.depends) for s in spec.steps}, edge_values(spec),
               task_names(names), {n: m for n in names if (m := _mark(spec, n))},
               {s.name: condition_text(s.when) for s in spec.steps if s.when is not None})


_OUTPUT_VAR = re.compile(r"'?\{\{(?:tasks\.[^.}]+\.outputs\.parameters|workflow\.parameters)\.([^}]+)\}\}'?")


def _readable_when(expr: str) -> str:
    """A compiled ``when`` as it reads in the pipeline: variables by their names, && as &."""
    return _OUTPUT_VAR.sub(r"\1", expr).replace("&&", "&").replace("||", "|")


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
    marks: dict[str, str] = {}
    conditions: dict[str, str] = {}
    templates = {t.get("name"): t for t in spec.get("templates") or []}
    for task in tasks:
        inner = ((templates.get(task.get("template")) or {}).get("dag") or {}).get("tasks") or []
        source = inner[0] if len(inner) == 1 else task  # a fan-out with a limit: its one task
        call = _call_of(source)
        step_of[task["name"]] = str(call.get("step") or task["name"])
        calls[task["name"]] = call
        if any(source.get(k) for k in ("withParam", "withItems", "withSequence")):
            marks[step_of[task["name"]]] = " [map]"
        if task.get("when"):
            conditions[step_of[task["name"]]] = _readable_when(str(task["when"]))
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
        args = [*(call.get("args") or []), *(call.get("kwargs") or {}).values()]
        over = call.get("map_over")
        for arg in [*args, *([{**over, "each": True}] if isinstance(over, dict) else [])]:
            if (isinstance(arg, dict) and arg.get("kind") in ("value", "gather")
                    and arg.get("producer") in parents[me] and arg.get("key")):
                label = (f"each of {arg['key']}" if arg.get("each") else
                         f"{arg['key']}[]" if arg["kind"] == "gather" else arg["key"])
                keys = edges.setdefault((arg["producer"], me), [])
                if label not in keys:
                    keys.append(label)
    name = ((meta.get("annotations") or {}).get("kale-argo.io/pipeline-name") or meta.get("name")
            or "pipeline")
    return Dag(str(name), steps, parents, edges, {v: k for k, v in step_of.items()}, marks, conditions)


def _call_of(task: dict[str, Any]) -> dict[str, Any]:
    for p in (task.get("arguments") or {}).get("parameters") or []:
        if p.get("name") == "call":
            try:
                call = json.loads(p.get("value") or "{}")
            except ValueError:
                return {}
            return call if isinstance(call, dict) else {}
    return {}


def edge_label(dag: Dag, edge: tuple[str, str]) -> str:
    """The values along ``edge``, and the condition of its target (``if best > threshold``)."""
    keys = ", ".join(dag.edges.get(edge, []))
    cond = dag.conditions.get(edge[1])
    return f"{keys} (if {cond})" if keys and cond else f"if {cond}" if cond else keys


def _node_label(dag: Dag, step: str, status: dict[str, str] | None) -> str:
    return _with_phase(step, status) + dag.marks.get(step, "")


def render_graph(spec: PipelineSpec | Dag, fmt: str = "text", status: dict[str, str] | None = None) -> str:
    """``spec``'s DAG in ``fmt`` (text, mermaid or dot), ending with a newline; with ``status``
    (step -> phase) each step shows its phase."""
    dag = dag_of(spec)
    ids = dag.ids or {s: s for s in dag.steps}
    edges = dag.edges
    if fmt == "mermaid":
        lines = ["flowchart TD"]
        mid = {name: _mermaid_id(i) for name, i in ids.items()}
        lines += [f'  {mid[s]}["{_mermaid_label(_node_label(dag, s, status))}"]' for s in dag.steps]
        lines += [f"  {mid[a]} -->" + (f'|"{_mermaid_label(label)}"|' if (label := edge_label(dag, (a, b)))
                                       else "") + f" {mid[b]}" for (a, b) in edges]
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
            lines.append(f"  {json.dumps(ids[s])} [label={json.dumps(_node_label(dag, s, status))}{colour}];")
        lines += [f"  {json.dumps(ids[a])} -> {json.dumps(ids[b])}"
                  + (f" [label={json.dumps(label)}]" if (label := edge_label(dag, (a, b))) else "")
                  + ";"
                  for (a, b) in edges]
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
        cond = f"  if {dag.conditions[name]}" if name in dag.conditions else ""
        lines.append(f"{prefix}{branch}{_node_label(dag, name, status)}{takes}{after}{cond}")
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
