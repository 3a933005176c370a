"""What a pipeline call does in a script (``python script.py [--kfp|--argo|--dry-run]``) and in
``python -m kale_argo SCRIPT``: run locally, compile to YAML next to the script, or submit."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError

MODES = ("run", "compile", "submit")


def compiled_path(script: str) -> str:
    """Where ``--dry-run`` writes the Workflow: ``<script stem>.yaml`` next to the script."""
    return os.path.splitext(os.path.abspath(script))[0] + ".yaml"


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, fsync and rename; a ConfigError
    naming the path when it cannot be written (a missing folder, no permission)."""
    from ..runtime.marshal.files import atomic_writer

    try:
        with atomic_writer(path) as out:
            out.write(text.encode("utf-8"))
    except OSError as exc:
        folder = os.path.dirname(path) or "."
        hint = (f"create the folder {folder!r} first" if not os.path.isdir(folder)
                else "choose a writable path (-o FILE, or -o - for stdout)")
        raise ConfigError(f"cannot write the Workflow to {path!r}: {exc.strerror or exc}",
                          hint=hint) from None


def dispatch(pipe: Any, params: Mapping[str, Any] | None, mode: str, where: str | None = None,
             **options: Any) -> Any:
    """Trace ``pipe`` and run it locally (``"run"``), compile it (``"compile"``) or submit it
    (``"submit"``). Returns the LocalRun, the YAML's path, or the submitted run's name. A bad
    parameter is reported at ``where`` (the pipeline call's ``file:line``), else as ``-p NAME``.

    ``options`` go to the backend: ``jobs``/``marshal_dir`` for runs; for submissions, keyword
    arguments of :func:`kale_argo.cluster.submit_pipeline` (``namespace``, ``backend``, ``watch``...;
    None values are dropped).
    """
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}", hint=f"one of {', '.join(MODES)}")
    spec = pipe.trace()
    values = spec.resolve_parameters(dict(params or {}), where=where)
    if mode == "run":
        from ..local import run_local

        return run_local(spec, values, jobs=options.get("jobs"),
                         marshal_dir=options.get("marshal_dir"))
    if mode == "compile":
        from ..argo import compile_yaml

        path = compiled_path(spec.script.path)
        write_atomic(path, compile_yaml(spec, values))
        print(f"compiled pipeline {spec.name!r} to {path}", file=sys.stdout)
        return path
    from ..cluster import submit_pipeline

    submit = {k: v for k, v in options.items() if k not in ("jobs", "marshal_dir") and v is not None}
    return submit_pipeline(spec, values, **submit)
