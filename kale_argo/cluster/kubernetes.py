"""The kubernetes backend: Workflow objects through the Kubernetes API (no Argo Server needed).

Stop and terminate patch ``spec.shutdown`` (``Stop``/``Terminate``), as the argo CLI does without
a server. Retry follows Kubeflow Pipelines' ``formulateRetryWorkflow`` (Argo's
``FormulateRetryWorkflow`` without ``--restart-successful``/``--node-field-selector``/parameters):
only a Failed/Error run with no Pending/Running node; Succeeded/Skipped nodes are kept; failed
DAG/Steps nodes are reset to Running; every other failed node is dropped and its pod deleted; the
run's phase becomes Running, its message/finishedAt are cleared, its completed label removed, a
terminate deadline (activeDeadlineSeconds 0) is removed. Runs with offloaded node status are refused.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..errors import ClusterError, NotFoundError
from .backend import LogLine, create_once, filter_phases, label_selector, log_steps
from .labels import ARGO_COMPLETED_LABEL, ARGO_NODE_NAME_ANNOTATION, ARGO_PHASE_LABEL, ARGO_WORKFLOW_LABEL
from .redact import redact
from .runview import is_done, metadata, pod_name
from .transport import (
    KUBE_SERVER,
    TIMEOUT,
    WATCH_WINDOW,
    Call,
    HTTPFailure,
    Transient,
    cluster_error,
    connection_error,
    is_tls_error,
    translated,
    with_retries,
)

log = logging.getLogger(__name__)
GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "workflows"
MERGE_PATCH = "application/merge-patch+json"


def translate(fn: Callable[[], Any]) -> Any:
    """Run a kubernetes-client call, turning its exceptions into HTTPFailure / Transient."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    try:
        return fn()
    except ApiException as exc:
        if not exc.status:
            raise Transient(redact(exc.reason or "connection failed")) from None
        message = exc.reason or ""
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(exc.body or "{}").get("message") or message
        raise HTTPFailure(exc.status, message) from None
    except urllib3.exceptions.MaxRetryError as exc:
        raise Transient(_reason(exc.reason), tls=is_tls_error(exc),
                        timeout=isinstance(exc.reason, urllib3.exceptions.TimeoutError)) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise Transient(_reason(exc), tls=is_tls_error(exc),
                        timeout=isinstance(exc, (urllib3.exceptions.TimeoutError, TimeoutError))) from None


def _reason(exc: BaseException | None) -> str:
    text = redact(exc).strip().splitlines() if exc is not None else []
    return (text[0] if text else type(exc).__name__)[:300]


