"""The run-management verbs: connect to the cluster, then status, wait, logs, list, stop, retry, delete."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..cluster.backend import Backend, LogLine, get_backend
from ..cluster.follow import Failure, failure
from ..cluster.follow import wait as wait_for
from ..errors import ConfigError
from .options import Connection


def connect(connection: Connection | None = None) -> Backend:
    """The backend ``connection`` names (``auto``: argo-server when one is configured)."""
    c = connection or Connection()
    return get_backend(c.backend, namespace=c.namespace, argo_server=c.argo_server, token=c.token,
                       insecure_skip_verify=c.insecure_skip_verify, base_href=c.base_href,
                       context=c.context, kubeconfig=c.kubeconfig)


def read_token(path: str) -> str:
    """An Argo Server token from a file (``--token-file``: kept out of the process list)."""
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the token file: {exc.strerror}", where="--token-file") from None


def status(backend: Backend, name: str) -> dict[str, Any]:
    """The run's Workflow as the cluster has it."""
    return backend.get(name)


def wait(backend: Backend, name: str, *, timeout: float | None = None,
         on_update: Callable[[dict[str, Any]], None] | None = None) -> tuple[dict[str, Any], Failure | None]:
    """Wait for the run to end: ``(workflow, None)`` if it Succeeded, else with why it failed."""
    workflow = wait_for(backend, name, timeout=timeout, on_update=on_update)
    if (workflow.get("status") or {}).get("phase") == "Succeeded":
        return workflow, None
    return workflow, failure(backend, workflow)


def logs(backend: Backend, name: str, *, step: str | None = None, follow: bool = False,
         tail: int | None = None) -> Iterator[LogLine]:
    """The run's step logs (one step with ``step``; the last ``tail`` lines of each)."""
    return backend.logs(name, step=step, follow=follow, tail=tail)


def list_runs(backend: Backend, *, pipeline: str | None = None, experiment: str | None = None,
              phases: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The namespace's runs, filtered by pipeline, experiment and phases."""
    return backend.list(pipeline=pipeline, experiment=experiment, phases=phases)


def stop(backend: Backend, name: str) -> dict[str, Any]:
    """Stop the run: no new steps; exit handlers still run."""
    return backend.stop(name)


def terminate(backend: Backend, name: str) -> dict[str, Any]:
    """Terminate the run now (exit handlers skipped)."""
    return backend.terminate(name)


def retry(backend: Backend, name: str) -> dict[str, Any]:
    """Re-run a Failed/Error run's failed steps, keeping the succeeded ones."""
    return backend.retry(name)


def delete(backend: Backend, name: str) -> None:
    """Delete the run (and, through owner references, its snapshots)."""
    backend.delete(name)
