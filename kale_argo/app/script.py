"""What a pipeline call does: ``python SCRIPT [--kfp|--argo|--dry-run]`` as Kale's SDK did, and the
Python API's call in a notebook or a library.

Kale's flags are read from the command line only when the pipeline is defined in the script being
run (``python script.py --kfp``): ``--dry-run`` (``-D``) compiles to ``<script>.yaml`` next to the
script (even with ``--kfp``), ``--kfp`` (``-K``) / ``--argo`` submit, otherwise the run is local.
In a notebook or a library the call runs locally and errors raise.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, PipelineError
from .options import Connection, RunOptions, SubmitOptions
from .report import report_errors

MODES = ("run", "compile", "submit")


def script_mode(argv: list[str]) -> tuple[str, bool]:
    """``("submit" | "compile" | "run", debug)`` from Kale's flags in ``argv``."""
    mode = "run"
    if "--dry-run" in argv or "-D" in argv:
        mode = "compile"
    elif "--kfp" in argv or "-K" in argv or "--argo" in argv:
        mode = "submit"
    return mode, "--debug" in argv


def pipeline_called(pipe: Any, args: tuple[Any, ...], params: Mapping[str, Any], where: str) -> Any:
    """Calling ``pipe(**params)`` at ``where``: in the script being run, its flags choose the mode
    and errors end the process as the CLI's do; elsewhere it runs locally and errors raise."""
    as_script = pipe.func.__module__ == "__main__"
    mode, debug = script_mode(sys.argv[1:]) if as_script else ("run", False)

    def call() -> Any:
        if args:
            raise PipelineError(f"pipeline {pipe.name!r} was called with positional arguments", where=where,
                                hint=f"pass parameters by name: {pipe.func.__name__}(name=value)")
        return dispatch(pipe.trace(), params, mode, where=where)

    if not as_script:
        return call()
    result: list[Any] = []

    def call_and_keep() -> int:
        result.append(call())
        return 0

    code = report_errors(call_and_keep, debug)
    if code:
        raise SystemExit(code)
    return result[0]


def dispatch(spec: Any, params: Mapping[str, Any] | None, mode: str, *, where: str | None = None,
             run: RunOptions | None = None, submit: SubmitOptions | None = None,
             connection: Connection | None = None) -> Any:
    """Run (``"run"``), compile next to the script (``"compile"``) or submit (``"submit"``) ``spec``.

    Returns the LocalRun, the YAML's path, or the submitted run's name. A bad parameter is reported
    at ``where`` (the pipeline call's ``file:line``), else as ``-p NAME``.
    """
    from . import compiling
    from .pipelines import resolve

    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}", hint=f"one of {', '.join(MODES)}")
    values = resolve(spec, params, where)
    if mode == "run":
        from .run import run as run_local

        return run_local(spec, values, run)
    if mode == "compile":
        path = compiling.compiled_path(spec.script.path)
        compiling.write_atomic(path, compiling.compile(spec, values))
        for note in compiling.compile_notes(spec):
            print(f"kale-argo: note: {note}", file=sys.stderr)
        print(f"compiled pipeline {spec.name!r} to {path}", file=sys.stdout)
        return path
    from .submit import submit as submit_run

    return submit_run(spec, values, submit, connection).name
