"""The kubernetes backend: Workflow objects through the Kubernetes API (no Argo Server needed).

Stop and terminate patch ``spec.shutdown`` (``Stop``/``Terminate``), as the argo CLI does without
a server. Retry follows Kubeflow Pipelines' ``formulateRetryWorkflow`` (Argo's
``FormulateRetryWorkflow`` without ``--restart-successful``/``--node-field-selector``/parameters):
only a Failed/Error run with no Pending/Running node; Succeeded/Skipped nodes are kept; failed
DAG/Steps nodes are reset to Running; every other failed node is dropped and its pod deleted; the
run's phase becomes Running, its message/finishedAt are cleared, its completed label removed, a
terminate deadline (activeDeadlineSeconds 0) is removed. Runs with offloaded node status are refused.

With no Argo Server to ask, the run's UI link comes from a configured Argo UI base URL
(``ui_url``, else ``KALE_ARGO_UI_URL``, e.g. ``https://argo.example.com/argo/``), as
``<base>/workflows/<namespace>/<name>``; without one there is no link.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..errors import ClusterError, ConfigError, KaleArgoError, NotFoundError
from ..labels import (
    ARGO_ARCHIVING_LABEL,
    ARGO_COMPLETED_LABEL,
    ARGO_NODE_NAME_ANNOTATION,
    ARGO_PHASE_LABEL,
    ARGO_WORKFLOW_LABEL,
)
from .backend import LogLine, conflict_error, create_once, filter_phases, label_selector, log_steps
from .failures import TIMEOUT, Call, HTTPFailure, with_retries
from .kube import MERGE_PATCH, WORKFLOW_GROUP, WORKFLOW_VERSION, WORKFLOWS, Kube, kube_errors
from .status import metadata, pod_name
from .watch import watch_run

GROUP, VERSION, PLURAL = WORKFLOW_GROUP, WORKFLOW_VERSION, WORKFLOWS
UI_URL_ENV = "KALE_ARGO_UI_URL"


def ui_base_url(ui_url: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The Argo UI base URL: ``ui_url``, else ``KALE_ARGO_UI_URL``; None when neither is set."""
    env = os.environ if environ is None else environ
    where = "ui_url" if ui_url else UI_URL_ENV
    url = (ui_url or env.get(UI_URL_ENV) or "").strip()
    if not url:
        return None
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1].strip("/")) == 0:
        raise ConfigError(f"the Argo UI URL {url!r} is not an http(s) URL", where=where,
                          hint="give the Argo UI's address, e.g. https://argo.example.com/argo/")
    return url.rstrip("/") + "/"


