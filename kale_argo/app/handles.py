"""Run handles: what ``Pipeline.run()`` / ``.submit()`` and :func:`get_run` return.

Local and cluster runs share one interface: ``status()``, ``wait(timeout=None)``, ``logs(step=None)``,
``steps`` (name, phase, duration, output size), ``load(name)`` (local runs), ``stop()`` and
``retry()`` (cluster runs), ``link`` (the Argo UI, when known). In Jupyter a handle displays as an
HTML table (:mod:`kale_argo.views.html`), elsewhere as text; ``wait()`` updates one display in
place in a notebook and prints a line per change elsewhere.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TextIO

from ..cluster.backend import Backend
from ..cluster.status import metadata, phase, steps
from ..errors import ConfigError, KaleArgoError, RunFailed
from ..labels import PIPELINE_ANNOTATION
from ..local import LocalRun, StepResult
from ..local.warm import WarmStarts
from ..runtime.script import module_name_for
from ..spec import PipelineSpec
from .manage import connect
from .manage import logs as run_logs
from .manage import retry as retry_run
from .manage import stop as stop_run
from .manage import wait as wait_run
from .options import Connection, RunOptions, SubmitOptions

_LOCAL_PHASES = {"succeeded": "Succeeded", "failed": "Failed", "skipped": "Skipped",
                 "cancelled": "Cancelled", "pending": "Pending", "running": "Running"}


@dataclass(frozen=True)
class StepRow:
    """One step of a run as a handle shows it."""

    name: str
    phase: str
    duration: float | None = None
    output_bytes: int | None = None
    message: str = ""


class RunHandle:
    """The interface both kinds of run share."""

    kind = "run"
    name: str
    pipeline: str | None = None
    namespace: str | None = None
    link: str | None = None

    def status(self) -> str:
        """The run's phase: Pending, Running, Succeeded, Failed, Error..."""
        raise NotImplementedError

    @property
    def steps(self) -> list[StepRow]:
        """The steps, in the pipeline's order."""
        raise NotImplementedError

    def wait(self, timeout: float | None = None) -> RunHandle:
        """Wait for the run to end; returns the handle, raises RunFailed unless it Succeeded."""
        raise NotImplementedError

    def logs(self, step: str | None = None) -> str:
        """What the steps printed (one step with ``step``), each line prefixed with its step."""
        raise NotImplementedError

    def load(self, name: str) -> Any:
        """The value a step stored under ``name`` (local runs)."""
        raise ConfigError(f"run {self.name!r} runs on the cluster: its values are in its marshal volume",
                          hint="load values from local runs (Pipeline.run()), or read them in a step")

    def stop(self) -> RunHandle:
        """Stop the run (cluster runs): no new steps start."""
        raise ConfigError(f"run {self.name!r} ran locally and has finished",
                          hint="stop() is for cluster runs")

    def retry(self) -> RunHandle:
        """Re-run the failed steps of a failed run (cluster runs)."""
        raise ConfigError(f"run {self.name!r} ran locally",
                          hint="run the pipeline again with Pipeline.run(); retry() is for cluster runs")

    def summary(self, run_phase: str | None = None) -> dict[str, Any]:
        """The run as plain data, for the views."""
        return {"name": self.name, "kind": self.kind, "phase": run_phase or self.status(),
                "pipeline": self.pipeline, "namespace": self.namespace, "link": self.link,
                "steps": [{"name": s.name, "phase": s.phase, "duration": s.duration, "bytes": s.output_bytes,
                           "message": s.message} for s in self.steps]}

    def _repr_html_(self) -> str:
        from ..views.html import render_run

        return render_run(self.summary())

    def __repr__(self) -> str:
        from ..views.html import render_run_text

        return render_run_text(self.summary())


