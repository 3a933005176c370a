"""Control flow the tracer can see: ``with when(cond):`` blocks and fan-out limits."""

from __future__ import annotations

from typing import Any

from ..errors import PipelineError
from .context import current_tracer
from .refs import Condition, ParamRef, ValueRef, _user_location


class when:  # a lower-case name: it reads as a statement, `with when(a > b):`
    """Steps called inside the block run only when ``condition`` holds (``accuracy > threshold``,
    comparisons of a step's small output or a parameter, combined with ``&`` and ``|``; a bare
    output or parameter means ``== True``). Blocks nest (their conditions all apply). Only in a
    pipeline body."""

    def __init__(self, condition: Condition | ValueRef | ParamRef) -> None:
        self.tracer = current_tracer()
        if self.tracer is None:
            raise PipelineError("when() is only for the pipeline body", where=_user_location(),
                                hint="outside a pipeline, use a plain `if`")
        if isinstance(condition, (ValueRef, ParamRef)):  # `with when(is_good):` is `is_good == True`
            condition = Condition("==", (condition, True))
            condition.location = _user_location()
        if not isinstance(condition, Condition):
            raise PipelineError(f"when() takes a comparison of a step's output or a parameter, "
                                f"got {condition!r}"[:200], where=_user_location(),
                                hint="e.g. `with when(accuracy > threshold):`; a plain value is "
                                     "known now, so use a plain `if`")
        self.condition = condition

    def __enter__(self) -> None:
        self.tracer.conditions.append(self.condition)

    def __exit__(self, *exc: object) -> None:
        self.tracer.conditions.pop()


def describe(cond: Condition) -> str:
    """How ``cond`` reads: ``accuracy > threshold``."""
    if cond.op in ("and", "or"):
        joiner = " & " if cond.op == "and" else " | "
        return joiner.join(f"({describe(c)})" for c in cond.items)

    def operand(value: Any) -> str:
        if isinstance(value, ValueRef):
            return value.key
        if isinstance(value, ParamRef):
            return value.name
        return repr(value)

    left, right = cond.items
    return f"{operand(left)} {cond.op} {operand(right)}"


def check_parallelism(value: Any, step: str, where: str) -> int:
    """``parallelism`` of a fan-out: a whole number of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PipelineError(f"step {step!r}: parallelism must be a whole number of at least 1, "
                            f"got {value!r}", where=where, hint="e.g. train.map(configs, parallelism=4)")
    return value
