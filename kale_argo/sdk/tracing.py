"""Trace a @pipeline function into a :class:`~kale_argo.spec.PipelineSpec`.

The pipeline function is called once with :class:`ParamRef` placeholders for its parameters;
each step call records a node and returns :class:`ValueRef` placeholders for its outputs, named
after the variables the body assigns them to. Dependencies follow from that data flow.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import os
import sys
from types import FrameType, ModuleType
from typing import Any, TextIO

from ..errors import KaleArgoError, PipelineError, ScriptError
from ..spec import PipelineSpec, first_error
from .context import reset_tracer, set_tracer
from .decorators import Pipeline, Step
from .interactive import announce, build_module, defined_in_kernel, unrecoverable
from .modules import local_modules
from .options import merge_options, pipeline_fields, step_artifacts, step_options
from .refs import Condition, ParamRef, ValueRef
from .targets import call_targets

_PARAM_TYPES = {bool: "bool", int: "int", float: "float", str: "str"}


def _user_frame() -> FrameType:
    frame = sys._getframe(1)
    while frame.f_globals.get("__name__", "").startswith("kale_argo"):
        frame = frame.f_back  # type: ignore[assignment]
    return frame


def _where(frame: FrameType) -> str:
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _const(value: Any, where: str, step: str, arg: str) -> dict[str, Any]:
    if isinstance(value, (ValueRef, ParamRef)):
        raise AssertionError("refs are converted by the caller")
    literal = None if _json_keeps(value) else _python_literal(value)
    if literal is not None:
        if _contains_ref(value):
            raise PipelineError(f"step {step!r}: argument {arg!r} nests a step output or parameter "
                                "in a container", where=where,
                                hint="pass each output or parameter as its own argument")
        return {"kind": "const", "literal": literal}
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise PipelineError(
            f"step {step!r}: argument {arg!r} is a {type(value).__name__}, which cannot be passed "
            "from the pipeline body", where=where,
            hint="pass JSON-like literals, parameters or step outputs; build objects in a step",
        ) from None
    if _contains_ref(value):
        raise PipelineError(f"step {step!r}: argument {arg!r} nests a step output or parameter "
                            "in a container", where=where,
                            hint="pass each output or parameter as its own argument")
    return {"kind": "const", "value": json.loads(text)}


def _json_keeps(value: Any) -> bool:
    """Whether JSON gives ``value`` back as it is (no tuples, sets, bytes or non-string keys)."""
    if value is None or isinstance(value, (str, int, float)):
        return True
    if type(value) is list:
        return all(_json_keeps(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _json_keeps(v) for k, v in value.items())
    return False


def _python_literal(value: Any) -> str | None:
    """``repr(value)`` if ``ast.literal_eval`` reads it back as an identical value, else None."""
    text = repr(value)
    try:
        back = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return text if _identical(back, value) else None


def _identical(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_identical(a[k], b[k]) for k in a)
    return bool(a == b)


def _contains_ref(value: Any) -> bool:
    if isinstance(value, (ValueRef, ParamRef)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_ref(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_ref(v) for v in value.values())
    return False


_UNSET: Any = object()
_ELEMENT: Any = object()  # the placeholder of a fan-out's element while its call is bound


class Tracer:
    """Records step calls while a pipeline function runs."""

    def __init__(self, pipe: Pipeline, defaults: Any) -> None:
        self.pipeline = pipe
        self.defaults = defaults
        self.steps: list[dict[str, Any]] = []
        self.node_names: set[str] = set()
        self.keys: set[str] = set()
        self.by_name: dict[str, Step] = {}
        self.conditions: list[Condition] = []  # the `with when(...)` blocks open, outermost first
        self.guards: dict[str, tuple[Condition, ...]] = {}  # node -> the blocks it was called in
        self.records: dict[str, dict[str, Any]] = {}  # node -> its step record

    def _input(self, value: Any, where: str, step: str, arg: str,
               depends: list[str]) -> dict[str, Any]:
        if isinstance(value, ValueRef):
            self._guarded(value, where, step)
            if value.producer not in depends:
                depends.append(value.producer)
            if value.over is not None:
                return {"kind": "gather", "key": value.key, "producer": value.producer,
                        "over": value.over}
            return {"kind": "value", "key": value.key, "producer": value.producer}
        if isinstance(value, ParamRef):
            return {"kind": "param", "name": value.name}
        if isinstance(value, (list, tuple)) and _contains_ref(value):
            raise PipelineError(f"step {step!r}: argument {arg!r} nests a step output or "
                                "parameter in a container", where=where,
                                hint="pass each output or parameter as its own argument")
        return _const(value, where, step, arg)

    def _unique(self, base: str, taken: set[str]) -> str:
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        return name

    def _guarded(self, value: ValueRef, where: str, step: str) -> None:
        """A value of a step that runs only under a condition may be read only under it too."""
        outer = self.guards.get(value.producer, ())
        missing = [c for c in outer if c not in self.conditions]
        if missing:
            from .flow import describe

            raise PipelineError(
                f"step {step!r} reads {value.key!r} of step {value.producer!r}, which runs only "
                f"when {describe(missing[0])}", where=where,
                hint="call it inside the same `with when(...)` block")

    def _export(self, value: ValueRef, kind: str, where: str, use: str) -> None:
        """Mark ``value`` for export (``kind``: 'value' compared, 'items' fanned out over)."""
        if value.over is not None:
            raise PipelineError(f"{value.key!r} is the list of a fan-out's results, which {use} "
                                "cannot take yet", where=where,
                                hint="pass the list through a step that returns what you need")
        self.records[value.producer].setdefault("exports", {})[value.key] = kind

    def _operand(self, value: Any, where: str, depends: list[str]) -> dict[str, Any]:
        if isinstance(value, ValueRef):
            self._guarded(value, where, "when")
            self._export(value, "value", where, "a condition")
            if value.producer not in depends:
                depends.append(value.producer)
            return {"kind": "value", "key": value.key, "producer": value.producer}
        if isinstance(value, ParamRef):
            return {"kind": "param", "name": value.name}
        if isinstance(value, (bool, int, float, str)):
            return {"kind": "const", "value": value}
        raise PipelineError(f"a condition compares a {type(value).__name__}", where=where,
                            hint="compare a step's output or a parameter with a number, str, bool "
                                 "or another parameter")

    def _condition(self, cond: Condition, depends: list[str]) -> dict[str, Any]:
        where = cond.location or "?"
        if cond.op in ("and", "or"):
            return {"op": cond.op, "items": [self._condition(c, depends) for c in cond.items]}
        left, right = (self._operand(v, where, depends) for v in cond.items)
        return {"op": cond.op, "left": left, "right": right}

    def _when(self, depends: list[str]) -> dict[str, Any] | None:
        conds = [self._condition(c, depends) for c in self.conditions]
        if not conds:
            return None
        return conds[0] if len(conds) == 1 else {"op": "and", "items": conds}

    def _map_source(self, over: Any, where: str, step: str, depends: list[str]) -> dict[str, Any]:
        if isinstance(over, ValueRef) and over.over is not None:  # another fan-out's results
            return self._input(over, where, step, "the list to map over", depends)
        if isinstance(over, ValueRef):
            self._guarded(over, where, step)
            self._export(over, "items", where, "a fan-out")
            if over.producer not in depends:
                depends.append(over.producer)
            return {"kind": "value", "key": over.key, "producer": over.producer}
        if isinstance(over, ParamRef):
            kind = next(p["type"] for p in _parameters(self.pipeline) if p["name"] == over.name)
            if kind != "str":
                raise PipelineError(f"step {step!r} fans out over parameter {over.name!r}, a {kind}",
                                    where=where, hint="a parameter to fan out over is a str "
                                    "holding a JSON list, e.g. configs='[1, 2, 3]'")
            return {"kind": "param", "name": over.name}
        if isinstance(over, (list, tuple)):
            return _const(list(over), where, step, "the list to map over")
        raise PipelineError(f"step {step!r}: .map() runs over a list, got a {type(over).__name__}",
                            where=where, hint="map over a step's output, a parameter holding a "
                                              "JSON list, or a literal list")

    def call(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any], *,
             map_over: Any = _UNSET, parallelism: int | None = None) -> Any:
        """Record one call of ``step`` (one instance per element of ``map_over`` when given, at
        most ``parallelism`` at once) and return placeholders for its outputs."""
        frame = _user_frame()
        where = _where(frame)
        other = self.by_name.get(step.name)
        if other is not None and other is not step:
            raise PipelineError(f"two different steps are named {step.name!r}", where=where,
                                hint=f"rename one (the other is defined at {other.location})")
        self.by_name[step.name] = step
        options = merge_options(self.defaults, step_options(step))
        mapped = map_over is not _UNSET
        if mapped:
            args = (_ELEMENT, *args)
            if parallelism is not None:
                from .flow import check_parallelism

                options = options.model_copy(update={
                    "parallelism": check_parallelism(parallelism, step.name, where)})
        try:
            inspect.signature(step.func).bind(*args, **kwargs)
        except TypeError as exc:
            raise PipelineError(f"step {step.name!r} called with bad arguments: {exc}",
                                where=where) from None
        node = self._unique(step.name, self.node_names)
        depends: list[str] = []
        params = inspect.signature(step.func).parameters
        positional = list(params)
        source = self._map_source(map_over, where, node, depends) if mapped else None
        arg_inputs = [
            {"kind": "element"} if v is _ELEMENT else
            self._input(v, where, node, positional[i] if i < len(positional) else f"#{i}", depends)
            for i, v in enumerate(args)
        ]
        kw_inputs = {k: self._input(v, where, node, k, depends) for k, v in kwargs.items()}
        targets = call_targets(frame)
        if targets.starred:
            raise PipelineError(f"the outputs of step {step.name!r} cannot be unpacked with a starred "
                                "target (a, *rest = ...)", where=where,
                                hint="name each output (a, b, c = ...) or keep the result in one "
                                     "variable and unpack it inside a step")
        keys = [self._unique(name or f"{node}_output{'' if i == 0 else i}", self.keys)
                for i, name in enumerate(targets.names)]
        record = {
            "name": node, "step": step.name, "function": function_path(step, self.pipeline),
            "args": arg_inputs, "kwargs": kw_inputs, "outputs": keys, "unpack": targets.unpack,
            "depends": depends, "options": options.model_dump(exclude_defaults=True),
            "location": where, "artifacts": step_artifacts(step),
            "map_over": source, "when": self._when(depends),
        }
        self.steps.append(record)
        self.records[node] = record
        self.guards[node] = tuple(self.conditions)
        refs = [ValueRef(k, node, source) for k in keys]
        if targets.unpack:
            return tuple(refs)
        return refs[0] if refs else None


def function_path(step: Step, pipe: Pipeline) -> str:
    """How the step runtime finds ``step`` from the script module: its qualified name when the
    script defines it, else the global name (``from helpers import prep``) or ``module.name``
    (``import helpers``) under which the script's globals hold it."""
    func = step.func
    local = "<locals>" in func.__qualname__
    if func.__module__ == pipe.func.__module__ and not local:
        return func.__qualname__
    names = pipe.func.__globals__
    for name, value in names.items():
        if value is step or value is func:
            return name
    for name, value in names.items():
        if isinstance(value, ModuleType) and getattr(value, func.__name__, None) in (step, func):
            return f"{name}.{func.__name__}"
    if local:
        outer = func.__qualname__.split(".<locals>")[0]
        raise PipelineError(f"step {step.name!r} is defined inside the function {outer}(), where a "
                            "step's process cannot find it", where=step.location,
                            hint="define steps at module level (or assign the step to a module-level name)")
    return func.__qualname__


