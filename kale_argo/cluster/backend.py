"""The one interface both cluster backends implement, and choosing a backend (``--backend``).

- ``argo-server``: the Argo Server's REST API (:mod:`.argo_server`).
- ``kubernetes``: Workflow objects through the Kubernetes API (:mod:`.kubernetes`), for clusters
  that run only Argo's workflow-controller (Kubeflow Pipelines).
- ``auto``: argo-server when one is configured (``--argo-server`` or ``ARGO_SERVER``), else kubernetes.
"""

from __future__ import annotations

import logging
import os
import secrets
import string
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..choices import BACKENDS
from ..errors import ClusterError, ConfigError, NotFoundError
from ..labels import EXPERIMENT_LABEL, PIPELINE_LABEL, SUBMISSION_LABEL
from ..names import label_value
from .failures import Call, HTTPFailure, Transient, cluster_error, connection_error
from .status import StepStatus, find_step, metadata, phase, steps

log = logging.getLogger(__name__)
_SUFFIX = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class LogLine:
    """One line of a step's log."""

    step: str
    text: str


class Backend(Protocol):
    """Create, read, follow and control runs (Argo Workflows) in one namespace."""

    kind: str
    namespace: str
    server: str

    def create(self, workflow: dict[str, Any]) -> dict[str, Any]:
        """Create the Workflow once (a retried create never duplicates it); returns it as stored."""

    def get(self, name: str) -> dict[str, Any]:
        """The Workflow; NotFoundError if there is none."""

    def list(self, *, pipeline: str | None = None, experiment: str | None = None,
             phases: Sequence[str] = ()) -> list[dict[str, Any]]:
        """The namespace's Workflows, filtered by pipeline/experiment labels and phases."""

    def watch(self, name: str, *, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """The Workflow now and after each change (server-side watch/stream, resumed when dropped).

        Ends when the run is done, or when ``timeout`` seconds have passed.
        """

    def logs(self, name: str, *, step: str | None = None, follow: bool = False,
             tail: int | None = None) -> Iterator[LogLine]:
        """The steps' log lines (one step with ``step``; the last ``tail`` lines of each)."""

    def stop(self, name: str) -> dict[str, Any]:
        """Stop: no new steps; exit handlers run."""

    def terminate(self, name: str) -> dict[str, Any]:
        """Terminate: stop now, exit handlers skipped."""

    def retry(self, name: str) -> dict[str, Any]:
        """Re-run a Failed/Error run's failed steps, keeping the succeeded ones."""

    def delete(self, name: str) -> None:
        """Delete the run (and, through owner references, what it owns)."""

    def ui_link(self, name: str) -> str | None:
        """A link to the run in the Argo UI, when known."""


def label_selector(pipeline: str | None = None, experiment: str | None = None) -> str:
    """The label selector for ``list --pipeline/--experiment`` (values made label-safe)."""
    terms = []
    if pipeline:
        terms.append(f"{PIPELINE_LABEL}={label_value(pipeline)}")
    if experiment:
        terms.append(f"{EXPERIMENT_LABEL}={label_value(experiment)}")
    return ",".join(terms)


def filter_phases(workflows: list[dict[str, Any]], phases: Sequence[str]) -> list[dict[str, Any]]:
    """Keep the runs in one of ``phases`` (all when empty)."""
    wanted = {p.capitalize() for p in phases}
    return [w for w in workflows if not wanted or phase(w) in wanted]


def log_steps(workflow: dict[str, Any], step: str | None) -> list[StepStatus]:
    """The steps whose logs ``logs --step`` shows: all, or the one named (NotFoundError otherwise)."""
    chosen = steps(workflow)
    if step is None:
        return chosen
    found = find_step(workflow, step)
    if found is None:
        name = metadata(workflow).get("name")
        raise NotFoundError(f"run {name!r} has no step {step!r}",
                            hint=f"steps: {', '.join(s.name for s in chosen) or 'none yet'}")
    return [found]


def name_run(workflow: dict[str, Any]) -> str:
    """Give ``workflow`` a concrete name for its ``metadata.generateName`` (5 random characters, as
    Kubernetes does) and a unique submission label, so a create whose answer was lost can be
    recognised (:func:`create_once`); returns the name."""
    meta = workflow.setdefault("metadata", {})
    if not meta.get("name"):
        prefix = meta.pop("generateName", None) or "pipeline-"
        meta["name"] = prefix + "".join(secrets.choice(_SUFFIX) for _ in range(5))
    meta.pop("generateName", None)
    meta.setdefault("labels", {}).setdefault(SUBMISSION_LABEL, secrets.token_hex(8))
    return str(meta["name"])


def create_once(create: Callable[[], dict[str, Any]], lookup: Callable[[], dict[str, Any] | None],
                workflow: dict[str, Any], call: Call, *, server: str, attempts: int = 4,
                sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Create ``workflow`` without ever duplicating it.

    The Workflow has a client-chosen name and a unique submission label. A create whose outcome is
    unknown (connection dropped, timeout, 5xx) is never repeated blindly: the run is looked up by
    name first; if it exists with our submission label, that is our run; if it does not exist,
    the create is repeated. A 409 for a run carrying our label is our own earlier attempt.
    """
    token = (metadata(workflow).get("labels") or {}).get(SUBMISSION_LABEL)
    for attempt in range(1, attempts + 1):
        try:
            return create()
        except HTTPFailure as exc:
            if exc.status not in (409, 429, 500, 502, 503, 504):
                raise cluster_error(exc, call, server=server) from None
            failure: Exception = exc
        except Transient as exc:
            if exc.tls:
                raise connection_error(exc, server=server) from None
            failure = exc
        log.debug("create %s: outcome unknown (%s); looking it up before retrying", call.name, failure)
        existing = _lookup_quietly(lookup, sleep)
        if existing is not None:
            labels = metadata(existing).get("labels") or {}
            if token and labels.get(SUBMISSION_LABEL) == token:
                return existing
            raise cluster_error(HTTPFailure(409, "exists"), call, server=server)
        if isinstance(failure, HTTPFailure) and failure.status == 409:
            raise cluster_error(failure, call, server=server)
        if attempt == attempts:
            break
        sleep(min(3.0, 0.25 * 2 ** (attempt - 1)))
    if isinstance(failure, HTTPFailure):
        raise cluster_error(failure, call, server=server)
    raise connection_error(failure, server=server)  # type: ignore[arg-type]


def _lookup_quietly(lookup: Callable[[], dict[str, Any] | None],
                    sleep: Callable[[float], None]) -> dict[str, Any] | None:
    for attempt in range(4):
        try:
            return lookup()
        except (HTTPFailure, Transient) as exc:
            log.debug("lookup failed (%s), retrying", exc)
            sleep(0.2 * 2 ** attempt)
        except ClusterError:
            raise
    return None


def argo_server_configured(argo_server: str | None = None) -> bool:
    return bool(argo_server or os.environ.get("ARGO_SERVER"))


def get_backend(kind: str = "auto", *, namespace: str | None = None, argo_server: str | None = None,
                token: str | None = None, insecure_skip_verify: bool | None = None,
                base_href: str | None = None, context: str | None = None, kubeconfig: str | None = None,
                **_: Any) -> Backend:
    """The backend ``kind`` (``auto`` chooses), configured from arguments and the argo CLI's env."""
    if kind not in BACKENDS:
        raise ConfigError(f"unknown backend {kind!r}", where="--backend",
                          hint=f"one of {', '.join(BACKENDS)}")
    if kind == "auto":
        kind = "argo-server" if argo_server_configured(argo_server) else "kubernetes"
    if kind == "argo-server":
        from .argo_server import ArgoServerBackend

        return ArgoServerBackend.from_settings(argo_server=argo_server, token=token, namespace=namespace,
                                               insecure_skip_verify=insecure_skip_verify, base_href=base_href,
                                               context=context, kubeconfig=kubeconfig)
    from .kube import api_client
    from .kubernetes import KubernetesBackend

    client = api_client(context=context, kubeconfig=kubeconfig)
    return KubernetesBackend(client, namespace or client.kale_namespace)
