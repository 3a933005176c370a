"""The application layer: what kale-argo does, once, for every front end.

The ``kale-argo`` command, ``python SCRIPT`` (Kale's way), ``python -m kale_argo`` and the Python
API (``Pipeline.run``/``.compile``/``.submit`` in a notebook) all call these; none of them holds
orchestration of its own. Options are typed frozen dataclasses (:mod:`.options`).

- :func:`run` a pipeline locally, :func:`compile` it to a Workflow, :func:`submit` it to Argo;
- the Python API's run handles (:mod:`.handles`): :func:`run_pipeline`, :func:`submit_pipeline`,
  :func:`get_run`;
- schedules and templates (:mod:`.schedules`): :func:`schedule`, :func:`push_template`,
  :func:`list_published`, :func:`suspend_schedule`, :func:`delete_published`;
- manage runs: :func:`connect`, :func:`status`, :func:`wait`, :func:`logs`, :func:`list_runs`,
  :func:`stop`, :func:`terminate`, :func:`retry`, :func:`delete`.

Names are loaded on first use, each from its module: importing the package (or a light module of
it, :mod:`.running`) does not import the compiler, the clients or pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

if TYPE_CHECKING:
    from .compiling import (
        CompileOptions,
        compile,
        compile_dict,
        compile_kind,
        compile_notes,
        compiled_path,
        write_atomic,
    )
    from .handles import (
        ClusterRunHandle,
        LocalRunHandle,
        RunHandle,
        StepRow,
        get_run,
        pipeline_html,
        run_pipeline,
        submit_pipeline,
    )
    from .manage import connect, delete, list_runs, logs, retry, status, stop, terminate, wait
    from .options import Connection, PublishOptions, RunOptions, SubmitOptions, WorkspaceOptions
    from .pipelines import load_spec, resolve
    from .running import prestarted, run
    from .schedules import (
        Published,
        Schedule,
        delete_published,
        get_published,
        list_published,
        push_template,
        schedule,
        suspend_schedule,
    )
    from .script import pipeline_called
    from .submitting import Submission, plan_workspace, submit

_MODULES = {
    "compiling": ("CompileOptions", "compile", "compile_dict", "compile_kind", "compile_notes",
                  "compiled_path", "write_atomic"),
    "handles": ("ClusterRunHandle", "LocalRunHandle", "RunHandle", "StepRow", "get_run", "pipeline_html",
                "run_pipeline", "submit_pipeline"),
    "manage": ("connect", "delete", "list_runs", "logs", "retry", "status", "stop", "terminate", "wait"),
    "options": ("Connection", "PublishOptions", "RunOptions", "SubmitOptions", "WorkspaceOptions"),
    "pipelines": ("load_spec", "resolve"),
    "running": ("prestarted", "run"),
    "schedules": ("Published", "Schedule", "delete_published", "get_published", "list_published",
                  "push_template", "schedule", "suspend_schedule"),
    "script": ("pipeline_called",),
    "submitting": ("Submission", "plan_workspace", "submit"),
}
__all__ = [
    "ClusterRunHandle",
    "CompileOptions",
    "Connection",
    "LocalRunHandle",
    "PublishOptions",
    "Published",
    "RunHandle",
    "RunOptions",
    "Schedule",
    "StepRow",
    "Submission",
    "SubmitOptions",
    "WorkspaceOptions",
    "compile",
    "compile_dict",
    "compile_kind",
    "compile_notes",
    "compiled_path",
    "connect",
    "delete",
    "delete_published",
    "get_published",
    "get_run",
    "list_published",
    "list_runs",
    "load_spec",
    "logs",
    "pipeline_called",
    "pipeline_html",
    "plan_workspace",
    "prestarted",
    "push_template",
    "resolve",
    "retry",
    "run",
    "run_pipeline",
    "schedule",
    "status",
    "stop",
    "submit",
    "submit_pipeline",
    "suspend_schedule",
    "terminate",
    "wait",
    "write_atomic",
]
__getattr__, __dir__ = lazy_names(__name__, _MODULES)
