"""The DAG entrypoint: one task per step call, ``depends`` from the data flow."""

from __future__ import annotations

from hera.workflows import DAG, Task
from hera.workflows import models as m

from ..spec import PipelineSpec
from .step import CALL_PARAMETER


def dag_template(spec: PipelineSpec, name: str, task_names: dict[str, str], templates: dict[str, str],
                 calls: dict[str, str]) -> DAG:
    """``task_names``/``templates``/``calls``: step name -> task name / template name / call JSON."""
    tasks: list[Task | m.DAGTask] = []
    for step in spec.steps:
        depends = " && ".join(task_names[d] for d in step.depends) or None
        tasks.append(Task(
            name=task_names[step.name], template=templates[step.name], depends=depends,
            arguments=[m.Parameter(name=CALL_PARAMETER, value=calls[step.name])]))
    return DAG(name=name, tasks=tasks)
