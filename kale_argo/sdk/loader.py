"""Load a user's script and find its @pipeline, for the CLI."""

from __future__ import annotations

import os
import sys
from types import ModuleType

from ..errors import KaleArgoError, ScriptError, did_you_mean
from ..runtime.script import import_script
from .context import loading_script
from .decorators import Pipeline
from .notebook import write_notebook_script


def load_module(path: str) -> ModuleType:
    """Import the script at ``path`` (a notebook's code cells for a ``.ipynb``, see
    :mod:`.notebook`); a missing or failing script is a ScriptError."""
    target = path
    if path.endswith(".ipynb"):
        script = write_notebook_script(path)
        for note in script.notes:
            print(f"kale-argo: note: {path}: {note}", file=sys.stderr)
        target = script.path
    elif os.path.isdir(path):
        raise ScriptError(f"script {path!r} is a directory, not a Python file",
                          hint="give the path to the .py file (or .ipynb notebook) in it that defines "
                               "a @pipeline")
    elif not os.path.isfile(path):
        raise ScriptError(f"script {path!r} does not exist",
                          hint="give the path to a Python file (or a .ipynb notebook) that defines "
                               "a @pipeline")
    try:
        with loading_script():
            return import_script(target)
    except KaleArgoError:
        raise
    except SystemExit as exc:
        raise ScriptError(f"script {path!r} exited ({exc.code}) while being imported",
                          hint="keep the pipeline call under if __name__ == '__main__':") from exc
    except Exception as exc:
        raise ScriptError(f"script {path!r} failed to import: {type(exc).__name__}: {exc}",
                          where=_where(exc, target), hint="run it with python to see the error"
                          ) from exc


def _where(exc: BaseException, path: str) -> str | None:
    tb, found = exc.__traceback__, None
    target = os.path.abspath(path)
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == target:
            found = f"{path}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def find_pipeline(module: ModuleType, path: str, name: str | None = None) -> Pipeline:
    """The one @pipeline in ``module`` (or the one called ``name``)."""
    found = {p.name: p for p in vars(module).values() if isinstance(p, Pipeline)}
    if name is not None:
        if name in found:
            return found[name]
        by_func = [p for p in found.values() if p.func.__name__ == name]
        if by_func:
            return by_func[0]
        raise ScriptError(f"script {path!r} defines no pipeline {name!r}",
                          hint=did_you_mean(name, found) or f"it has: {', '.join(found) or 'none'}")
    if not found:
        raise ScriptError(f"script {path!r} defines no @pipeline function",
                          hint="decorate the function that calls your steps with @pipeline(...)")
    if len(found) > 1:
        raise ScriptError(f"script {path!r} defines several pipelines: {', '.join(sorted(found))}",
                          hint="choose one with --pipeline NAME")
    return next(iter(found.values()))


def load_pipeline(path: str, name: str | None = None) -> Pipeline:
    """Import ``path`` and return its pipeline."""
    return find_pipeline(load_module(path), path, name)
