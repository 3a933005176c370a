"""The local executor: run a traced pipeline on this machine, one process per step.

>>> from kale_argo.local import run_local
>>> run = run_local(spec, {"lr": 0.1}, jobs=2)   # raises RunFailed if a step fails
"""

from .executor import run_local
from .result import LocalRun, StepResult
from .warm import end_kept_server

__all__ = ["LocalRun", "StepResult", "end_kept_server", "run_local"]
