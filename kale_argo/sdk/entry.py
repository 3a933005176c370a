"""What calling a @pipeline function does: run locally, or Kale's ``--kfp``/``--argo``/``--dry-run``.

Flags are read from the command line only when the pipeline is defined in the script being run
(``python script.py --kfp``). In a notebook or library the call runs locally and errors raise.
"""

from __future__ import annotations

import sys
from typing import Any

from ..errors import KaleArgoError, PipelineError
from .decorators import Pipeline

SCRIPT_FLAGS = ("--kfp", "-K", "--argo", "--dry-run", "-D", "--debug")


def script_mode(argv: list[str]) -> tuple[str, bool]:
    """``("submit" | "compile" | "run", debug)`` from Kale's flags in ``argv``.

    As in Kale, ``--dry-run`` (``-D``) compiles even with ``--kfp`` (``-K``); ``--argo`` submits.
    """
    mode = "run"
    if "--dry-run" in argv or "-D" in argv:
        mode = "compile"
    elif "--kfp" in argv or "-K" in argv or "--argo" in argv:
        mode = "submit"
    return mode, "--debug" in argv


def call_pipeline(pipe: Pipeline, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """Run, compile or submit ``pipe`` with ``params`` as Kale's SDK did.

    A call made while the script is imported by ``kale-argo`` or by a step (a call not under
    ``if __name__ == "__main__":``) does nothing and returns None.
    """
    from .context import pipeline_calls_ignored

    if pipeline_calls_ignored():
        return None
    as_script = pipe.func.__module__ == "__main__"
    mode, debug = script_mode(sys.argv[1:]) if as_script else ("run", False)
    where = _caller()
    try:
        if args:
            raise PipelineError(f"pipeline {pipe.name!r} was called with positional arguments",
                                where=where, hint="pass parameters by name: "
                                f"{pipe.func.__name__}(name=value)")
        from ..cli.script_mode import dispatch

        return dispatch(pipe, params, mode, where=where)
    except KaleArgoError as exc:
        if not as_script or debug:
            raise
        print(f"kale-argo: error: {exc.one_line()}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        if not as_script or debug:
            raise
        print("kale-argo: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except BrokenPipeError:  # python script.py | head
        if not as_script or debug:
            raise
        from ..cli.main import closed_stdout

        raise SystemExit(closed_stdout()) from None


def _caller() -> str:
    frame = sys._getframe(3)  # _caller <- call_pipeline <- Pipeline.__call__ <- the caller
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"
