"""The one exception hierarchy of kale-argo (standard library only).

A :class:`UserError` is something the user can fix: bad pipeline, bad flag, bad config. It renders
as one line naming what and where, with a hint, and exits with code 2. :class:`RunFailed` means a
run (local or on the cluster) did not succeed and exits with code 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class KaleArgoError(Exception):
    """Base of every error kale-argo raises on purpose."""

    exit_code = 1

    def one_line(self) -> str:
        """The message as one line, as the CLI prints it."""
        return " ".join(str(self).split("\n"))


class UserError(KaleArgoError):
    """Input the user can fix. Exit code 2.

    ``where`` is ``file:line`` (or a flag, a step, a variable); ``hint`` says what to do.
    """

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class PipelineError(UserError):
    """The pipeline definition is invalid (found while tracing or validating it)."""


class ScriptError(UserError):
    """The script does not exist, does not import, or defines no pipeline."""


class ConfigError(UserError):
    """A flag, environment variable or configuration value is invalid."""


class MarshalError(KaleArgoError):
    """A value could not be saved or loaded (corrupt, truncated, unserialisable)."""


class RunFailed(KaleArgoError):
    """A run finished without succeeding. Exit code 1. ``run`` is what it did (a local run's
    :class:`~kale_argo.local.LocalRun`, with the values its finished steps kept), when known;
    ``handle`` is the run handle the Python API gives for it (``Pipeline.run``), when there is one."""

    exit_code = 1

    def __init__(self, message: str, *, run: Any = None, handle: Any = None) -> None:
        self.run = run
        self.handle = handle
        super().__init__(message)


class ClusterError(UserError):
    """The cluster refused or could not be reached; one line says why. Exit code 2."""


class AuthError(ClusterError):
    """401/403: which permission is missing on which resource and namespace."""


class NotFoundError(ClusterError):
    """A run, namespace or object does not exist."""


class ConnectionFailed(ClusterError):
    """Wrong host, TLS failure, refused or timed-out connection."""


class WorkspaceError(UserError):
    """Workspace volumes cannot be snapshotted, cloned or mounted as asked."""


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest of ``choices`` to ``word``, or None."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None
