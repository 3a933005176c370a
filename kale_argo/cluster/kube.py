"""The one access layer to the Kubernetes API, for the kubernetes backend and the workspace.

- Connecting: :func:`api_client` returns a ready ``kubernetes.client.ApiClient`` from a kubeconfig
  (with a context) or the pod's service account; its default namespace (the context's, or the
  service account's namespace file, else ``default``) is on ``client.kale_namespace``.
- Errors: :func:`kube_errors` maps the client's exceptions, once, into the cluster layer's
  neutral failures (:mod:`.failures`).
- Calls: :class:`Kube` reads and writes objects as plain dicts (the JSON the server sent), safe
  calls retried with backoff, every failure one line naming the verb and resource (a 403 says
  which permission is missing where).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import ClusterError, ConfigError, NotFoundError
from .failures import (
    KUBE_SERVER,
    RETRY_STATUSES,
    TIMEOUT,
    Call,
    HTTPFailure,
    Transient,
    cluster_error,
    is_tls_error,
    mapped,
    with_retries,
)
from .redact import redact

WORKFLOW_GROUP, WORKFLOW_VERSION, WORKFLOWS = "argoproj.io", "v1alpha1", "workflows"
SNAPSHOT_GROUP, SNAPSHOT_VERSION = "snapshot.storage.k8s.io", "v1"
MERGE_PATCH = "application/merge-patch+json"
RETRY_PAUSE = 1.0  # seconds before watching snapshots again after a 5xx/410 answer
Obj = dict[str, Any]

#: Where Kubernetes mounts a pod's service-account token, CA and namespace (overridable for tests).
SERVICE_ACCOUNT_DIR_ENV = "KALE_ARGO_SERVICEACCOUNT_DIR"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def service_account_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The service-account directory (``$KALE_ARGO_SERVICEACCOUNT_DIR`` overrides the standard one);
    ``environ`` defaults to the process's."""
    env = os.environ if environ is None else environ
    return Path(env.get(SERVICE_ACCOUNT_DIR_ENV) or SERVICE_ACCOUNT_DIR)


def in_cluster() -> bool:
    """True inside a pod with a mounted service-account token."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (service_account_dir() / "token").is_file()


def service_account_namespace() -> str | None:
    """The pod's namespace from the service-account namespace file, or None outside a pod."""
    try:
        return (service_account_dir() / "namespace").read_text().strip() or None
    except OSError:
        return None


def _kubeconfig_path(kubeconfig: str | None) -> str:
    return kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


def _kubeconfig_exists(path: str) -> bool:
    return any(Path(p).expanduser().is_file() for p in path.split(os.pathsep) if p)


def _use_kubeconfig(context: str | None, kubeconfig: str | None) -> bool:
    if context or kubeconfig or os.environ.get("KUBECONFIG"):
        return True
    return not in_cluster() and _kubeconfig_exists(_kubeconfig_path(None))


def _context_namespace(context: str | None, kubeconfig: str | None) -> str | None:
    from kubernetes import config

    contexts, current = config.list_kube_config_contexts(config_file=_kubeconfig_path(kubeconfig))
    chosen = current
    if context:
        chosen = next((c for c in contexts if c.get("name") == context), None)
    if not chosen:
        return None
    return (chosen.get("context") or {}).get("namespace") or None


def default_namespace(context: str | None = None, kubeconfig: str | None = None) -> str:
    """The namespace a command uses when none is given: context's, service account's, or default."""
    if _use_kubeconfig(context, kubeconfig):
        try:
            namespace = _context_namespace(context, kubeconfig)
        except Exception:  # unreadable kubeconfig: api_client() reports it
            namespace = None
        return namespace or "default"
    return service_account_namespace() or "default"


