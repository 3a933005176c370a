"""Run one step: import the script, load the inputs, call the function, save the outputs.

Exit codes: 0 success; 1 the user's code raised (its traceback, trimmed to the user's frames,
goes to stderr) or ended the step without its outputs; 2 a bad command, a missing, corrupt or
foreign input, or an output that cannot be stored (one line naming the step, the variable and the
file); 130/143 interrupted (SIGINT/SIGTERM: the save in progress is removed). The run's identity
and key come from the environment (:class:`kale_argo.runtime.marshal.RunBinding`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from ..errors import KaleArgoError
from ..params import convert_parameter
from . import artifacts, cache, marshal
from .contract import OUTPUT_DIR_ENV, StepCommand, element_key, export_name, when_literal
from .marshal.binding import RunBinding
from .progress import reported
from .record import write_record
from .script import import_script

_HERE = os.path.dirname(os.path.abspath(__file__))


class StepError(Exception):
    """The step cannot run or finish for a reason outside the user's function. Exit code 2."""

    exit_code = 2


class Terminated(BaseException):
    """SIGTERM arrived (a timeout, Ctrl-C in the executor, a pod being deleted)."""


def raise_terminated(signum: int, frame: Any) -> None:
    """A SIGTERM handler: unwind the step (removing a write in progress) instead of dying. Later
    SIGTERMs (the executor signals the whole group, the supervisor passes it on) are ignored, so
    they cannot interrupt the clean-up; the supervisor kills a step that does not end in time."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


class UserCodeFailed(Exception):
    """The user's code raised; ``text`` is its trimmed traceback. Exit code 1."""

    exit_code = 1

    def __init__(self, summary: str, text: str) -> None:
        super().__init__(summary)
        self.text = text


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without the runtime's own (and importlib's) leading frames."""
    import traceback

    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not (filename.startswith("<frozen") or os.path.abspath(filename).startswith(_HERE + os.sep)):
            break
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def resolve_function(module: Any, qualname: str, step: str) -> Any:
    """The function ``qualname`` in ``module``, unwrapping a kale_argo step (any object that
    marks itself with ``__kale_step__`` and holds the function as ``func``)."""
    obj: Any = module
    for part in qualname.split("."):
        if part == "<locals>" or not hasattr(obj, part):
            raise StepError(f"step {step!r}: function {qualname!r} not found in script "
                            f"{getattr(module, '__file__', '?')} (hint: steps must be module-level)")
        obj = getattr(obj, part)
    if getattr(obj, "__kale_step__", False):
        obj = obj.func
    if not callable(obj):
        raise StepError(f"step {step!r}: {qualname!r} in the script is not a function")
    return obj


def _stored_bytes(directory: str, key: str) -> int | None:
    """The size of the stored value ``key`` (for progress lines), None if not there."""
    size = (marshal.describe(directory, key) or {}).get("bytes")
    return int(size) if size is not None else None


def _input(spec: Any, cmd: StepCommand, step: str, types: dict[str, str],
           binding: RunBinding) -> Any:
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind == "value":
        key = spec["key"]
        with reported("loading", "loaded", key, functools.partial(_stored_bytes, cmd.marshal_dir, key)):
            return marshal.load(cmd.marshal_dir, key, step=step, binding=binding)
    if kind == "param":
        name = spec["name"]
        if name not in cmd.params:
            raise StepError(f"step {step!r}: parameter {name!r} was not passed "
                            f"(hint: add --param {name}=VALUE)")
        return convert_parameter(name, types.get(name, "str"), cmd.params[name],
                                 where=f"step {step!r}, --param {name}")
    if kind == "const":
        literal = spec.get("literal")
        if literal is None:
            return spec.get("value")
        import ast

        return ast.literal_eval(literal)
    if kind == "element":
        source = cmd.call.get("map_over")
        if isinstance(source, dict) and source.get("kind") == "gather" and cmd.item is not None:
            # over another fan-out's results: the value its instance N stored
            return marshal.load(cmd.marshal_dir, element_key(source["key"], cmd.item), step=step,
                                binding=binding)
        items = _fan_list(source, cmd, step, types, binding)
        if cmd.item is None or cmd.item >= len(items):
            raise StepError(f"step {step!r}: no element {cmd.item} in a list of {len(items)} "
                            "(hint: a fan-out instance runs with --item INDEX)")
        return items[cmd.item]
    if kind == "gather":
        count = len(_fan_list(spec.get("over"), cmd, step, types, binding))
        return [marshal.load(cmd.marshal_dir, element_key(spec["key"], i), step=step, binding=binding)
                for i in range(count)]
    raise StepError(f"step {step!r}: unknown input {spec!r} in --call")


def _fan_list(spec: Any, cmd: StepCommand, step: str, types: dict[str, str],
              binding: RunBinding) -> list[Any]:
    """The list a fan-out runs over (a pipeline parameter holds it as JSON)."""
    import json

    value = _input(spec, cmd, step, types, binding)
    if isinstance(spec, dict) and spec.get("kind") == "param" and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise StepError(f"step {step!r}: parameter {spec['name']!r} is not a JSON list "
                            f"({value[:80]!r}) (hint: e.g. -p {spec['name']}='[1, 2, 3]')") from None
    if not isinstance(value, (list, tuple)):
        raise StepError(f"step {step!r}: a fan-out runs over a list or tuple, got a "
                        f"{type(value).__name__}")
    return list(value)


def export_text(value: Any, kind: str, step: str, key: str) -> tuple[Any, str]:
    """An output later steps decide on, small: ``(recorded value, text Argo reads)``. A compared
    value (``kind`` 'value') must be a bool, number or str, written as a govaluate literal (strings
    single-quoted); a fan-out's list (``items``) becomes the JSON list of its indices."""
    import json
    import math

    if kind == "items":
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise StepError(f"step {step!r}: {key!r} is a {type(value).__name__}, and a later "
                            "step fans out over it (hint: return a list)")
        return len(value), json.dumps(list(range(len(value))))
    if type(value).__module__ == "numpy" and callable(getattr(value, "item", None)):
        value = value.item()  # a numpy scalar (accuracy_score returns one) as the Python number
    for kind_ in (bool, str, int, float):  # subclasses as their plain type
        if isinstance(value, kind_) and (kind_ is not float or math.isfinite(float(value))):
            plain = kind_(value)
            return plain, when_literal(plain)
    raise StepError(f"step {step!r}: {key!r} is compared in a condition, so it must be a finite "
                    f"number, a str or a bool, got a {type(value).__name__} (hint: return the "
                    "metric on its own, e.g. return model, float(score))")


