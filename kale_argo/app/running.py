"""Run a pipeline on this machine, each step in its own process.

Light to import (the executor and the IR load with the first run): ``kale-argo run``, ``python
SCRIPT``, ``python -m kale_argo SCRIPT`` and ``Pipeline.run()`` start the run's fork server
(:func:`prestarted`) before they import them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from ..local.scheduler import step_environment
from ..local.warm import WarmStarts, prestart, release

if TYPE_CHECKING:
    from ..local import LocalRun
    from ..spec import PipelineSpec
    from .options import RunOptions


def run(spec: PipelineSpec, params: Mapping[str, Any] | None = None, options: RunOptions | None = None,
        *, out: TextIO | None = None, server: WarmStarts | None = None) -> LocalRun:
    """Run ``spec`` locally with ``params``; progress to ``out`` (default: the current stdout).
    ``server``: from :func:`prestarted`, for the script ``spec`` was traced from.

    Returns the :class:`~kale_argo.local.LocalRun`; raises RunFailed (carrying the run) if a step failed.
    """
    from ..local import run_local
    from .options import RunOptions

    options = options or RunOptions()
    return run_local(spec, params, jobs=options.jobs, marshal_dir=options.marshal_dir, stream=out,
                     retries=options.retries, warm_start=options.warm_start,
                     cache=options.cache, resume=options.resume, server=server)


@contextlib.contextmanager
def prestarted(script: str, warm_start: bool | None, out: TextIO | None = None,
               text: bytes | None = None) -> Iterator[WarmStarts | None]:
    """The run's fork server, started for the Python file ``script`` before the caller traces it:
    it imports the script's libraries while the tracing imports them too (None: warm starts off,
    no ``.py`` file, or this process kept a server from a run of it). ``text``: the script's
    source, where the file is not written yet (a notebook's pipeline module). Ended on leaving,
    whatever happened, unless the run kept it for the process's next run."""
    server = None
    if script.endswith(".py") and (text is not None or os.path.isfile(script)):
        server = prestart(script, out or sys.stdout, warm_start, sys.executable, step_environment(), text)
    try:
        yield server
    finally:
        if server is not None:
            release(server)
