"""Run a pipeline on this machine, each step in its own process."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TextIO

from ..local import LocalRun, run_local
from ..spec import PipelineSpec
from .options import RunOptions


def run(spec: PipelineSpec, params: Mapping[str, Any] | None = None, options: RunOptions | None = None,
        *, out: TextIO | None = None) -> LocalRun:
    """Run ``spec`` locally with ``params``; progress to ``out`` (default: the current stdout).

    Returns the :class:`~kale_argo.local.LocalRun`; raises RunFailed (carrying the run) if a step failed.
    """
    options = options or RunOptions()
    return run_local(spec, params, jobs=options.jobs, marshal_dir=options.marshal_dir, stream=out,
                     retries=options.retries, warm_start=options.warm_start,
                     cache=options.cache, resume=options.resume)