def _parameters(pipe: Pipeline) -> list[dict[str, Any]]:
    func = pipe.func
    code = func.__code__
    where = f"{code.co_filename}:{code.co_firstlineno}"
    result = []
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise PipelineError(f"pipeline {pipe.name!r} cannot take *{param.name}", where=where,
                                hint="declare each parameter with a default")
        if param.default is param.empty:
            raise PipelineError(f"pipeline parameter {param.name!r} has no default", where=where,
                                hint=f"give it one, e.g. {param.name}=0")
        kind = _PARAM_TYPES.get(type(param.default))
        if kind is None:
            raise PipelineError(
                f"pipeline parameter {param.name!r} has a default of type "
                f"{type(param.default).__name__}", where=where,
                hint="parameters must be int, float, str or bool")
        result.append({"name": param.name, "type": kind, "default": param.default})
    return result


def _failing_line(exc: BaseException, code: Any) -> str | None:
    tb = exc.__traceback__
    found = None
    while tb is not None:
        if tb.tb_frame.f_code is code:
            found = f"{code.co_filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def script_path_of(pipe: Pipeline) -> str:
    """The file that defines the pipeline function (for a pipeline defined in a kernel's cells, the
    module built from them); a ScriptError if its source cannot be read back (``python -c``)."""
    if defined_in_kernel(pipe.func):
        return build_module(pipe).path
    error = unrecoverable(pipe)
    if error is not None:
        raise error
    return os.path.abspath(pipe.func.__code__.co_filename)