def api_client(context: str | None = None, kubeconfig: str | None = None) -> Any:
    """A ``kubernetes.client.ApiClient`` from kubeconfig (``context``) or the pod's service account.

    Explicit ``kubeconfig``/``context`` (or ``$KUBECONFIG``) use the kubeconfig; inside a pod without
    one, the in-cluster service account is used. Raises ConfigError (exit 2) when neither works.
    The client's ``kale_namespace`` attribute holds :func:`default_namespace`.
    """
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    if _use_kubeconfig(context, kubeconfig):
        path = _kubeconfig_path(kubeconfig)
        if not _kubeconfig_exists(path):
            raise ConfigError(f"kubeconfig {path} does not exist", where="--kubeconfig",
                              hint="pass --kubeconfig FILE, set KUBECONFIG, or run inside a pod")
        try:
            config.load_kube_config(config_file=path, context=context,
                                    client_configuration=configuration, persist_config=False)
        except ConfigException as exc:
            where = "--context" if context else "--kubeconfig"
            raise ConfigError(f"cannot use kubeconfig {path}: {_first_line(exc)}", where=where,
                              hint="check `kubectl config get-contexts`") from None
    else:
        sa_dir = service_account_dir()
        try:
            config.incluster_config.InClusterConfigLoader(
                token_filename=str(sa_dir / "token"), cert_filename=str(sa_dir / "ca.crt"),
            ).load_and_set(configuration)
        except ConfigException as exc:
            raise ConfigError(f"no kubeconfig and no in-cluster service account: {_first_line(exc)}",
                              where="--kubeconfig",
                              hint="pass --kubeconfig FILE or --context NAME, or set KUBECONFIG") from None
    from .redact import register_secret

    for value in (configuration.api_key or {}).values():
        register_secret(value)
    api = client.ApiClient(configuration)
    api.kale_namespace = default_namespace(context, kubeconfig)  # type: ignore[attr-defined]
    return api


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@contextlib.contextmanager
def kube_errors() -> Iterator[None]:
    """Map the kubernetes client's exceptions to :class:`HTTPFailure` / :class:`Transient`."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    try:
        yield
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


def _decode(response: Any) -> Any:
    data = getattr(response, "data", response)
    if isinstance(data, (bytes, bytearray)):
        return json.loads(data or b"{}")
    return data


def owner_reference(workflow: Obj) -> Obj:
    """An ownerReference to a created Workflow, CronWorkflow or WorkflowTemplate (its ``kind``;
    Workflow when absent), so deleting it deletes what it owns."""
    meta = workflow.get("metadata") or {}
    kind = str(workflow.get("kind") or "Workflow")
    if not meta.get("name") or not meta.get("uid"):
        raise ClusterError(f"the created {kind} has no name or uid to own what it needs")
    return {"apiVersion": f"{WORKFLOW_GROUP}/{WORKFLOW_VERSION}", "kind": kind, "name": meta["name"],
            "uid": meta["uid"], "blockOwnerDeletion": False, "controller": False}


class Kube:
    """Reads and writes of Kubernetes objects as dicts, on one ``ApiClient``."""

    def __init__(self, api_client: Any, *, sleep: Callable[[float], None] = time.sleep) -> None:
        from kubernetes import client

        self.api_client = api_client
        self.server = f"{KUBE_SERVER}{api_client.configuration.host}"
        self.sleep = sleep
        self.core = client.CoreV1Api(api_client)
        self.storage = client.StorageV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.auth = client.AuthorizationV1Api(api_client)
        self.snapshot_api = True  # False once listing VolumeSnapshotClasses answered 404

    def call(self, call: Call, func: Callable[..., Any], *args: Any, safe: bool = True, **kwargs: Any) -> Any:
        """``func(*args, **kwargs)`` as JSON; failures become one-line ClusterErrors about ``call``."""
        def once() -> Any:
            return _decode(func(*args, _preload_content=False, _request_timeout=TIMEOUT, **kwargs))

        return with_retries(once, call, server=self.server, errors=kube_errors, safe=safe, sleep=self.sleep)

    def get(self, call: Call, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Obj | None:
        """Like :meth:`call`, but None when the object does not exist."""
        try:
            return self.call(call, func, *args, **kwargs)
        except NotFoundError:
            return None

    # core objects
    def pod(self, namespace: str, name: str) -> Obj | None:
        return self.get(Call("get", "pods", namespace, name, ""), self.core.read_namespaced_pod,
                        name, namespace)

    def claim(self, namespace: str, name: str) -> Obj | None:
        return self.get(Call("get", "persistentvolumeclaims", namespace, name, ""),
                        self.core.read_namespaced_persistent_volume_claim, name, namespace)

    def claims(self, namespace: str) -> list[Obj]:
        answer = self.call(Call("list", "persistentvolumeclaims", namespace, None, ""),
                           self.core.list_namespaced_persistent_volume_claim, namespace)
        return list(answer.get("items") or [])

    def volume(self, name: str) -> Obj | None:
        return self.get(Call("get", "persistentvolumes", None, name, ""),
                        self.core.read_persistent_volume, name)

    def storage_class(self, name: str) -> Obj | None:
        return self.get(Call("get", "storageclasses", None, name, "storage.k8s.io"),
                        self.storage.read_storage_class, name)

    def storage_classes(self) -> list[Obj]:
        answer = self.call(Call("list", "storageclasses", None, None, "storage.k8s.io"),
                           self.storage.list_storage_class)
        return list(answer.get("items") or [])

    def events(self, namespace: str, kind: str, name: str) -> list[Obj]:
        """Events about one object, oldest first (filtered here too: some servers ignore selectors)."""
        selector = f"involvedObject.kind={kind},involvedObject.name={name}"
        answer = self.call(Call("list", "events", namespace, None, ""), self.core.list_namespaced_event,
                           namespace, field_selector=selector)
        items = [e for e in answer.get("items") or []
                 if (e.get("involvedObject") or {}).get("name") == name
                 and (e.get("involvedObject") or {}).get("kind", kind) == kind]
        return sorted(items, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))

    # snapshots
    def _snap(self, verb: str, namespace: str | None, name: str | None = None,
              plural: str = "volumesnapshots") -> Call:
        return Call(verb, plural, namespace, name, SNAPSHOT_GROUP)

    def snapshot_classes(self) -> list[Obj]:
        """All VolumeSnapshotClasses; empty when the snapshot CRDs are not installed."""
        try:
            answer = self.call(self._snap("list", None, plural="volumesnapshotclasses"),
                               self.custom.list_cluster_custom_object, SNAPSHOT_GROUP, SNAPSHOT_VERSION,
                               "volumesnapshotclasses")
        except NotFoundError:
            self.snapshot_api = False
            return []
        return list(answer.get("items") or [])

    def snapshot(self, namespace: str, name: str) -> Obj | None:
        return self.get(self._snap("get", namespace, name), self.custom.get_namespaced_custom_object,
                        SNAPSHOT_GROUP, SNAPSHOT_VERSION, namespace, "volumesnapshots", name)

    def create_snapshot(self, namespace: str, body: Obj) -> Obj:
        """Create a VolumeSnapshot (never repeated: a lost answer surfaces as an error)."""
        return self.call(self._snap("create", namespace, body["metadata"]["name"]),
                         self.custom.create_namespaced_custom_object,
                         SNAPSHOT_GROUP, SNAPSHOT_VERSION, namespace, "volumesnapshots", body, safe=False)

    def delete_snapshot(self, namespace: str, name: str) -> bool:
        """Delete a VolumeSnapshot; False if it was already gone."""
        return self.get(self._snap("delete", namespace, name), self.custom.delete_namespaced_custom_object,
                        SNAPSHOT_GROUP, SNAPSHOT_VERSION, namespace, "volumesnapshots", name) is not None

    def patch_snapshot(self, namespace: str, name: str, patch: Obj) -> Obj:
        return self.call(self._snap("patch", namespace, name), self.custom.patch_namespaced_custom_object,
                         SNAPSHOT_GROUP, SNAPSHOT_VERSION, namespace, "volumesnapshots", name, patch,
                         _content_type=MERGE_PATCH)

    def watch(self, call: Call, func: Callable[..., Any], *args: Any, seconds: int,
              resource_version: str | None = None, **kwargs: Any) -> Iterator[Obj]:
        """Watch events (``{"type", "object"}``) of a list call for at most about ``seconds``,
        from ``resource_version``. Failures are mapped (:func:`kube_errors`): a dropped stream or
        a read timeout is a Transient, an error answer (a 410 included) an HTTPFailure; the
        resumable loop (:mod:`.watch`) or the caller decides what to do."""
        from kubernetes import watch

        w = watch.Watch()
        options = {"resource_version": resource_version} if resource_version else {}
        # deserialize=True: the client then turns an ERROR event into an ApiException (with
        # deserialize=False it fails on them); custom objects stay plain dicts either way.
        stream = w.stream(func, *args, timeout_seconds=seconds,
                          _request_timeout=(TIMEOUT[0], seconds + 10), **options, **kwargs)
        try:
            for event in mapped(stream, kube_errors):
                yield {"type": event.get("type"), "object": event.get("raw_object") or event.get("object")}
        finally:
            w.stop()

    def watch_snapshots(self, namespace: str, label_selector: str, seconds: int) -> Iterator[Obj]:
        """Watch events of VolumeSnapshots for at most about ``seconds``; a 5xx or 410 answer ends
        the stream after a pause (the caller watches again), a dropped stream raises Transient,
        any other error answer the one-line ClusterError."""
        call = self._snap("watch", namespace)
        try:
            yield from self.watch(call, self.custom.list_namespaced_custom_object, SNAPSHOT_GROUP,
                                  SNAPSHOT_VERSION, namespace, "volumesnapshots",
                                  label_selector=label_selector, seconds=seconds)
        except HTTPFailure as exc:
            if exc.status in RETRY_STATUSES or exc.status == 410:  # busy, or expired: watch again
                self.sleep(RETRY_PAUSE)
                return
            raise cluster_error(exc, call, server=self.server) from None

    FOLLOW_READ_TIMEOUT = 24 * 3600.0

    def pod_log(self, call: Call, pod: str, namespace: str, *, follow: bool, tail: int | None,
                container: str = "main", since: int | None = None,
                timestamps: bool = False) -> Iterator[str]:
        """A pod's log lines, streamed (``follow`` keeps reading while the container runs)."""
        kwargs: dict[str, Any] = {"container": container, "follow": follow, "_preload_content": False}
        if tail is not None:
            kwargs["tail_lines"] = tail
        if since is not None:
            kwargs["since_seconds"] = since
        if timestamps:
            kwargs["timestamps"] = True
        # the client rejects an unlimited read timeout: a followed log may be quiet for a day
        timeout: Any = (TIMEOUT[0], self.FOLLOW_READ_TIMEOUT) if follow else TIMEOUT
        response: Any = with_retries(lambda: self.core.read_namespaced_pod_log(
            pod, namespace, _request_timeout=timeout, **kwargs), call, server=self.server,
            errors=kube_errors, sleep=self.sleep)
        try:
            buffer = b""
            for chunk in mapped(response.stream(4096, decode_content=True), kube_errors):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    yield line.decode(errors="replace")
            if buffer:
                yield buffer.decode(errors="replace")
        finally:
            response.release_conn()

    # access
    def can_i(self, namespace: str, verb: str, group: str, resource: str) -> tuple[bool, str]:
        """SelfSubjectAccessReview: may the caller ``verb`` ``resource`` in ``namespace``? (and why)."""
        from kubernetes import client

        body = client.V1SelfSubjectAccessReview(
            api_version="authorization.k8s.io/v1", kind="SelfSubjectAccessReview",
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
                namespace=namespace, verb=verb, group=group, resource=resource)))
        answer = self.call(Call("create", "selfsubjectaccessreviews", None, None, "authorization.k8s.io"),
                           self.auth.create_self_subject_access_review, body)
        status = answer.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")
