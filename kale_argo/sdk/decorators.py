"""``@step`` and ``@pipeline``, Kale's decorators. Standard library only: every step imports this.

Decorating never raises: bad options are recorded and reported, with the decorator's file:line,
when the pipeline is traced, so ``python script.py`` fails cleanly before any step runs.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, overload

STEP_OPTIONS = ("name", "image", "limits", "labels", "annotations", "retry_count",
                "retry_interval", "retry_factor", "retry_max_interval", "timeout", "security_context",
                "env", "env_from_secret", "env_from_configmap", "requests", "node_selector",
                "tolerations", "image_pull_policy", "packages", "packages_to_install")
PIPELINE_OPTIONS = ("name", "experiment", "description", "marshal_volume", "marshal_volume_size",
                    "marshal_path", "volume_access_mode", "storage_class_name", "volumes",
                    "docker_image", "steps_defaults", "autosnapshot", "timeout", "pod_security_context",
                    "packages", "packages_to_install", "pip_index_urls", "image_pull_secrets", "ttl",
                    "pod_gc")


def _caller_location(depth: int = 2) -> str:
    frame = sys._getframe(depth)
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

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .context import current_tracer

        tracer = current_tracer()
        if tracer is None:
            return self.func(*args, **kwargs)
        return tracer.call(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<step {self.name!r}>"


class Pipeline:
    """A pipeline function. Calling it runs the pipeline: locally by default; with ``--kfp`` /
    ``--argo`` on the script's command line it is submitted, with ``--dry-run`` compiled."""

    def __init__(self, func: Callable[..., Any], options: dict[str, Any], location: str) -> None:
        functools.update_wrapper(self, func)
        self.func = func
        self.options = options
        self.name: str = options.get("name") or func.__name__
        self.location = location

    def trace(self, source_path: str | None = None) -> Any:
        """The pipeline as a validated :class:`kale_argo.spec.PipelineSpec`."""
        from .tracing import trace_pipeline

        return trace_pipeline(self, source_path)

    def run(self, *, jobs: int | None = None, marshal_dir: str | None = None,
            **params: Any) -> Any:
        """Run locally, one process per step; returns the run's result (raises RunFailed)."""
        from .entry import application

        app = application()
        return app.run(self.trace(), params, app.RunOptions(jobs=jobs, marshal_dir=marshal_dir))

    def __call__(self, *args: Any, **params: Any) -> Any:
        from .entry import call_pipeline

        return call_pipeline(self, args, params)

    def __repr__(self) -> str:
        return f"<pipeline {self.name!r}>"


@overload
def step(func: Callable[..., Any], /) -> Step: ...
@overload
def step(func: None = None, /, **options: Any) -> Callable[[Callable[..., Any]], Step]: ...
def step(func: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Mark a function as a pipeline step: ``@step`` or ``@step(name=..., limits=..., ...)``.

    Options (Kale's): name, image, limits, labels, annotations, retry_count, retry_interval,
    retry_factor, retry_max_interval, timeout.
    """
    location = _caller_location()
    if func is not None:
        return Step(func, {}, location)
    return lambda f: Step(f, options, location)


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