def _export(value: Any, kind: str, step: str, key: str) -> Any:
    recorded, text = export_text(value, kind, step, key)
    folder = os.environ.get(OUTPUT_DIR_ENV)
    if folder:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, export_name(key, kind)), "w") as fh:
            fh.write(text)
    return recorded


def _outputs(result: Any, call: dict[str, Any], step: str) -> list[tuple[str, Any]]:
    keys = list(call.get("outputs") or [])
    if not keys:
        return []
    if not call.get("unpack"):
        return [(keys[0], result)]
    if isinstance(result, (str, bytes)) or not isinstance(result, Sequence) or len(result) != len(keys):
        got = f"{len(result)} values" if isinstance(result, Sequence) and not isinstance(
            result, (str, bytes)) else f"a {type(result).__name__}"
        raise StepError(f"step {step!r}: returned {got}, the pipeline unpacks {len(keys)} "
                        f"({', '.join(keys)}) (hint: return a tuple of {len(keys)} values)")
    return list(zip(keys, result, strict=True))


def execute(cmd: StepCommand, binding: RunBinding | None = None) -> dict[str, dict[str, Any]]:
    """Run the step described by ``cmd``; returns its outputs' metadata. Raises StepError,
    UserCodeFailed or MarshalError."""
    call = cmd.call
    step = cmd.step_name()
    binding = binding if binding is not None else RunBinding.from_env()
    try:
        sys.argv = [cmd.script]
        module = import_script(cmd.script)
    except FileNotFoundError:
        raise StepError(f"step {step!r}: script {cmd.script} does not exist") from None
    except Exception as exc:
        raise UserCodeFailed(f"step {step!r}: importing {cmd.script} raised "
                             f"{type(exc).__name__}", user_traceback(exc)) from None
    fn = resolve_function(module, str(call["function"]), step)
    types = dict(call.get("params") or {})
    args = [_input(a, cmd, step, types, binding) for a in call.get("args") or []]
    kwargs = {k: _input(v, cmd, step, types, binding)
              for k, v in (call.get("kwargs") or {}).items()}
    try:
        result = fn(*args, **kwargs)
    except SystemExit as exc:
        # sys.exit() in a step ends the step, never silently with outputs missing: a step with
        # outputs fails; one without may end early with sys.exit(0) (or sys.exit()).
        if exc.code not in (None, 0) or call.get("outputs"):
            missing = ", ".join(map(str, call.get("outputs") or []))
            raise UserCodeFailed(
                f"step {step!r} called sys.exit({exc.code!r})"
                + (f" before returning {missing}" if missing else ""),
                user_traceback(exc)) from None
        result = None
    except (Exception, KeyboardInterrupt) as exc:
        raise UserCodeFailed(f"step {step!r} raised {type(exc).__name__}: {exc}"
                             if str(exc) else f"step {step!r} raised {type(exc).__name__}",
                             user_traceback(exc)) from None
    except Terminated:
        raise
    except BaseException as exc:  # GeneratorExit, a BaseException subclass of the user's own
        raise UserCodeFailed(f"step {step!r} raised {type(exc).__name__}: {exc}",
                             user_traceback(exc)) from None
    outputs: dict[str, dict[str, Any]] = {}
    exports = dict(call.get("exports") or {})
    stored = dict(zip(call.get("outputs") or [], cmd.output_keys(), strict=True))
    for key, value in _outputs(result, call, step):
        with reported("saving", "saved", key, functools.partial(_stored_bytes, cmd.marshal_dir, stored[key])):
            meta = marshal.save(cmd.marshal_dir, stored[key], value, step=step, binding=binding)
        outputs[stored[key]] = {"codec": meta["codec"], "type": meta["type"], "bytes": meta["bytes"]}
        if key in exports:
            outputs[key]["export"] = _export(value, exports[key], step, key)
    artifacts.collect(cmd.marshal_dir, call, step)
    return outputs


