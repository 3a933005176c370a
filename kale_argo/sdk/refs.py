"""Placeholders the pipeline body handles while it is traced: step outputs and parameters.

They may only be passed to steps; any other use (arithmetic, ``if``, attribute access) is a
clear PipelineError naming the line, since the real values exist only when the steps run.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from ..errors import PipelineError


def _user_location() -> str | None:
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("kale_argo"):
        frame = frame.f_back  # type: ignore[assignment]
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame else None


class _Ref:
    __slots__ = ()
    _what = "a placeholder"
    _hint = "pass it to a step and do the work inside the step"

    def _refuse(self, action: str) -> NoReturn:
        raise PipelineError(f"{self._what} cannot be used with {action} in the pipeline body",
                            where=_user_location(), hint=self._hint)

    def __bool__(self) -> bool:
        self._refuse("'if', 'and', 'or' or 'not'")

    def __iter__(self) -> Any:
        self._refuse("iteration or unpacking")

    def __len__(self) -> int:
        self._refuse("len()")

    def __getitem__(self, item: Any) -> Any:
        self._refuse("indexing")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._refuse(f"attribute access (.{name})")

    def __format__(self, spec: str) -> str:
        self._refuse("formatting")

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


def _operator(symbol: str) -> Any:
    def method(self: _Ref, *args: Any) -> Any:
        self._refuse(f"the {symbol} operator")

    return method


for _name, _symbol in {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
    "pow": "**", "matmul": "@", "and": "&", "or": "|", "xor": "^", "lt": "<", "le": "<=",
    "gt": ">", "ge": ">=", "neg": "unary -", "pos": "unary +", "invert": "~",
}.items():
    setattr(_Ref, f"__{_name}__", _operator(_symbol))
    if _name not in ("lt", "le", "gt", "ge", "neg", "pos", "invert"):
        setattr(_Ref, f"__r{_name}__", _operator(_symbol))


class ValueRef(_Ref):
    """An output of a step call, stored under ``key`` in the run's marshal directory."""

    __slots__ = ("key", "producer")
    _what = "a step's output"

    def __init__(self, key: str, producer: str) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "producer", producer)

    def __iter__(self) -> Any:
        raise PipelineError(
            f"the output {self.key!r} of step {self.producer!r} cannot be unpacked after the call",
            where=_user_location(), hint="unpack at the call: a, b = my_step(x)")

    def __repr__(self) -> str:
        return f"<output {self.key!r} of step {self.producer!r}>"


class ParamRef(_Ref):
    """A pipeline parameter; its value is known only when the run starts."""

    __slots__ = ("name",)
    _what = "a pipeline parameter"
    _hint = "pass the parameter to a step and use its value inside the step"

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "name", name)

    def __repr__(self) -> str:
        return f"<parameter {self.name!r}>"

    def __str__(self) -> str:
        self._refuse("str()")
