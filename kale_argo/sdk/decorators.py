"""``@step`` and ``@pipeline``, Kale's decorators. Standard library only: every step imports this.

Decorating never raises: bad options are recorded and reported, with the decorator's file:line,
when the pipeline is traced, so ``python script.py`` fails cleanly before any step runs.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, overload

STEP_OPTIONS = ("name", "image", "limits", "labels", "annotations", "retry_count",
                "retry_interval", "retry_factor", "retry_max_interval", "timeout", "security_context",
                "env", "env_from_secret", "env_from_configmap", "requests", "node_selector",
                "tolerations", "image_pull_policy", "packages", "packages_to_install", "parallelism", "cache")
PIPELINE_OPTIONS = ("name", "experiment", "description", "marshal_volume", "marshal_volume_size",
                    "marshal_path", "volume_access_mode", "storage_class_name", "volumes",
                    "docker_image", "steps_defaults", "autosnapshot", "timeout", "pod_security_context",
                    "packages", "packages_to_install", "pip_index_urls", "image_pull_secrets", "ttl",
                    "pod_gc", "cache_volume",
                    # Kale 0.7.0's raw PipelineConfig names and its other fields
                    "pipeline_name", "experiment_name", "pipeline_description", "kfp_host",
                    "abs_working_dir", "katib_run", "katib_metadata")
PIPELINE_SYNONYMS = {"pipeline_name": "name", "experiment_name": "experiment",
                     "pipeline_description": "description"}


def _caller_location(depth: int = 2) -> str:
    frame = sys._getframe(depth)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _user_location() -> str:
    """``file:line`` of the first caller outside kale_argo (a Pipeline method's caller)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("kale_argo"):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


class Step:
    """A step function. Inside a pipeline being traced, a call records a DAG node; elsewhere it
    calls the plain function (handy in notebooks and unit tests)."""

    __kale_step__ = True  # how the step runtime recognises a step without importing the SDK

    def __init__(self, func: Callable[..., Any], options: dict[str, Any], location: str) -> None:
        functools.update_wrapper(self, func)
        self.func = func
        self.name: str = options.get("name") or func.__name__
        self.options = {k: v for k, v in options.items() if k != "name"}
        self.location = location
        self.artifacts: list[tuple[str, str, str]] = []
        """``(name, path, file:line)`` of each ``@artifact`` stacked on the step, top first."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .context import current_tracer

        tracer = current_tracer()
        if tracer is None:
            return self.func(*args, **kwargs)
        return tracer.call(self, args, kwargs)

    def map(self, over: Any, *args: Any, parallelism: int | None = None, **kwargs: Any) -> Any:
        """A fan-out: one instance of the step per element of ``over`` (a step's output, a
        parameter holding a JSON list, or a literal list), each called with its element as the
        first argument and ``args``/``kwargs`` after it, at most ``parallelism`` at once (default:
        the step's ``parallelism``, else no limit). Returns the list of their results, in element
        order. Outside a pipeline, calls the plain function for each element."""
        from .context import current_tracer

        tracer = current_tracer()
        if tracer is None:
            return [self.func(item, *args, **kwargs) for item in over]
        return tracer.call(self, args, kwargs, map_over=over, parallelism=parallelism)

    def __repr__(self) -> str:
        return f"<step {self.name!r}>"


class Pipeline:
    """A pipeline function. Calling it runs the pipeline: locally by default; with ``--kfp`` /
    ``--argo`` on the script's command line it is submitted, with ``--dry-run`` compiled."""

    def __init__(self, func: Callable[..., Any], options: dict[str, Any], location: str) -> None:
        functools.update_wrapper(self, func)
        self.func = func
        self.options = options
        self.name: str = (options.get("name") or options.get("pipeline_name")
                          or func.__name__)
        self.location = location

    def trace(self, source_path: str | None = None) -> Any:
        """The pipeline as a validated :class:`kale_argo.spec.PipelineSpec`."""
        return _tracing().trace_pipeline(self, source_path)

    def _ship(self) -> Any:
        """Trace for a run, compile or submit: a notebook's code is written and what was shipped said."""
        return _tracing().trace_pipeline(self, out=sys.stdout)

    def run(self, *, jobs: int | None = None, marshal_dir: str | None = None,
            params: dict[str, Any] | None = None, warm_start: bool | None = None,
            cache: bool = True, resume: Any = None, **kwargs: Any) -> Any:
        """Run locally, one process per step, each step's output streamed with its prefix.

        Parameters by name (or ``params={...}`` for one named like an option). ``warm_start=False``
        starts every step as a new Python process (default: forked from one that imported the
        script's libraries once); ``cache=False`` runs every step, reusing no outputs from the
        step cache; ``resume`` (a run handle or its marshal folder) finishes that earlier run,
        rerunning only the steps that failed or never ran. Returns the run's handle
        (``.load(name)``, ``.steps``, ``.logs()``); raises RunFailed (``.handle``) if a step failed.
        """
        from .entry import application, run_server

        where = _user_location()

        def call() -> Any:
            app = application()
            with run_server(self, warm_start) as server:  # imports while the pipeline is traced
                spec = self._ship()
                values = app.resolve(spec, {**(params or {}), **kwargs}, where)
                options = app.RunOptions(jobs=jobs, marshal_dir=marshal_dir, warm_start=warm_start,
                                         cache=cache, resume=_run_folder(resume))
                return app.run_pipeline(spec, values, options, server=server)

        return _api(self, call)

    def compile(self, path: str | None = None, *, namespace: str | None = None, image: str | None = None,
                service_account: str | None = None, colocate: bool = False,
                params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """The Argo Workflow (a dict) for these parameters; also written as YAML to ``path`` if given."""
        from .entry import application

        where = _user_location()

        def call() -> Any:
            app = application()
            spec = self._ship()
            values = app.resolve(spec, {**(params or {}), **kwargs}, where)
            options = app.CompileOptions(namespace=namespace, image=image, service_account=service_account,
                                         colocate=colocate)
            if path is not None:
                app.write_atomic(path, app.compile(spec, values, options))
                print(f"compiled pipeline {self.name!r} to {path}")
            return app.compile_dict(spec, values, options)

        return _api(self, call)

    def submit(self, *, namespace: str | None = None, watch: bool = False, timeout: float | None = None,
               backend: str = "auto", argo_server: str | None = None, token: str | None = None,
               insecure_skip_verify: bool | None = None, base_href: str | None = None,
               context: str | None = None, kubeconfig: str | None = None, image: str | None = None,
               service_account: str | None = None, volume_claim_gc: str | None = None,
               colocate: bool = False, workspace: str | None = None, volumes: tuple[str, ...] = (),
               snapshot_class: str | None = None, keep_snapshots: bool = False,
               params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Submit to Argo as ``kale-argo submit`` does (same backends, workspace snapshot/clone and
        options); returns the run's handle. ``watch=True`` follows it (one live display in Jupyter)."""
        from .entry import application

        where = _user_location()

        def call() -> Any:
            app = application()
            spec = self._ship()
            values = app.resolve(spec, {**(params or {}), **kwargs}, where)
            options = app.SubmitOptions(
                image=image, service_account=service_account, volume_claim_gc=volume_claim_gc,
                colocate=colocate, watch=watch, timeout=timeout,
                workspace=app.WorkspaceOptions(mode=workspace, volumes=tuple(volumes),
                                               snapshot_class=snapshot_class, keep_snapshots=keep_snapshots))
            connection = app.Connection(backend=backend, namespace=namespace, argo_server=argo_server,
                                        token=token, insecure_skip_verify=insecure_skip_verify,
                                        base_href=base_href, context=context, kubeconfig=kubeconfig)
            return app.submit_pipeline(spec, values, options, connection)

        return _api(self, call)

    def schedule(self, cron: str, *, timezone: str | None = None, concurrency_policy: str | None = None,
                 suspend: bool = False, name: str | None = None, namespace: str | None = None,
                 backend: str = "auto", argo_server: str | None = None, token: str | None = None,
                 context: str | None = None, kubeconfig: str | None = None, image: str | None = None,
                 service_account: str | None = None, params: dict[str, Any] | None = None,
                 **kwargs: Any) -> Any:
        """Run on Argo on a cron schedule, as ``kale-argo schedule``: a CronWorkflow (named
        ``name``, default the pipeline's) whose runs get these parameters. Returns what was created
        (shown as one line; ``.manifest`` is the CronWorkflow)."""
        from .entry import application

        where = _user_location()

        def call() -> Any:
            app = application()
            when = app.Schedule(cron, timezone, concurrency_policy, suspend).validated()
            spec = self._ship()
            values = app.resolve(spec, {**(params or {}), **kwargs}, where)
            options = app.PublishOptions(name=name, image=image, service_account=service_account)
            connection = app.Connection(backend=backend, namespace=namespace, argo_server=argo_server,
                                        token=token, context=context, kubeconfig=kubeconfig)
            return app.schedule(spec, values, when, options, connection)

        return _api(self, call)

    def push_template(self, *, name: str | None = None, namespace: str | None = None, backend: str = "auto",
                      argo_server: str | None = None, token: str | None = None, context: str | None = None,
                      kubeconfig: str | None = None, image: str | None = None,
                      service_account: str | None = None, params: dict[str, Any] | None = None,
                      **kwargs: Any) -> Any:
        """Publish as a WorkflowTemplate (create, or update the one named ``name``), as ``kale-argo
        template push``: runs start from the Argo UI or ``argo submit --from workflowtemplate/NAME``,
        with these parameter values as defaults. Returns what was published."""
        from .entry import application

        where = _user_location()

        def call() -> Any:
            app = application()
            spec = self._ship()
            values = app.resolve(spec, {**(params or {}), **kwargs}, where)
            options = app.PublishOptions(name=name, image=image, service_account=service_account)
            connection = app.Connection(backend=backend, namespace=namespace, argo_server=argo_server,
                                        token=token, context=context, kubeconfig=kubeconfig)
            return app.push_template(spec, values, options, connection)

        return _api(self, call)

    def __call__(self, *args: Any, **params: Any) -> Any:
        from .context import pipeline_calls_ignored
        from .entry import call_pipeline

        if pipeline_calls_ignored():
            return None
        if _in_kernel() and self.func.__module__ == "__main__":  # a notebook: the Python API
            if args:
                from ..errors import PipelineError

                raise PipelineError(f"pipeline {self.name!r} was called with positional arguments",
                                    where=_user_location(), hint=f"pass parameters by name: "
                                    f"{self.func.__name__}(name=value)")
            return self.run(**params)
        return call_pipeline(self, args, params)

    def _repr_html_(self) -> str:
        """The DAG, for Jupyter (traced without writing anything)."""
        from .entry import application

        return str(application().pipeline_html(self))

    def __repr__(self) -> str:
        return f"<pipeline {self.name!r}>"


def _tracing() -> Any:
    """The tracing module, imported whole: it imports the IR, whose import Ctrl-C must not cut
    (:func:`kale_argo.lazy.import_whole`)."""
    from ..lazy import import_whole

    return import_whole(f"{__package__}.tracing")


def _in_kernel() -> bool:
    """Whether an IPython shell runs this process (IPython is never imported to find out)."""
    if "IPython" not in sys.modules:
        return False
    from .interactive import shell

    return shell() is not None


def _api(pipe: Pipeline, call: Callable[[], Any]) -> Any:
    """Run a Python API call of ``pipe``. Inside a step or while a script is loaded for
    ``kale-argo`` it does nothing. In a kernel an error shows as its one line (no traceback); in a
    plain script (``python -c`` too) bad input ends the process with that line and exit code 2."""
    from ..errors import KaleArgoError, UserError
    from .context import pipeline_calls_ignored

    if pipeline_calls_ignored():
        return None
    try:
        return call()
    except KaleArgoError as exc:
        line = f"kale-argo: error: {exc.one_line()}"
        if _in_kernel():
            from .interactive import cell_names

            line = cell_names(line)
            exc._render_traceback_ = lambda: [line]  # type: ignore[attr-defined]  # IPython shows this
            raise
        if isinstance(exc, UserError) and pipe.func.__module__ == "__main__":
            print(line, file=sys.stderr)
            raise SystemExit(exc.exit_code) from None
        raise


@overload
def step(func: Callable[..., Any], /) -> Step: ...
@overload
def step(func: None = None, /, **options: Any) -> Callable[[Callable[..., Any]], Step]: ...
def step(func: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Mark a function as a pipeline step: ``@step`` or ``@step(name=..., limits=..., ...)``.

    Options (Kale's): name, image, limits, labels, annotations, retry_count, retry_interval,
    retry_factor, retry_max_interval, timeout; ``cache=False`` always runs the step (never
    reuses outputs from the step cache).
    """
    location = _caller_location()
    if func is not None:
        return Step(func, {}, location)
    return lambda f: Step(f, options, location)


def _run_folder(run: Any) -> str | None:
    """The marshal folder of a run handle (or a path given as is)."""
    if run is None:
        return None
    folder = getattr(run, "marshal_dir", run)
    return os.fspath(folder)


@overload
def pipeline(func: Callable[..., Any], /) -> Pipeline: ...
@overload
def pipeline(func: None = None, /, **options: Any) -> Callable[[Callable[..., Any]], Pipeline]: ...
def pipeline(func: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Mark the function that wires the steps: ``@pipeline(name=..., experiment=..., ...)``.

    Options (Kale's): name, experiment, description, marshal_volume, marshal_volume_size,
    marshal_path, volume_access_mode, storage_class_name, volumes, docker_image, steps_defaults,
    autosnapshot, timeout. Its arguments with defaults are the pipeline parameters.
    """
    location = _caller_location()
    if func is not None:
        return Pipeline(func, {}, location)
    return lambda f: Pipeline(f, options, location)


class _ArtifactMisuse:
    """What ``@artifact`` returns when stacked on something that is not a step: reported when
    traced or called, with the decorator's file:line (decorating never raises)."""

    def __init__(self, target: Any, location: str) -> None:
        self.target = target
        self.location = location

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from ..errors import PipelineError

        raise PipelineError(f"@artifact decorates {getattr(self.target, '__name__', self.target)!r}"
                            ", which is not a @step", where=self.location,
                            hint="put @artifact above @step: @artifact(...) then @step(...)")


def artifact(name: str, path: str) -> Callable[[Any], Any]:
    """Kale's ``@artifact(name, path)``, stacked above ``@step``: the file the step writes at
    ``path`` becomes an output of the run (kept in the marshal folder; on Argo also an output
    artifact of the step). Stack it several times for several files."""
    location = _caller_location()

    def mark(target: Any) -> Any:
        if not isinstance(target, Step):
            return _ArtifactMisuse(target, location)
        target.artifacts.insert(0, (name, path, location))
        return target

    return mark
