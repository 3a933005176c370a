"""Kubernetes objects as plain dicts: read, list, create, patch, delete, watch.

Calls go through the typed ``kubernetes`` API classes with ``_preload_content=False`` (so core and
custom resources alike come back as the JSON the server sent) and through the cluster layer's
failure handling: safe calls retried with backoff, every failure one line naming the verb and
resource (a 403 says which permission is missing where).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from ...errors import NotFoundError
from ..kubernetes import MERGE_PATCH, translate
from ..transport import KUBE_SERVER, RETRY_STATUSES, TIMEOUT, Call, HTTPFailure, cluster_error, with_retries

SNAPSHOT_GROUP = "snapshot.storage.k8s.io"
SNAPSHOT_VERSION = "v1"
RETRY_PAUSE = 1.0  # seconds before watching again after a 5xx/410 answer

Obj = dict[str, Any]


def _decode(response: Any) -> Any:
    data = getattr(response, "data", response)
    if isinstance(data, (bytes, bytearray)):
        return json.loads(data or b"{}")
    return data


class Kube:
    """The few reads and writes the workspace layer needs, on one ``ApiClient``."""

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client
        self.server = f"{KUBE_SERVER}{api_client.configuration.host}"
        self.core = client.CoreV1Api(api_client)
        self.storage = client.StorageV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.auth = client.AuthorizationV1Api(api_client)
        self.snapshot_api = True  # False once listing VolumeSnapshotClasses answered 404

    def call(self, call: Call, func: Callable[..., Any], *args: Any, safe: bool = True, **kwargs: Any) -> Any:
        """``func(*args, **kwargs)`` as JSON; failures become one-line ClusterErrors about ``call``."""
        def once() -> Any:
            return _decode(func(*args, _preload_content=False, _request_timeout=TIMEOUT, **kwargs))

        return with_retries(lambda: translate(once), call, server=self.server, safe=safe)

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

    def watch_snapshots(self, namespace: str, label_selector: str, seconds: int) -> Iterator[Obj]:
        """Watch events (``{"type", "object"}``) of VolumeSnapshots for at most about ``seconds``.

        A read that times out or a dropped stream raises ``urllib3.exceptions.HTTPError``, a 5xx or
        410 answer ends the stream after a pause (the caller watches again either way); any other
        error answer raises the one-line ClusterError.
        """
        w = watch.Watch()
        try:
            # deserialize=True: the client then turns an ERROR event into an ApiException (with
            # deserialize=False it fails on them); custom objects stay plain dicts either way.
            for event in w.stream(self.custom.list_namespaced_custom_object, SNAPSHOT_GROUP,
                                  SNAPSHOT_VERSION, namespace, "volumesnapshots",
                                  label_selector=label_selector, timeout_seconds=seconds,
                                  _request_timeout=(TIMEOUT[0], seconds + 2)):
                yield {"type": event.get("type"), "object": event.get("raw_object") or event.get("object")}
        except ApiException as exc:
            if exc.status in RETRY_STATUSES or exc.status == 410:  # busy, or expired: watch again
                time.sleep(RETRY_PAUSE)
                return
            failure = HTTPFailure(exc.status or 0, exc.reason or "")
            raise cluster_error(failure, self._snap("watch", namespace), server=self.server) from None
        finally:
            w.stop()

    # access
    def can_i(self, namespace: str, verb: str, group: str, resource: str) -> tuple[bool, str]:
        """SelfSubjectAccessReview: may the caller ``verb`` ``resource`` in ``namespace``? (and why)."""
        body = client.V1SelfSubjectAccessReview(
            api_version="authorization.k8s.io/v1", kind="SelfSubjectAccessReview",
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
                namespace=namespace, verb=verb, group=group, resource=resource)))
        answer = self.call(Call("create", "selfsubjectaccessreviews", None, None, "authorization.k8s.io"),
                           self.auth.create_self_subject_access_review, body)
        status = answer.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")
