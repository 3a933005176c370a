"""The one interface both cluster backends implement, and choosing a backend (``--backend``).

- ``argo-server``: the Argo Server's REST API (:mod:`.argo_server`).
- ``kubernetes``: Workflow objects through the Kubernetes API (:mod:`.kubernetes`), for clusters
  that run only Argo's workflow-controller (Kubeflow Pipelines).
- ``auto``: argo-server when one is configured (``--argo-server`` or ``ARGO_SERVER``), else kubernetes.
"""

from __future__ import annotations

import builtins
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
from ..labels import ARGO_INSTANCEID_LABEL, EXPERIMENT_LABEL, PIPELINE_LABEL, SUBMISSION_LABEL
from ..names import label_value
from . import failures
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
             phases: Sequence[str] = (), selector: str | None = None,
             all_namespaces: bool = False) -> list[dict[str, Any]]:
        """The namespace's (or every namespace's) Workflows, filtered by pipeline/experiment labels,
        a label ``selector`` (``-l``) and phases; only this controller instance's (ARGO_INSTANCEID)."""

    def watch(self, name: str, *, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """The Workflow now and after each change (server-side watch/stream, resumed when dropped).

        Ends when the run is done, or when ``timeout`` seconds have passed.
        """

    def logs(self, name: str, *, step: str | None = None, follow: bool = False,
             tail: int | None = None, since: int | None = None,
             timestamps: bool = False) -> Iterator[LogLine]:
        """The steps' log lines (one step with ``step``; the last ``tail`` lines of each, those of
        the last ``since`` seconds; with ``timestamps`` each line starts with its RFC 3339 time)."""

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

    # CronWorkflows and WorkflowTemplates (``plural``: one of :data:`OBJECT_KINDS`)
    def create_object(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create the object once (a retried create never duplicates it); returns it as stored."""

    def get_object(self, plural: str, name: str) -> dict[str, Any]:
        """The object; NotFoundError if there is none."""

    def list_objects(self, plural: str, *, selector: str | None = None) -> builtins.list[dict[str, Any]]:
        """The namespace's objects of ``plural`` matching the label ``selector``."""

    def replace_object(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        """Replace the object (``body.metadata.resourceVersion`` is the version replaced: a 409
        ClusterError if it changed since)."""

    def delete_object(self, plural: str, name: str) -> None:
        """Delete the object (and, through owner references, what it owns)."""

    def suspend_schedule(self, name: str, suspend: bool) -> dict[str, Any]:
        """Suspend (True) or resume (False) a CronWorkflow; returns it."""


#: plural -> (Argo Server path, the create/update request's field, kind)
OBJECT_KINDS = {"cronworkflows": ("cron-workflows", "cronWorkflow", "CronWorkflow"),
                "workflowtemplates": ("workflow-templates", "template", "WorkflowTemplate")}


def conflict_error(call: Call) -> ClusterError:
    """The one line for a replace refused because the object changed since it was read."""
    return ClusterError(f"{call.target()} was changed by someone else while it was being updated",
                        hint="run the command again")


def instance_id() -> str | None:
    """The Argo controller instance this client works with (``ARGO_INSTANCEID``), if any."""
    return os.environ.get("ARGO_INSTANCEID", "").strip() or None


def label_selector(pipeline: str | None = None, experiment: str | None = None,
                   selector: str | None = None) -> str:
    """The label selector for ``list --pipeline/--experiment/-l`` (values made label-safe), limited
    to this controller instance's runs as the argo CLI does: ``controller-instanceid=ID`` with
    ARGO_INSTANCEID, else runs without that label."""
    terms = []
    if pipeline:
        terms.append(f"{PIPELINE_LABEL}={label_value(pipeline)}")
    if experiment:
        terms.append(f"{EXPERIMENT_LABEL}={label_value(experiment)}")
    if selector and selector.strip():
        terms.append(selector.strip())
    instance = instance_id()
    terms.append(f"{ARGO_INSTANCEID_LABEL}={instance}" if instance else f"!{ARGO_INSTANCEID_LABEL}")
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
    labels = meta.setdefault("labels", {})
    labels.setdefault(SUBMISSION_LABEL, secrets.token_hex(8))
    instance = instance_id()
    if instance:
        labels[ARGO_INSTANCEID_LABEL] = instance
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
        delay = min(3.0, 0.25 * 2 ** (attempt - 1))
        failures.on_retry(delay, attempt, attempts, f"create {call.target()} on {server}: outcome unknown "
                          f"({failure}); it does not exist, so it is created again")
        sleep(delay)
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
    check_namespace(namespace, "--namespace")
    if not namespace and os.environ.get("ARGO_NAMESPACE"):
        check_namespace(os.environ["ARGO_NAMESPACE"], "ARGO_NAMESPACE")
    chosen = kind
    if kind == "auto":
        kind = "argo-server" if argo_server_configured(argo_server) else "kubernetes"
    if kind == "argo-server":
        from .argo_server import ArgoServerBackend

        return ArgoServerBackend.from_settings(argo_server=argo_server, token=token, namespace=namespace,
                                               insecure_skip_verify=insecure_skip_verify, base_href=base_href,
                                               context=context, kubeconfig=kubeconfig)
    from .kube import api_client
    from .kubernetes import KubernetesBackend

    try:
        client = api_client(context=context, kubeconfig=kubeconfig)
    except ConfigError as exc:
        if chosen != "auto":
            raise
        raise ConfigError(exc.message, where=exc.where,
                          hint=f"{exc.hint}; or, with no kubeconfig, point at an Argo Server with "
                               "--argo-server URL or ARGO_SERVER (runs are read through the Kubernetes "
                               "API only when no Argo Server is configured)") from None
    return KubernetesBackend(client, namespace or client.kale_namespace)


def check_namespace(namespace: str | None, where: str) -> None:
    """A ConfigError unless ``namespace`` (from ``where``: a flag or ARGO_NAMESPACE) is a valid name."""
    from ..names import is_dns1123_label

    if namespace is not None and not is_dns1123_label(namespace):
        raise ConfigError(f"namespace {namespace!r} is not a valid Kubernetes namespace", where=where,
                          hint="lower-case letters, digits and '-', at most 63, e.g. kubeflow-user")
