"""The DAG entrypoint: one task per step call, ``depends`` from the data flow."""

from __future__ import annotations

from hera.workflows import DAG, Task
from hera.workflows import models as m

from ..spec import PipelineSpec
from .flow import fan_out_task, when_expression
from .step import CALL_PARAMETER


def dag_template(spec: PipelineSpec, name: str, task_names: dict[str, str], templates: dict[str, str],
                 calls: dict[str, str], setup: dict[str, str] | None = None,
                 wrappers: dict[str, str] | None = None) -> list[DAG]:
    """``task_names``/``templates``/``calls``: step name -> task name / template name / call JSON.

    ``setup``: step name -> the task (of the same name as its template) that must finish before it
    (its packages' install); those tasks come first. ``wrappers``: fan-out step with a parallelism
    limit -> the name of the DAG template that holds it. Returns the DAG, then the wrappers.
    """
    setup, wrappers = setup or {}, wrappers or {}
    tasks: list[Task | m.DAGTask] = [Task(name=t, template=t) for t in dict.fromkeys(setup.values())]
    extra: list[DAG] = []
    conditional = {s.name for s in spec.steps if s.when is not None}
    for step in spec.steps:
        # A task whose when or withParam reads outputs of a conditional task runs only if that one
        # Succeeded (else Argo cannot resolve them: the task errors); skipped, it is Omitted.
        decided = set(step.decided_by()) & conditional
        before = [task_names[d] + (".Succeeded" if d in decided else "") for d in step.depends]
        if step.name in setup:
            before.insert(0, setup[step.name])
        depends = " && ".join(before) or None
        when = when_expression(step.when, spec, task_names) if step.when is not None else None
        if step.map_over is not None:
            task, wrapper = fan_out_task(step, task_names[step.name], templates[step.name],
                                         calls[step.name], task_names, depends, when,
                                         wrappers.get(step.name))
            tasks.append(task)
            extra += [wrapper] if wrapper is not None else []
            continue
        tasks.append(Task(
            name=task_names[step.name], template=templates[step.name], depends=depends, when=when,
            arguments=[m.Parameter(name=CALL_PARAMETER, value=calls[step.name])]))
    return [DAG(name=name, tasks=tasks), *extra]