def _check_call(call: Any) -> str:
    if not isinstance(call, dict) or not isinstance(call.get("step"), str) or not isinstance(
            call.get("function"), str):
        raise StepError(f"--call must be a JSON object with 'step' and 'function', got {call!r}"[:300])
    return str(call["step"])


def run(cmd: StepCommand) -> int:
    """Run a step, write its record, print one line (or the user's traceback) on failure."""
    started = time.time()
    try:
        _check_call(cmd.call)
        step = cmd.step_name()
        os.makedirs(cmd.marshal_dir, exist_ok=True)
        binding = RunBinding.from_env()
    except (StepError, KaleArgoError, OSError) as exc:
        print(f"kale-argo: {exc}", file=sys.stderr)
        return 2
    status, error, code, outputs = "succeeded", None, 0, {}
    key = _cache_key(cmd, binding)
    if key is not None and cmd.cache_dir is not None:
        entry = cache.lookup(cmd.cache_dir, key, cmd.marshal_dir, cmd.output_keys(), step, binding)
        if entry is not None:
            return _reuse(cmd, step, entry, started, binding)
    try:
        outputs = execute(cmd, binding)
    except UserCodeFailed as exc:
        status, error, code = "failed", str(exc), 1
        sys.stderr.write(exc.text)
        if str(exc) not in exc.text:
            print(f"kale-argo: {exc}", file=sys.stderr)
    except (StepError, KaleArgoError) as exc:
        status, error, code = "failed", " ".join(str(exc).split()), 2
        print(f"kale-argo: {error}", file=sys.stderr)
    except (KeyboardInterrupt, Terminated) as exc:  # outside the user's function (loading, saving)
        signame = "SIGINT" if isinstance(exc, KeyboardInterrupt) else "SIGTERM"
        status, error, code = "failed", f"step {step!r} interrupted ({signame})", (
            130 if isinstance(exc, KeyboardInterrupt) else 143)
        print(f"kale-argo: {error}", file=sys.stderr)
    except Exception as exc:  # a malformed --call (missing field, wrong type) or a runtime bug
        status, error, code = "failed", f"step {step!r}: {type(exc).__name__}: {exc}", 2
        print(f"kale-argo: {error}", file=sys.stderr)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed stream must not hide the result
                stream.flush()
    try:
        write_record(cmd.marshal_dir, step, status=status, started=started, finished=time.time(),
                     outputs=outputs, error=error, run_id=binding.run_id)
    except OSError as exc:  # the values are saved: the step's result stands
        from .marshal.files import free_space

        free = free_space(cmd.marshal_dir)
        print(f"kale-argo: warning: step {step!r}: cannot write its record in {cmd.marshal_dir} "
              f"({exc.strerror or exc}{'; ' + free if free else ''}); its outputs are saved"
              if code == 0 else f"kale-argo: step {step!r}: cannot write its record either "
              f"({exc.strerror or exc})", file=sys.stderr)
    if code == 0 and key is not None and cmd.cache_dir is not None:
        cache.publish(cmd.cache_dir, key, cmd.marshal_dir, outputs, time.time() - started)
    return code


def _cache_key(cmd: StepCommand, binding: RunBinding) -> str | None:
    """The step's cache key, None when it does not use the cache (or an input fails
    verification: the step then runs and reports it)."""
    if cmd.cache_dir is None or cmd.item is not None or not cache.cacheable(cmd.call):
        return None
    try:
        return cache.step_key(cmd.script, cmd.call, cmd.params, cmd.marshal_dir, binding)
    except (KaleArgoError, OSError, ValueError, SyntaxError):
        return None


def _reuse(cmd: StepCommand, step: str, entry: dict[str, Any], started: float,
           binding: RunBinding) -> int:
    """Finish a step from a cache entry: its exported outputs written, its record saying so."""
    folder = os.environ.get(OUTPUT_DIR_ENV)
    exports = dict(cmd.call.get("exports") or {})
    outputs = dict(entry.get("outputs") or {})
    if folder:
        os.makedirs(folder, exist_ok=True)
        for name, kind in exports.items():
            recorded = outputs.get(name, {}).get("export")
            text = (json.dumps(list(range(int(recorded)))) if kind == "items"
                    else export_text(recorded, kind, step, name)[1])
            with open(os.path.join(folder, export_name(name, kind)), "w") as fh:
                fh.write(text)
    duration = float(entry.get("duration") or 0.0)
    print(f"kale-argo: step {step!r}: outputs reused from the step cache "
          f"(saved {duration:.1f}s)", file=sys.stderr)
    write_record(cmd.marshal_dir, step, status="succeeded", started=started, finished=time.time(),
                 outputs=outputs, error=None, run_id=binding.run_id, cached=duration)
    return 0