class KubernetesBackend:
    """Runs as ``argoproj.io/v1alpha1`` Workflows in one namespace, through a kubernetes ApiClient."""

    kind = "kubernetes"

    def __init__(self, api_client: Any, namespace: str, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        from kubernetes import client

        self.api_client = api_client
        self.namespace = namespace
        self.server = f"{KUBE_SERVER}{api_client.configuration.host}"
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"KubernetesBackend(namespace={self.namespace!r}, host={self.api_client.configuration.host!r})"

    def _call(self, verb: str, name: str | None = None, resource: str = PLURAL, group: str = GROUP) -> Call:
        return Call(verb, resource, self.namespace, name, group)

    def _retry(self, fn: Callable[[], Any], call: Call) -> Any:
        return with_retries(lambda: translate(fn), call, server=self.server, sleep=self.sleep)

    # -- the interface ----------------------------------------------------------------------------------

    def create(self, workflow: dict[str, Any]) -> dict[str, Any]:
        name = metadata(workflow).get("name")
        call = self._call("create", name)
        return create_once(
            lambda: translate(lambda: self.custom.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, workflow, _request_timeout=TIMEOUT)),
            lambda: self._maybe_get(name), workflow, call, server=self.server, sleep=self.sleep)

    def _maybe_get(self, name: str | None) -> dict[str, Any] | None:
        if not name:
            return None
        try:
            return translate(lambda: self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name, _request_timeout=TIMEOUT))
        except HTTPFailure as exc:
            if exc.status == 404:
                return None
            raise

    def get(self, name: str) -> dict[str, Any]:
        return self._retry(lambda: self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, _request_timeout=TIMEOUT), self._call("get", name))

    def list(self, *, pipeline: str | None = None, experiment: str | None = None,
             phases: Sequence[str] = ()) -> list[dict[str, Any]]:
        selector = label_selector(pipeline, experiment)
        answer = self._retry(lambda: self.custom.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, label_selector=selector, _request_timeout=TIMEOUT),
            self._call("list"))
        return filter_phases(answer.get("items") or [], phases)

    def watch(self, name: str, *, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        from kubernetes import watch

        deadline = None if timeout is None else time.monotonic() + timeout
        workflow = self.get(name)
        yield workflow
        version = metadata(workflow).get("resourceVersion")
        failures = 0
        while not is_done(workflow):
            remaining = WATCH_WINDOW if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return
            window = max(1, min(WATCH_WINDOW, int(remaining + 0.999)))
            stream = watch.Watch().stream(
                self.custom.list_namespaced_custom_object, GROUP, VERSION, self.namespace, PLURAL,
                field_selector=f"metadata.name={name}", resource_version=version, timeout_seconds=window,
                _request_timeout=(TIMEOUT[0], window + 10))
            try:
                for event in translated(stream, translate):
                    failures = 0
                    obj = event.get("raw_object") or event.get("object")
                    if event.get("type") == "DELETED":
                        raise NotFoundError(f"run {name!r} was deleted in namespace {self.namespace!r}")
                    version = metadata(obj).get("resourceVersion") or version
                    workflow = obj
                    yield workflow
                    if is_done(workflow):
                        return
            except HTTPFailure as exc:
                if exc.status != 410 and exc.status < 500:
                    raise cluster_error(exc, self._call("watch", name), server=self.server) from None
                log.debug("watch %s: %s; resuming from a fresh read", name, exc)
                workflow = self.get(name)
                version = metadata(workflow).get("resourceVersion")
                yield workflow
            except Transient as exc:
                failures += 1
                if exc.tls or failures > 5:
                    raise connection_error(exc, server=self.server) from None
                log.debug("watch %s dropped (%s); resuming from %s", name, exc, version)
                self.sleep(min(3.0, 0.2 * 2 ** failures))

    def logs(self, name: str, *, step: str | None = None, follow: bool = False,
             tail: int | None = None) -> Iterator[LogLine]:
        chosen = log_steps(self.get(name), step)
        pods = self._pod_names(name)
        for status in chosen:
            pod = pods.get(status.node_id) or status.pod
            yield from self._pod_log(pod, status.name, follow=follow, tail=tail)

    def _pod_names(self, name: str) -> dict[str, str]:
        """node id -> pod name, from the run's pods (their node-name annotations); empty if not allowed."""
        try:
            pods = translate(lambda: self.core.list_namespaced_pod(
                self.namespace, label_selector=f"{ARGO_WORKFLOW_LABEL}={name}", _request_timeout=TIMEOUT))
        except (HTTPFailure, Transient):
            return {}
        workflow_nodes = {}
        for pod in pods.items:
            annotations = pod.metadata.annotations or {}
            if ARGO_NODE_NAME_ANNOTATION in annotations:
                workflow_nodes[annotations[ARGO_NODE_NAME_ANNOTATION]] = pod.metadata.name
        result = {}
        nodes = (self.get(name).get("status") or {}).get("nodes") or {} if workflow_nodes else {}
        for node_id, node in nodes.items():
            if node.get("name") in workflow_nodes:
                result[node_id] = workflow_nodes[node["name"]]
        return result

    def _pod_log(self, pod: str, step: str, *, follow: bool, tail: int | None) -> Iterator[LogLine]:
        call = Call("get", "pods/log", self.namespace, pod, "")
        kwargs: dict[str, Any] = {"container": "main", "follow": follow, "_preload_content": False}
        if tail is not None:
            kwargs["tail_lines"] = tail
        timeout: Any = (TIMEOUT[0], None) if follow else TIMEOUT
        response = self._retry(lambda: self.core.read_namespaced_pod_log(
            pod, self.namespace, _request_timeout=timeout, **kwargs), call)
        try:
            buffer = b""
            for chunk in response.stream(4096, decode_content=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    yield LogLine(step, line.decode(errors="replace"))
            if buffer:
                yield LogLine(step, buffer.decode(errors="replace"))
        finally:
            response.release_conn()

    def _patch(self, name: str, patch: dict[str, Any], verb: str = "patch") -> dict[str, Any]:
        return self._retry(lambda: self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, patch, _content_type=MERGE_PATCH,
            _request_timeout=TIMEOUT), self._call(verb, name))

    def stop(self, name: str) -> dict[str, Any]:
        return self._patch(name, {"spec": {"shutdown": "Stop"}})

    def terminate(self, name: str) -> dict[str, Any]:
        return self._patch(name, {"spec": {"shutdown": "Terminate"}})

    def retry(self, name: str) -> dict[str, Any]:
        workflow = self.get(name)
        patch, pods = formulate_retry(workflow)
        for pod in pods:
            with contextlib.suppress(NotFoundError):
                call = Call("delete", "pods", self.namespace, pod, "")
                self._retry(functools.partial(self.core.delete_namespaced_pod, pod, self.namespace,
                                              _request_timeout=TIMEOUT), call)
        return self._patch(name, patch)

    def delete(self, name: str) -> None:
        self._retry(lambda: self.custom.delete_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, propagation_policy="Background",
            _request_timeout=TIMEOUT), self._call("delete", name))

    def ui_link(self, name: str) -> str | None:
        return None


