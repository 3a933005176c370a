"""Fan-outs and conditions on Argo: ``withParam`` over the indices a producing step exports (an
output parameter written by the step runtime), ``parallelism`` through a one-task DAG template
around the fan-out, and ``when`` expressions (govaluate) over exported values and parameters."""

from __future__ import annotations

import json
from typing import Any

from hera.workflows import DAG, Task
from hera.workflows import models as m

from ..errors import UserError
from ..runtime.contract import export_name, when_literal
from ..spec import (
    Combination,
    Comparison,
    ConstInput,
    GatherInput,
    ParamInput,
    PipelineSpec,
    StepSpec,
    ValueInput,
    condition_inputs,
)

ITEM_PARAMETER = "item"
ITEM_VALUE = "{{inputs.parameters.item}}"
ITEMS_PARAMETER = "items"
OUTPUT_DIR = "/tmp/kale-outputs"
"""Where the step runtime writes a pod's exported outputs (``KALE_OUTPUT_DIR``) for Argo to read
as output parameters."""


def export_parameters(step: StepSpec) -> list[m.Parameter]:
    """The step's exported outputs as Argo output parameters, read from ``OUTPUT_DIR``."""
    return [m.Parameter(name=export_name(key, kind),
                        value_from=m.ValueFrom(path=f"{OUTPUT_DIR}/{export_name(key, kind)}"))
            for key, kind in sorted(step.exports.items())]


def _output(value: ValueInput, kind: str, tasks: dict[str, str]) -> str:
    return f"{{{{tasks.{tasks[value.producer]}.outputs.parameters.{export_name(value.key, kind)}}}}}"


def items_expression(source: Any, tasks: dict[str, str]) -> str:
    """What a fan-out over ``source`` gives ``withParam``: the JSON list of element indices (over
    another fan-out's results, the indices that one ran over)."""
    if isinstance(source, GatherInput):
        return items_expression(source.over, tasks)
    if isinstance(source, ValueInput):
        return _output(source, "items", tasks)
    if isinstance(source, ParamInput):  # a parameter holding a JSON list: its indices, by expr
        return ("{{=toJson(sprig.until(len(jsonpath(workflow.parameters." + source.name
                + ", '$'))))}}")
    assert isinstance(source, ConstInput)
    return json.dumps(list(range(len(source.python_value()))))


def when_expression(cond: Comparison | Combination, spec: PipelineSpec, tasks: dict[str, str]) -> str:
    """``cond`` as a ``when`` expression: exported values arrive as govaluate literals (the runtime
    quotes strings), parameters are quoted here when they are strings."""
    if isinstance(cond, Combination):
        joiner = " && " if cond.op == "and" else " || "
        return joiner.join(f"({when_expression(c, spec, tasks)})" for c in cond.items)
    types = spec.param_types()

    def operand(i: Any) -> str:
        if isinstance(i, ValueInput):
            return _output(i, "value", tasks)
        if isinstance(i, ParamInput):
            text = f"{{{{workflow.parameters.{i.name}}}}}"
            return f"'{text}'" if types[i.name] == "str" else text
        return when_literal(i.value)

    return f"{operand(cond.left)} {cond.op} {operand(cond.right)}"


def check_condition_values(spec: PipelineSpec, values: dict[str, Any]) -> None:
    """Argo substitutes a parameter into a ``when`` before govaluate reads it, so a str parameter
    compared in a condition cannot hold a quote or a backslash: refused when compiling."""
    types = spec.param_types()
    for step in spec.steps:
        for i in condition_inputs(step.when) if step.when is not None else []:
            if isinstance(i, ParamInput) and types[i.name] == "str" and (
                    "'" in str(values[i.name]) or "\\" in str(values[i.name])):
                raise UserError(f"parameter {i.name!r} ({values[i.name]!r}) is compared in the "
                                f"condition of step {step.name!r}, and Argo cannot quote a value "
                                "with ' or \\ in a when expression", where=step.location,
                                hint="use a value without quotes and backslashes, or compare it "
                                     "inside a step that returns the result")


def fan_out_task(step: StepSpec, task: str, template: str, call: str, tasks: dict[str, str],
                 depends: str | None, when: str | None,
                 wrapper: str | None) -> tuple[Task, DAG | None]:
    """The DAG task of a fan-out; with a ``parallelism`` limit, the task calls ``wrapper``, a DAG
    template holding the fan-out with Argo's ``parallelism`` (returned too)."""
    items = items_expression(step.map_over, tasks)
    arguments = [m.Parameter(name="call", value=call), m.Parameter(name=ITEM_PARAMETER, value="{{item}}")]
    if wrapper is None:
        return Task(name=task, template=template, depends=depends, when=when, with_param=items,
                    arguments=arguments), None
    inner = Task(name=task, template=template, with_param="{{inputs.parameters.items}}",
                 arguments=arguments)
    dag = DAG(name=wrapper, tasks=[inner], inputs=[m.Parameter(name=ITEMS_PARAMETER)],
              parallelism=step.parallelism())
    return Task(name=task, template=wrapper, depends=depends, when=when,
                arguments=[m.Parameter(name=ITEMS_PARAMETER, value=items)]), dag
