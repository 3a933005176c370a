"""Placeholders the pipeline body handles while it is traced: step outputs and parameters.

They may only be passed to steps, or compared (``accuracy > threshold``) to make a
:class:`Condition` for ``with when(...)``; any other use (arithmetic, ``if``, attribute access)
is a clear PipelineError naming the line, since the real values exist only when the steps run.
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


def _operator(symbol: str) -> Any:
    def method(self: _Ref, *args: Any) -> Any:
        self._refuse(f"the {symbol} operator")

    return method


for _name, _symbol in {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%",
    "pow": "**", "matmul": "@", "and": "&", "or": "|", "xor": "^", "neg": "unary -",
    "pos": "unary +", "invert": "~",
}.items():
    setattr(_Ref, f"__{_name}__", _operator(_symbol))
    if _name not in ("neg", "pos", "invert"):
        setattr(_Ref, f"__r{_name}__", _operator(_symbol))


class Condition:
    """A comparison of a step's output or a parameter (``accuracy > threshold``), or ``&``/``|``
    of comparisons: what ``with when(...)`` takes. Only the tracer reads it."""

    __slots__ = ("items", "location", "op")

    def __init__(self, op: str, items: tuple[Any, ...]) -> None:
        self.op = op
        self.items = items
        self.location = _user_location()

    def _combine(self, other: Any, op: str) -> Condition:
        if not isinstance(other, Condition):
            raise PipelineError(f"a condition can only be combined with another condition by "
                                f"{'&' if op == 'and' else '|'}", where=_user_location(),
                                hint="compare a step's output or a parameter on both sides, "
                                     "e.g. (acc > 0.9) & (loss < 0.1)")
        return Condition(op, (self, other))

    def __and__(self, other: Any) -> Condition:
        return self._combine(other, "and")

    def __or__(self, other: Any) -> Condition:
        return self._combine(other, "or")

    def __rand__(self, other: Any) -> Condition:
        return self._combine(other, "and")

    def __ror__(self, other: Any) -> Condition:
        return self._combine(other, "or")

    def __bool__(self) -> bool:
        raise PipelineError("a comparison of a step's output or a parameter has no value while the "
                            "pipeline is traced ('if', 'and', 'or', 'not', a chained a < b < c)",
                            where=_user_location(),
                            hint="run steps conditionally with `with when(a > b):` (from kale_argo "
                                 "import when); combine comparisons with & and |")

    def __repr__(self) -> str:
        return f"<condition {self.op} {self.items!r}>"


def _comparison(symbol: str) -> Any:
    def method(self: _Ref, other: Any) -> Any:
        if isinstance(other, Condition):
            self._refuse(f"the {symbol} operator on a condition")
        return Condition(symbol, (self, other))

    return method


for _name, _symbol in {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}.items():
    setattr(_Ref, f"__{_name}__", _comparison(_symbol))


class ValueRef(_Ref):
    """An output of a step call, stored under ``key`` in the run's marshal directory."""

    __slots__ = ("key", "over", "producer")
    _what = "a step's output"

    def __init__(self, key: str, producer: str, over: Any = None) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "producer", producer)
        object.__setattr__(self, "over", over)  # a fan-out's output: the input it ran over

    def __iter__(self) -> Any:
        raise PipelineError(
            f"the output {self.key!r} of step {self.producer!r} cannot be unpacked after the call",
            where=_user_location(),
            hint=f"unpack at the call (a, b = my_step(x)); to run a step once per element, "
                 f"fan out: my_step.map({self.key})")

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