def formulate_retry(workflow: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The merge patch that retries ``workflow``, and the pods to delete first (see the module doc)."""
    name = metadata(workflow).get("name", "")
    status = workflow.get("status") or {}
    if status.get("phase") not in ("Failed", "Error"):
        raise ClusterError(f"run {name!r} is {status.get('phase') or 'Pending'}; only a Failed or Error run "
                           "can be retried", hint="wait for it to finish, or stop it first")
    if status.get("offloadNodeStatusVersion"):
        raise ClusterError(f"run {name!r} has offloaded node status, which the kubernetes backend cannot "
                           "retry", hint="use --backend argo-server")
    on_exit = f"{name}.onExit"
    nodes: dict[str, Any] = {}
    pods: list[str] = []
    for node_id, node in (status.get("nodes") or {}).items():
        node_phase = node.get("phase")
        exit_node = str(node.get("name", "")).startswith(on_exit)
        if node_phase in ("Succeeded", "Skipped") and not exit_node:
            continue  # kept as it is
        if node_phase in ("Error", "Failed", "Omitted") or exit_node:
            if not exit_node and node.get("type") in ("DAG", "Steps"):
                nodes[node_id] = {"phase": "Running", "message": None, "finishedAt": None}
                continue
            nodes[node_id] = None  # as if the node never existed
        else:
            raise ClusterError(f"run {name!r} cannot be retried: node {node.get('displayName') or node_id} "
                               f"is {node_phase}", hint="wait until no step is Pending or Running")
        if node.get("type") == "Pod":
            pods.append(pod_name(workflow, {"id": node_id, **node}))
    patch: dict[str, Any] = {
        "metadata": {"labels": {ARGO_COMPLETED_LABEL: None, ARGO_PHASE_LABEL: "Running",
                                "workflows.argoproj.io/workflow-archiving-status": None}},
        "status": {"phase": "Running", "message": None, "finishedAt": None, "nodes": nodes},
    }
    if (workflow.get("spec") or {}).get("activeDeadlineSeconds") == 0:
        patch["spec"] = {"activeDeadlineSeconds": None}
    return patch, pods