def _script(pipe: Pipeline, source_path: str | None, out: TextIO | None, write: bool) -> tuple[str, str]:
    """The script's path and sha256; a kernel's pipeline gets its module built (and written if ``write``)."""
    if source_path is None and defined_in_kernel(pipe.func):
        shipped = build_module(pipe, write=write)
        if out is not None:
            announce(shipped, out)
        return shipped.path, hashlib.sha256(shipped.source.encode("utf-8")).hexdigest()
    path = os.path.abspath(source_path or script_path_of(pipe))
    try:
        with open(path, "rb") as fh:
            return path, hashlib.sha256(fh.read()).hexdigest()
    except OSError as exc:
        raise ScriptError(f"cannot read the script that defines pipeline {pipe.name!r}: {exc.strerror}",
                          where=path) from None


def trace_pipeline(pipe: Pipeline, source_path: str | None = None, *, out: TextIO | None = None,
                   write: bool = True) -> PipelineSpec:
    """Run the pipeline body with placeholders and return its validated IR.

    A pipeline defined in a kernel's cells gets its module built from them (see
    :mod:`.interactive`), written unless ``write`` is False (a display), described on ``out``.
    """
    fields = pipeline_fields(pipe)
    if source_path is None and not defined_in_kernel(pipe.func) and (error := unrecoverable(pipe)):
        raise error
    parameters = _parameters(pipe)
    tracer = Tracer(pipe, fields["steps_defaults"])
    token = set_tracer(tracer)
    code = pipe.func.__code__
    try:
        pipe.func(**{p["name"]: ParamRef(p["name"]) for p in parameters})
    except KaleArgoError:
        raise
    except NameError as exc:  # includes UnboundLocalError
        name = getattr(exc, "name", None) or str(exc)
        raise PipelineError(f"variable {name!r} is used before any step produced it",
                            where=_failing_line(exc, code),
                            hint="assign it from a step call earlier in the pipeline") from None
    except Exception as exc:
        raise PipelineError(f"the pipeline body failed while tracing: {type(exc).__name__}: {exc}",
                            where=_failing_line(exc, code) or pipe.location,
                            hint="the pipeline body may only call steps") from exc
    finally:
        reset_tracer(token)
    path, digest = _script(pipe, source_path, out, write)
    fields.update(
        parameters=parameters,
        steps=tracer.steps,
        script={"path": path, "sha256": digest, "pipeline_function": pipe.func.__qualname__,
                "modules": local_modules(path)},
    )
    fields["steps_defaults"] = fields["steps_defaults"].model_dump(exclude_defaults=True)
    try:
        return PipelineSpec.model_validate(fields)
    except Exception as exc:  # pydantic.ValidationError
        raise PipelineError(first_error(exc), where=pipe.location) from None