class KubernetesBackend:
    """Runs as ``argoproj.io/v1alpha1`` Workflows in one namespace, through a kubernetes ApiClient."""

    kind = "kubernetes"

    def __init__(self, api_client: Any, namespace: str, *,
                 sleep: Callable[[float], None] = time.sleep, ui_url: str | None = None) -> None:
        self.api_client = api_client
        self.namespace = namespace
        self.ui_url = ui_base_url(ui_url)
        self.kube = Kube(api_client, sleep=sleep)
        self.server = self.kube.server

    @property
    def sleep(self) -> Callable[[float], None]:
        """How the backend pauses between retries (its Kubernetes access layer's)."""
        return self.kube.sleep

    @sleep.setter
    def sleep(self, value: Callable[[float], None]) -> None:
        self.kube.sleep = value

    def __repr__(self) -> str:
        return f"KubernetesBackend(namespace={self.namespace!r}, host={self.api_client.configuration.host!r})"

    def _call(self, verb: str, name: str | None = None) -> Call:
        return Call(verb, PLURAL, self.namespace, name, GROUP)

    def _custom(self, verb: str, func_name: str, *args: Any, name: str | None = None, safe: bool = True,
                **kwargs: Any) -> Any:
        func = getattr(self.kube.custom, func_name)
        return self.kube.call(self._call(verb, name), func, GROUP, VERSION, self.namespace, PLURAL, *args,
                              safe=safe, **kwargs)

    # -- the interface ----------------------------------------------------------------------------------

    def create(self, workflow: dict[str, Any]) -> dict[str, Any]:
        name = metadata(workflow).get("name")

        def once() -> Any:
            with kube_errors():
                return self.kube.custom.create_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, PLURAL, workflow, _request_timeout=TIMEOUT)

        return create_once(once, lambda: self._maybe_get(name), workflow, self._call("create", name),
                           server=self.server, sleep=self.sleep)

    def _maybe_get(self, name: str | None) -> Any:
        if not name:
            return None
        try:
            with kube_errors():
                return self.kube.custom.get_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, PLURAL, name, _request_timeout=TIMEOUT)
        except HTTPFailure as exc:
            if exc.status == 404:
                return None
            raise

    def get(self, name: str) -> dict[str, Any]:
        return self._custom("get", "get_namespaced_custom_object", name, name=name)

    def list(self, *, pipeline: str | None = None, experiment: str | None = None,
             phases: Sequence[str] = (), selector: str | None = None,
             all_namespaces: bool = False) -> list[dict[str, Any]]:
        chosen = label_selector(pipeline, experiment, selector)
        if all_namespaces:
            answer = self.kube.call(Call("list", PLURAL, None, None, GROUP),
                                    self.kube.custom.list_cluster_custom_object, GROUP, VERSION, PLURAL,
                                    label_selector=chosen)
        else:
            answer = self._custom("list", "list_namespaced_custom_object", label_selector=chosen)
        return filter_phases(answer.get("items") or [], phases)

    def watch(self, name: str, *, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        def events(version: str | None, seconds: int) -> Iterator[dict[str, Any]]:
            return self.kube.watch(self._call("watch", name), self.kube.custom.list_namespaced_custom_object,
                                   GROUP, VERSION, self.namespace, PLURAL, seconds=seconds,
                                   resource_version=version, field_selector=f"metadata.name={name}")

        return watch_run(name, self.namespace, get=lambda: self.get(name), events=events,
                         server=self.server, timeout=timeout, sleep=self.sleep)

    def logs(self, name: str, *, step: str | None = None, follow: bool = False,
             tail: int | None = None, since: int | None = None,
             timestamps: bool = False) -> Iterator[LogLine]:
        chosen = log_steps(self.get(name), step)
        pods = self._pod_names(name)
        for status in chosen:
            pod = pods.get(status.node_id) or status.pod
            call = Call("get", "pods/log", self.namespace, pod, "")
            for line in self.kube.pod_log(call, pod, self.namespace, follow=follow, tail=tail, since=since,
                                          timestamps=timestamps):
                yield LogLine(status.name, line)

    def _pod_names(self, name: str) -> dict[str, str]:
        """node id -> pod name, from the run's pods (their node-name annotations); empty if not allowed."""
        try:
            pods = self.kube.call(Call("list", "pods", self.namespace, None, ""),
                                  self.kube.core.list_namespaced_pod, self.namespace,
                                  label_selector=f"{ARGO_WORKFLOW_LABEL}={name}")
        except KaleArgoError:  # best effort: Argo's pod-name rule is the fallback
            return {}
        workflow_nodes: dict[str, str] = {}
        for pod in pods.get("items") or []:
            meta = pod.get("metadata") or {}
            annotations = meta.get("annotations") or {}
            if ARGO_NODE_NAME_ANNOTATION in annotations:
                workflow_nodes[annotations[ARGO_NODE_NAME_ANNOTATION]] = str(meta.get("name"))
        result = {}
        nodes = (self.get(name).get("status") or {}).get("nodes") or {} if workflow_nodes else {}
        for node_id, node in nodes.items():
            if node.get("name") in workflow_nodes:
                result[node_id] = workflow_nodes[node["name"]]
        return result

    def _patch(self, name: str, patch: dict[str, Any], verb: str = "patch") -> dict[str, Any]:
        return self._custom(verb, "patch_namespaced_custom_object", name, patch, name=name,
                            _content_type=MERGE_PATCH)

    def stop(self, name: str) -> dict[str, Any]:
        return self._patch(name, {"spec": {"shutdown": "Stop"}})

    def terminate(self, name: str) -> dict[str, Any]:
        return self._patch(name, {"spec": {"shutdown": "Terminate"}})

    def retry(self, name: str) -> dict[str, Any]:
        workflow = self.get(name)
        patch, pods = formulate_retry(workflow)
        for pod in pods:
            with contextlib.suppress(NotFoundError):
                self.kube.call(Call("delete", "pods", self.namespace, pod, ""),
                               self.kube.core.delete_namespaced_pod, pod, self.namespace)
        return self._patch(name, patch)

    def delete(self, name: str) -> None:
        self._custom("delete", "delete_namespaced_custom_object", name, name=name,
                     propagation_policy="Background")

    def ui_link(self, name: str) -> str | None:
        """The run's page in the configured Argo UI (see the module doc), else None."""
        return f"{self.ui_url}workflows/{self.namespace}/{name}" if self.ui_url else None

    # -- CronWorkflows and WorkflowTemplates -------------------------------------------------------------

    def _object(self, verb: str, plural: str, func_name: str, *args: Any, name: str | None = None,
                safe: bool = True, **kwargs: Any) -> Any:
        func = getattr(self.kube.custom, func_name)
        return self.kube.call(Call(verb, plural, self.namespace, name, GROUP), func, GROUP, VERSION,
                              self.namespace, plural, *args, safe=safe, **kwargs)

    def create_object(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        name = metadata(body).get("name")

        def once() -> Any:
            with kube_errors():
                return self.kube.custom.create_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, plural, body, _request_timeout=TIMEOUT)

        def lookup() -> Any:
            try:
                with kube_errors():
                    return self.kube.custom.get_namespaced_custom_object(
                        GROUP, VERSION, self.namespace, plural, str(name), _request_timeout=TIMEOUT)
            except HTTPFailure as exc:
                if exc.status == 404:
                    return None
                raise

        return create_once(once, lookup, body, Call("create", plural, self.namespace, name, GROUP),
                           server=self.server, sleep=self.sleep)

    def get_object(self, plural: str, name: str) -> dict[str, Any]:
        return self._object("get", plural, "get_namespaced_custom_object", name, name=name)

    def list_objects(self, plural: str, *, selector: str | None = None) -> builtins.list[dict[str, Any]]:
        options: dict[str, Any] = {"label_selector": selector} if selector else {}
        answer = self._object("list", plural, "list_namespaced_custom_object", **options)
        return list(answer.get("items") or [])

    def replace_object(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        name = str(metadata(body).get("name"))
        call = Call("update", plural, self.namespace, name, GROUP)
        func = self.kube.custom.replace_namespaced_custom_object

        def put() -> Any:
            try:
                with kube_errors():
                    answer = func(GROUP, VERSION, self.namespace, plural, name, body, _preload_content=False,
                                  _request_timeout=TIMEOUT)
            except HTTPFailure as exc:
                if exc.status == 409:
                    raise conflict_error(call) from None
                raise
            return json.loads(getattr(answer, "data", None) or b"{}")

        return with_retries(put, call, server=self.server, errors=kube_errors, sleep=self.sleep)

    def delete_object(self, plural: str, name: str) -> None:
        self._object("delete", plural, "delete_namespaced_custom_object", name, name=name,
                     propagation_policy="Background")

    def suspend_schedule(self, name: str, suspend: bool) -> dict[str, Any]:
        return self._object("patch", "cronworkflows", "patch_namespaced_custom_object", name,
                            {"spec": {"suspend": suspend}}, name=name, _content_type=MERGE_PATCH)


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
                                ARGO_ARCHIVING_LABEL: None}},
        "status": {"phase": "Running", "message": None, "finishedAt": None, "nodes": nodes},
    }
    if (workflow.get("spec") or {}).get("activeDeadlineSeconds") == 0:
        patch["spec"] = {"activeDeadlineSeconds": None}
    return patch, pods