class _StepLogs(io.TextIOBase):
    """A stream that forwards the local run's progress and keeps each step's lines."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lines: list[str] = []
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.out.write(text)
        self._partial += text
        *done, self._partial = self._partial.split("\n")
        self.lines += done
        return len(text)

    def flush(self) -> None:
        self.out.flush()


class LocalRunHandle(RunHandle):
    """A local run (finished when the handle exists: local runs are synchronous)."""

    kind = "local"

    def __init__(self, run: LocalRun, spec: PipelineSpec, lines: list[str] | None = None) -> None:
        self.run = run
        self.spec = spec
        self.name = run.marshal_dir
        self.pipeline = run.pipeline
        self._lines = lines or []

    @property
    def marshal_dir(self) -> str:
        return self.run.marshal_dir

    def status(self) -> str:
        if self.run.succeeded:
            return "Succeeded"
        if any(s.status == "running" for s in self.run.steps.values()):
            return "Running"
        return "Failed"

    @property
    def steps(self) -> list[StepRow]:
        return [StepRow(s.name, _LOCAL_PHASES.get(s.status, s.status), s.duration,
                        s.output_bytes if s.outputs else None, s.error or "")
                for s in self.run.steps.values()]

    def wait(self, timeout: float | None = None) -> RunHandle:
        if not self.run.succeeded:
            failed = ", ".join(s.name for s in self.run.failed_steps()) or "a step"
            raise RunFailed(f"local run of pipeline {self.pipeline!r} failed ({failed})")
        return self

    def logs(self, step: str | None = None) -> str:
        if step is not None and step not in self.run.steps:
            raise ConfigError(f"run {self.name!r} has no step {step!r}",
                              hint=f"its steps: {', '.join(self.run.steps)}")
        prefixes = tuple(f"[{s}] " for s in ([step] if step else self.run.steps))
        lines = [line for line in self._lines if line.startswith(prefixes)]
        if not lines and not self._lines:  # a run whose progress was not captured: the tails
            lines = [f"[{s.name}] {t}" for s in self.run.steps.values() if step in (None, s.name)
                     for t in s.tail]
        return "".join(line + "\n" for line in lines)

    def names(self) -> list[str]:
        """The values this run stored (the outputs of its succeeded steps; a fan-out's by the
        name of the list they form)."""
        lists = [k for s in self.spec.steps if s.map_over is not None for k in s.outputs
                 if self.run.fan_out_length(k) is not None]
        return [*(k for s in self.run.steps.values() for k in s.outputs), *lists]

    def load(self, name: str) -> Any:
        names = self.names()
        if name not in names:
            raise ConfigError(f"run {self.name!r} has no value {name!r}",
                              hint=f"its values: {', '.join(names) or 'none (no step succeeded)'}")
        self._fresh_script_module()
        return self.run.load(name)

    def _fresh_script_module(self) -> None:
        """Values of the pipeline's own classes unpickle against its module: import this run's
        version of it, not one imported for an earlier run (a notebook's code changes between runs)."""
        script = self.spec.script.path
        name = module_name_for(script)
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__kale_sha256__", None) != self.spec.script.sha256:
            del sys.modules[name]
        from ..runtime.script import import_script

        with contextlib.suppress(FileNotFoundError):
            import_script(script).__kale_sha256__ = self.spec.script.sha256  # type: ignore[attr-defined]


class ClusterRunHandle(RunHandle):
    """A run on the cluster, read through its backend at each call."""

    kind = "cluster"

    def __init__(self, backend: Backend, name: str, link: str | None = None,
                 workflow: dict[str, Any] | None = None) -> None:
        self.backend = backend
        self.name = name
        self.namespace = backend.namespace
        self.link = link
        self._workflow = workflow
        self._refresh(workflow)

    def _refresh(self, workflow: dict[str, Any] | None = None) -> dict[str, Any]:
        self._workflow = workflow if workflow is not None else self.backend.get(self.name)
        annotations = metadata(self._workflow).get("annotations") or {}
        self.pipeline = annotations.get(PIPELINE_ANNOTATION) or self.pipeline
        return self._workflow

    def status(self) -> str:
        return phase(self._refresh())

    @property
    def steps(self) -> list[StepRow]:
        wf = self._workflow or self._refresh()
        return [StepRow(s.name, s.phase, s.duration, None, s.message) for s in steps(wf)]

    def summary(self, run_phase: str | None = None) -> dict[str, Any]:
        return self._cached(self._refresh())

    def wait(self, timeout: float | None = None) -> RunHandle:
        view = live_view(self)
        workflow, failed = wait_run(self.backend, self.name, timeout=timeout,
                                    on_update=lambda wf: view.update(self._cached(wf)))
        view.update(self._cached(workflow))
        if failed is not None:
            raise _one_line(RunFailed(failed.reason + "".join(f"\n  {line}" for line in failed.log[-20:])))
        return self

    def _cached(self, workflow: dict[str, Any]) -> dict[str, Any]:
        self._workflow = workflow
        return RunHandle.summary(self, phase(workflow))

    def logs(self, step: str | None = None) -> str:
        lines = run_logs(self.backend, self.name, step=step)
        return "".join(f"[{line.step}] {line.text}\n" for line in lines)

    def stop(self) -> RunHandle:
        self._refresh(stop_run(self.backend, self.name))
        return self

    def retry(self) -> RunHandle:
        self._refresh(retry_run(self.backend, self.name))
        return self


class _LineView:
    """Outside Jupyter: a line per phase change."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.seen: dict[str, str] = {}

    def update(self, data: dict[str, Any]) -> None:
        run = data["phase"]
        if self.seen.get("") != run:
            self.seen[""] = run
            self.out.write(f"{data['name']}: {run}\n")
        for s in data["steps"]:
            if self.seen.get(s["name"]) != s["phase"]:
                self.seen[s["name"]] = s["phase"]
                self.out.write(f"  {s['name']:<24} {s['phase']}\n")
        self.out.flush()


class _NotebookView:
    """In Jupyter: one HTML display, updated in place."""

    def __init__(self, display: Any, html: Any) -> None:
        self.display, self.html = display, html
        self.handle: Any = None
        self.last = ""

    def update(self, data: dict[str, Any]) -> None:
        from ..views.html import render_run

        text = render_run(data)
        if text == self.last:
            return
        self.last = text
        if self.handle is None:
            self.handle = self.display(self.html(text), display_id=True)
        else:
            self.handle.update(self.html(text))


def in_notebook() -> bool:
    """Whether a Jupyter kernel (not a terminal IPython) runs this process."""
    from ..sdk.interactive import shell

    ip = shell()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def live_view(handle: RunHandle, out: TextIO | None = None) -> Any:
    """The view ``wait()`` updates: an in-place HTML display in Jupyter, else lines on ``out``."""
    if in_notebook():
        try:
            from IPython.display import HTML, display
        except ImportError:  # pragma: no cover - a kernel always has IPython
            pass
        else:
            return _NotebookView(display, HTML)
    return _LineView(out or sys.stdout)


def run_pipeline(spec: PipelineSpec, params: Mapping[str, Any] | None, options: RunOptions | None = None,
                 *, out: TextIO | None = None, server: WarmStarts | None = None) -> LocalRunHandle:
    """Run locally (streaming each step's prefixed output to ``out``); the handle of the finished run.
    ``server``: from :func:`.running.prestarted`, for the script ``spec`` was traced from.

    A failed run raises RunFailed with the handle as ``.handle``.
    """
    from .running import run

    stream = _StepLogs(out or sys.stdout)
    try:
        result = run(spec, params, options, out=stream, server=server)  # type: ignore[arg-type]
    except RunFailed as exc:
        local = getattr(exc, "run", None)
        if isinstance(local, LocalRun):
            exc.handle = LocalRunHandle(local, spec, stream.lines)
        raise
    return LocalRunHandle(result, spec, stream.lines)


def submit_pipeline(spec: PipelineSpec, params: Mapping[str, Any] | None, options: SubmitOptions,
                    connection: Connection, *, out: TextIO | None = None) -> ClusterRunHandle:
    """Submit as ``kale-argo submit`` does; with ``options.watch``, follow it in one live display."""
    from .submitting import submit

    created = submit(spec, params, replace(options, watch=False), connection, out=out)
    handle = ClusterRunHandle(connect(connection), created.name, created.link, created.workflow)
    if options.watch:
        handle.wait(options.timeout)
    return handle


def _one_line(exc: KaleArgoError) -> KaleArgoError:
    """In a Jupyter kernel, show ``exc`` as its one line rather than a traceback."""
    if in_notebook():
        lines = str(exc).splitlines() if isinstance(exc, RunFailed) else [exc.one_line()]
        shown = [f"kale-argo: error: {lines[0]}", *lines[1:]] if lines else ["kale-argo: error"]
        exc._render_traceback_ = lambda: shown  # type: ignore[attr-defined]
    return exc


def local_run(folder: str) -> LocalRunHandle:
    """The handle of the local run whose values are in ``folder`` (read from its step records)."""
    from ..runtime.record import read_record

    try:
        with open(os.path.join(folder, ".kale", "pipeline.json"), encoding="utf-8") as fh:
            spec = PipelineSpec.model_validate_json(fh.read())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{folder!r} is not a local run's folder ({exc})",
                          hint="give a folder under .kale-runs/, as a run's marshal_dir says") from None
    results = {}
    for step in spec.steps:
        record = read_record(folder, step.name) or {}
        outputs = record.get("outputs") if isinstance(record.get("outputs"), dict) else {}
        started, finished = record.get("started"), record.get("finished")
        results[step.name] = StepResult(
            step.name, str(record.get("status") or "pending"),
            finished - started if isinstance(started, float) and isinstance(finished, float) else None,
            outputs={k: v for k, v in (outputs or {}).items() if isinstance(v, dict)},
            error=record.get("error"))
    run = LocalRun(spec.name, os.path.abspath(folder), {}, results, script=spec.script.path)
    return LocalRunHandle(run, spec)


def get_run(name: str, *, namespace: str | None = None, backend: str = "auto", argo_server: str | None = None,
            token: str | None = None, insecure_skip_verify: bool | None = None, base_href: str | None = None,
            context: str | None = None, kubeconfig: str | None = None) -> RunHandle:
    """Reattach to run ``name`` from a new kernel: a cluster run (connection settings as for
    submit), or a local run given its folder (``handle.marshal_dir``)."""
    if os.path.isfile(os.path.join(name, ".kale", "pipeline.json")):
        return local_run(name)
    conn = Connection(backend=backend, namespace=namespace, argo_server=argo_server, token=token,
                      insecure_skip_verify=insecure_skip_verify, base_href=base_href, context=context,
                      kubeconfig=kubeconfig)
    try:
        client = connect(conn)
        return ClusterRunHandle(client, name, client.ui_link(name))
    except KaleArgoError as exc:
        raise _one_line(exc) from None



def pipeline_html(pipe: Any) -> str:
    """A ``Pipeline``'s display in Jupyter: its DAG (traced without writing the notebook's module)."""
    from ..errors import KaleArgoError
    from ..sdk.tracing import trace_pipeline
    from ..views.html import render_error, render_pipeline

    try:
        spec = trace_pipeline(pipe, write=False)
    except KaleArgoError as exc:
        return render_error(f"pipeline {pipe.name!r}: {exc.one_line()}")
    return render_pipeline(spec)
