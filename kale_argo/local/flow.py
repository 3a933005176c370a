"""Fan-outs and conditions in a local run: how many instances a ``step.map`` runs (read from the
exported length of the list it maps over, a parameter or a literal) and whether a step's ``when``
holds (read from its producers' exported values), as Argo decides them from output parameters."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..runtime.contract import element_key, instance_name, step_argv
from ..runtime.record import read_record
from ..spec import (
    Combination,
    Comparison,
    ConstInput,
    GatherInput,
    ParamInput,
    PipelineSpec,
    StepSpec,
    ValueInput,
    condition_text,
)

_INSTANCE = re.compile(r"(.+)\[(\d+)\]\Z")
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge}


class FlowError(Exception):
    """A condition or fan-out cannot be decided (a value missing or of the wrong type)."""


def split_instance(name: str) -> tuple[str, int | None]:
    """``train[3]`` -> ``("train", 3)``; a plain step name -> ``(name, None)``."""
    found = _INSTANCE.match(name)
    return (found.group(1), int(found.group(2))) if found else (name, None)


def stored_keys(spec: PipelineSpec, name: str) -> list[str]:
    """The marshal keys the step (or fan-out instance) ``name`` stores."""
    base, item = split_instance(name)
    keys = list(spec.step(base).outputs) if base in {s.name for s in spec.steps} else []
    return keys if item is None else [element_key(k, item) for k in keys]


def exported(marshal_dir: str, value: ValueInput) -> Any:
    """The exported form of ``value`` its producer recorded (a compared value, or a list's length)."""
    record = read_record(marshal_dir, value.producer) or {}
    info = (record.get("outputs") or {}).get(value.key)
    if not isinstance(info, dict) or "export" not in info:
        raise FlowError(f"step {value.producer!r} recorded no exported {value.key!r}")
    return info["export"]


def list_length(marshal_dir: str, source: Any, params: Mapping[str, Any]) -> int:
    """How many elements the list a fan-out runs over has."""
    if isinstance(source, GatherInput):  # another fan-out's results: as many as it had
        return list_length(marshal_dir, source.over, params)
    if isinstance(source, ValueInput):
        count = exported(marshal_dir, source)
        if not isinstance(count, int):
            raise FlowError(f"{source.key!r} has no recorded length")
        return count
    if isinstance(source, ParamInput):
        try:
            items = json.loads(params[source.name])
        except (TypeError, ValueError):
            items = None
        if not isinstance(items, list):
            raise FlowError(f"parameter {source.name!r} is not a JSON list: {params[source.name]!r}")
        return len(items)
    if isinstance(source, ConstInput):
        return len(source.python_value())
    raise FlowError(f"cannot fan out over {source!r}")


def holds(cond: Comparison | Combination, marshal_dir: str, params: Mapping[str, Any]) -> bool:
    """Whether ``cond`` holds, from the producers' exported values and the parameters."""
    if isinstance(cond, Combination):
        parts = (holds(c, marshal_dir, params) for c in cond.items)
        return all(parts) if cond.op == "and" else any(parts)

    def operand(i: Any) -> Any:
        if isinstance(i, ValueInput):
            return exported(marshal_dir, i)
        if isinstance(i, ParamInput):
            return params[i.name]
        return i.value

    left, right = operand(cond.left), operand(cond.right)
    try:
        return bool(_COMPARE[cond.op](left, right))
    except TypeError:
        raise FlowError(f"{condition_text(cond)}: cannot compare {left!r} with {right!r}") from None


class LocalFlow:
    """What the scheduler asks of a run's fan-outs and conditions."""

    def __init__(self, spec: PipelineSpec, params: Mapping[str, Any], marshal_dir: str,
                 texts: Mapping[str, str], python: str) -> None:
        self.spec = spec
        self.params = params
        self.texts = texts  # each parameter as its command-line text
        self.marshal_dir = marshal_dir
        self.python = python

    def condition(self, step: StepSpec) -> tuple[bool, str]:
        """Whether ``step`` runs, and its condition as text; FlowError if it cannot be decided."""
        assert step.when is not None
        return holds(step.when, self.marshal_dir, self.params), condition_text(step.when)

    def instances(self, step: StepSpec) -> list[tuple[str, list[str]]]:
        """The fan-out's instances: their names and argvs."""
        count = list_length(self.marshal_dir, step.map_over, self.texts)
        call = step.runtime_call(self.spec.param_types())
        params = {p: self.texts[p] for p in step.parameters_used()}
        return [(instance_name(step.name, i),
                 step_argv(python=self.python, script=self.spec.script.path,
                           marshal_dir=self.marshal_dir, call=call, params=params, item=str(i)))
                for i in range(count)]
