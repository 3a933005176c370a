"""The local executor: run a traced pipeline on this machine, one process per step.

>>> from kale_argo.local import run_local
>>> run = run_local(spec, {"lr": 0.1}, jobs=2)   # raises RunFailed if a step fails

Names are loaded on first use: importing :mod:`.warm` (to start a run's fork server before the
script is traced) imports neither the executor nor pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

if TYPE_CHECKING:
    from .executor import run_local
    from .result import LocalRun, StepResult
    from .warm import end_kept_server

_MODULES = {"executor": ("run_local",), "result": ("LocalRun", "StepResult"), "warm": ("end_kept_server",)}
__all__ = ["LocalRun", "StepResult", "end_kept_server", "run_local"]
__getattr__, __dir__ = lazy_names(__name__, _MODULES)
