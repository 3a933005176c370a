"""Kubernetes objects as plain dicts: read, list, create, patch, delete, with one-line errors.

Every call goes through the typed ``kubernetes`` API classes with ``_preload_content=False`` so the
workspace layer handles the same JSON the server sent, for core and custom resources alike.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from ...errors import AuthError, ClusterError, NotFoundError

SNAPSHOT_GROUP = "snapshot.storage.k8s.io"
SNAPSHOT_VERSION = "v1"
ARGO_GROUP = "argoproj.io"
ARGO_VERSION = "v1alpha1"

Obj = dict[str, Any]


def _decode(response: Any) -> Any:
    data = getattr(response, "data", response)
    if isinstance(data, (bytes, bytearray)):
        return json.loads(data or b"{}")
    return data


def call(what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` as JSON; API errors become one-line ClusterErrors naming ``what``."""
    try:
        return _decode(func(*args, _preload_content=False, **kwargs))
    except ApiException as exc:
        raise api_error(exc, what) from None


def api_error(exc: ApiException, what: str) -> ClusterError:
    """An ApiException as the error class users see (the server's message, never headers)."""
    message = exc.reason or ""
    with contextlib.suppress(ValueError, AttributeError):
        message = json.loads(exc.body or "{}").get("message") or message
    status = exc.status or 0
    if status in (401, 403):
        return AuthError(f"{what}: forbidden ({status}): {message}",
                         hint="ask for the missing RBAC permission in this namespace")
    if status == 404:
        return NotFoundError(f"{what}: not found")
    return ClusterError(f"{what}: the API server answered {status}: {message}")


def get_or_none(what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Obj | None:
    """Like :func:`call`, but None when the object does not exist."""
    try:
        return call(what, func, *args, **kwargs)
    except NotFoundError:
        return None


class Kube:
    """The few reads and writes the workspace layer needs, on one ``ApiClient``."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.storage = client.StorageV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.auth = client.AuthorizationV1Api(api_client)

    # core objects
    def pod(self, namespace: str, name: str) -> Obj | None:
        return get_or_none(f"pod {namespace}/{name}", self.core.read_namespaced_pod, name, namespace)

    def claim(self, namespace: str, name: str) -> Obj | None:
        return get_or_none(f"persistentvolumeclaim {namespace}/{name}",
                           self.core.read_namespaced_persistent_volume_claim, name, namespace)

    def claims(self, namespace: str, label_selector: str | None = None) -> list[Obj]:
        answer = call(f"persistentvolumeclaims in {namespace}",
                      self.core.list_namespaced_persistent_volume_claim, namespace,
                      label_selector=label_selector)
        return list(answer.get("items") or [])

    def volume(self, name: str) -> Obj | None:
        return get_or_none(f"persistentvolume {name}", self.core.read_persistent_volume, name)

    def storage_class(self, name: str) -> Obj | None:
        return get_or_none(f"storageclass {name}", self.storage.read_storage_class, name)

    def storage_classes(self) -> list[Obj]:
        return list(call("storageclasses", self.storage.list_storage_class).get("items") or [])

    def events(self, namespace: str, kind: str, name: str) -> list[Obj]:
        """Events about one object, oldest first (filtered here too: some servers ignore selectors)."""
        selector = f"involvedObject.kind={kind},involvedObject.name={name}"
        answer = call(f"events in {namespace}", self.core.list_namespaced_event, namespace,
                      field_selector=selector)
        items = [e for e in answer.get("items") or []
                 if (e.get("involvedObject") or {}).get("name") == name
                 and (e.get("involvedObject") or {}).get("kind", kind) == kind]
        return sorted(items, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))

    # snapshots
    def snapshot_classes(self) -> list[Obj]:
        """All VolumeSnapshotClasses; empty when the snapshot CRDs are not installed."""
        try:
            answer = call("volumesnapshotclasses", self.custom.list_cluster_custom_object,
                          SNAPSHOT_GROUP, SNAPSHOT_VERSION, "volumesnapshotclasses")
        except NotFoundError:
            return []
        return list(answer.get("items") or [])

    def snapshot(self, namespace: str, name: str) -> Obj | None:
        return get_or_none(f"volumesnapshot {namespace}/{name}",
                           self.custom.get_namespaced_custom_object,
                           SNAPSHOT_GROUP, SNAPSHOT_VERSION, namespace, "volumesnapshots", name)

    def create_snapshot(self, namespace: str, body: Obj) -> Obj:
        name = body["metadata"]["name"]
        return call(f"create volumesnapshot {namespace}/{name}",
                    self.custom.create_namespaced_custom_object,
                    SNAPSHOT_GROUP, SNAPSHOT_VERSION, namespace, "volumesnapshots", body)

    def delete_snapshot(self, namespace: str, name: str) -> bool:
        """Delete a VolumeSnapshot; False if it was already gone."""
        gone = get_or_none(f"delete volumesnapshot {namespace}/{name}",
                           self.custom.delete_namespaced_custom_object,
                           SNAPSHOT_GROUP, SNAPSHOT_VERSION, namespace, "volumesnapshots", name)
        return gone is not None

    def patch_snapshot(self, namespace: str, name: str, patch: Obj) -> Obj:
        return call(f"patch volumesnapshot {namespace}/{name}",
                    self.custom.patch_namespaced_custom_object,
                    SNAPSHOT_GROUP, SNAPSHOT_VERSION, namespace, "volumesnapshots", name, patch,
                    _content_type="application/merge-patch+json")

    def watch_snapshots(self, namespace: str, label_selector: str, seconds: int) -> Iterator[Obj]:
        """Watch events (``{"type", "object"}``) of VolumeSnapshots for at most about ``seconds``."""
        w = watch.Watch()
        try:
            yield from w.stream(self.custom.list_namespaced_custom_object, SNAPSHOT_GROUP,
                                SNAPSHOT_VERSION, namespace, "volumesnapshots",
                                label_selector=label_selector, timeout_seconds=seconds,
                                _request_timeout=(10, seconds + 5), deserialize=False)
        except ApiException as exc:
            raise api_error(exc, f"watch volumesnapshots in {namespace}") from None
        finally:
            w.stop()

    # workflows
    def patch_workflow(self, namespace: str, name: str, patch: Obj) -> Obj:
        return call(f"patch workflow {namespace}/{name}", self.custom.patch_namespaced_custom_object,
                    ARGO_GROUP, ARGO_VERSION, namespace, "workflows", name, patch,
                    _content_type="application/merge-patch+json")

    # access
    def can_i(self, namespace: str, verb: str, group: str, resource: str) -> tuple[bool, str]:
        """SelfSubjectAccessReview: may the caller ``verb`` ``resource`` in ``namespace``? (and why)."""
        body = client.V1SelfSubjectAccessReview(
            api_version="authorization.k8s.io/v1", kind="SelfSubjectAccessReview",
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
                namespace=namespace, verb=verb, group=group, resource=resource)))
        answer = call(f"selfsubjectaccessreview for {verb} {resource}",
                      self.auth.create_self_subject_access_review, body)
        status = answer.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")
