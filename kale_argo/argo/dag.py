"""The DAG entrypoint: one task per step call, ``depends`` from the data flow."""

from __future__ import annotations

from hera.workflows import DAG, Task
from hera.workflows import models as m

from ..spec import PipelineSpec
from .step import CALL_PARAMETER


def dag_template(spec: PipelineSpec, name: str, task_names: dict[str, str], templates: dict[str, str],
                 calls: dict[str, str], setup: dict[str, str] | None = None) -> DAG:
    """``task_names``/``templates``/``calls``: step name -> task name / template name / call JSON.

    ``setup``: step name -> the task (of the same name as its template) that must finish before it
    (its packages' install); those tasks come first.
    """
    setup = setup or {}
    tasks: list[Task | m.DAGTask] = [Task(name=t, template=t) for t in dict.fromkeys(setup.values())]
    for step in spec.steps:
        before = [task_names[d] for d in step.depends]
        if step.name in setup:
            before.insert(0, setup[step.name])
        depends = " && ".join(before) or None
        tasks.append(Task(
            name=task_names[step.name], template=templates[step.name], depends=depends,
            arguments=[m.Parameter(name=CALL_PARAMETER, value=calls[step.name])]))
    return DAG(name=name, tasks=tasks)
