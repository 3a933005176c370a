"""A stateful Kubernetes API on 127.0.0.1 for contract tests: kmock's KubernetesEmulator, extended.

Use the ``kube`` fixture (``from tests.fakes.kube import kube_fixture  # noqa: F401``): a :class:`FakeKube`
running in a background thread, with a kubeconfig file (``kube.kubeconfig``, context ``fake``,
namespace ``default``, bearer token ``kube.token``) pointing at it.

On top of kmock's emulator (objects created, patched with merge patches, deleted, listed, watched):

- metadata.uid, creationTimestamp, generation and a cluster-wide resourceVersion on every write;
  ``generateName``; a 404 ``namespaces "x" not found`` when creating in a missing namespace;
- list/watch filter by ``labelSelector`` and ``fieldSelector`` (metadata.name/namespace); a watch
  with ``resourceVersion`` replays the events after it (410 Gone if too old); ``timeoutSeconds``;
- ``pods/{name}/log`` (``container``, ``tailLines``, ``follow``) from :meth:`FakeKube.set_log`;
- SelfSubjectAccessReview answers ``allowed`` unless :meth:`FakeKube.deny` said otherwise;
- PUT replaces an object at the resourceVersion read (409 Conflict otherwise);
- garbage collection: deleting an object deletes what it owns (``ownerReferences`` by uid);
- the bearer token is checked (401 otherwise);
- faults: :meth:`FakeKube.fail` (a status, optionally after doing the write: an ambiguous
  failure), :meth:`FakeKube.slow` (a delay), :meth:`FakeKube.drop_watch` (end watch streams early).

Seeding and reading go over HTTP too (:meth:`FakeKube.create`, :meth:`FakeKube.patch`,
:meth:`FakeKube.get`), so everything a test sees passed through the same server.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import datetime
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp.web
import kmock
import pytest
import yaml
from kmock._internal import enums, rendering

#: plural path -> (kind, namespaced)
RESOURCES: dict[str, tuple[str, bool]] = {
    "argoproj.io/v1alpha1/workflows": ("Workflow", True),
    "argoproj.io/v1alpha1/cronworkflows": ("CronWorkflow", True),
    "argoproj.io/v1alpha1/workflowtemplates": ("WorkflowTemplate", True),
    "v1/pods": ("Pod", True),
    "v1/persistentvolumeclaims": ("PersistentVolumeClaim", True),
    "v1/persistentvolumes": ("PersistentVolume", False),
    "v1/events": ("Event", True),
    "v1/namespaces": ("Namespace", False),
    "v1/serviceaccounts": ("ServiceAccount", True),
    "v1/secrets": ("Secret", True),
    "v1/configmaps": ("ConfigMap", True),
    "storage.k8s.io/v1/storageclasses": ("StorageClass", False),
    "snapshot.storage.k8s.io/v1/volumesnapshots": ("VolumeSnapshot", True),
    "snapshot.storage.k8s.io/v1/volumesnapshotclasses": ("VolumeSnapshotClass", False),
    "authorization.k8s.io/v1/selfsubjectaccessreviews": ("SelfSubjectAccessReview", False),
}
NAMESPACES = kmock.resource("v1/namespaces")
PODS = kmock.resource("v1/pods")
SEEDED_NAMESPACES = ("default", "kubeflow")
TOKEN = "fake-kube-token-s3cr3t-0123456789"


def resource_path(resource: str, namespace: str | None = None, name: str | None = None) -> str:
    """``"v1/pods", "ns", "p"`` -> ``/api/v1/namespaces/ns/pods/p`` (and the ``/apis/...`` form)."""
    parts = resource.split("/")
    prefix = f"/api/{parts[0]}" if len(parts) == 2 else f"/apis/{parts[0]}/{parts[1]}"
    path = prefix + (f"/namespaces/{namespace}" if namespace else "") + f"/{parts[-1]}"
    return path + (f"/{name}" if name else "")


@dataclass
class Fault:
    """An injected fault for requests whose ``METHOD path`` matches ``pattern`` (a regex)."""

    pattern: str
    status: int = 0
    delay: float = 0.0
    times: int = 1
    after_write: bool = False
    message: str = "injected fault"
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.hits < self.times and re.search(self.pattern, f"{method} {path}") is not None


@dataclass
class _Recorder:
    """Replaces kmock's per-resource event bus: a replayable log of (resourceVersion, event)."""

    owner: Emulator
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    async def put(self, event: dict[str, Any]) -> None:
        event = copy.deepcopy(event)
        meta = event["object"].setdefault("metadata", {})
        rv = int(meta.get("resourceVersion") or 0)
        if event["type"] == "DELETED" or rv == 0 or rv < self.owner.last_rv:
            rv = self.owner.next_rv()
            meta["resourceVersion"] = str(rv)
        self.events.append((rv, event))
        async with self.owner.changed:
            self.owner.changed.notify_all()


def _selector_terms(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current.strip())
    return terms


def label_selector_matches(selector: str | None, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics: ``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``, ``in``, ``notin``."""
    for term in _selector_terms(selector or ""):
        if m := re.fullmatch(r"(\S+)\s+(in|notin)\s+\((.*)\)", term):
            key, op, values = m[1], m[2], {v.strip() for v in m[3].split(",")}
            if (labels.get(key) in values) != (op == "in"):
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = re.split(r"==?", term, maxsplit=1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def field_selector_matches(selector: str | None, obj: dict[str, Any]) -> bool:
    """``metadata.name=x,metadata.namespace=y`` (and ``!=``) on the object."""
    for term in _selector_terms(selector or ""):
        negate = "!=" in term
        path, value = re.split(r"!=|==?", term, maxsplit=1)
        current: Any = obj
        for part in path.strip().split("."):
            current = current.get(part) if isinstance(current, dict) else None
        if (str(current) == value.strip()) == negate:
            return False
    return True


def _status(code: int, message: str, reason: str = "", details: dict[str, Any] | None = None
            ) -> aiohttp.web.Response:
    reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
               409: "AlreadyExists", 410: "Expired", 500: "InternalError", 503: "ServiceUnavailable"}
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason or reasons.get(code, "Unknown"), "code": code,
            "details": details or {}}
    return aiohttp.web.json_response(body, status=code)


class Emulator(kmock.KubernetesEmulator):
    """KubernetesEmulator with resourceVersions, selectors, pod logs, SSAR, auth and faults."""

    def __init__(self) -> None:
        self.rv = 0
        self.faults: list[Fault] = []
        self.watch_drops: list[int] = []  # each entry: end one watch stream after N events
        self.denied: set[tuple[str, str, str]] = set()  # (verb, resource, namespace)
        self.logs: dict[tuple[str, str, str], str] = {}
        self.logs_closed: set[tuple[str, str]] = set()
        self.token: str | None = TOKEN
        self.closing = False
        self.seen: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.changed = asyncio.Condition()
        recorders: collections.defaultdict[Any, _Recorder] = collections.defaultdict(
            lambda: _Recorder(self))
        super().__init__(buses=recorders)
        for res, (kind, namespaced) in RESOURCES.items():
            self.resources[res] = kmock.ResourceInfo(kind=kind, namespaced=namespaced, verbs=[
                "create", "get", "list", "watch", "patch", "delete"])

    @property
    def last_rv(self) -> int:
        return self.rv

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    # -- request pipeline ---------------------------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # kmock's URL parser cannot parse /api/v1/namespaces[/name]: serve those here.
        match = re.fullmatch(r"/api/v1/namespaces(?:/([^/]+))?/?", raw_request.path)
        if match is None:
            return await super().__call__(raw_request)
        if self.token is not None and raw_request.headers.get("Authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized")
        name = match[1]
        if name is None and raw_request.method == "GET":
            items = [o.raw for (r, _, _), o in self.objects.items() if r == NAMESPACES and not o.deleted]
            return aiohttp.web.json_response({"apiVersion": "v1", "kind": "NamespaceList", "items": items,
                                              "metadata": {"resourceVersion": str(self.rv)}})
        if name is None and raw_request.method == "POST":
            body = await raw_request.json()
            self.add_namespace(body["metadata"]["name"])
            stored = self.objects[NAMESPACES, None, body["metadata"]["name"]]
            return aiohttp.web.json_response(stored.raw, status=201)
        if raw_request.method == "GET" and self._namespace_exists(name):
            return aiohttp.web.json_response(self.objects["v1/namespaces", None, name].raw)
        return _status(404, f'namespaces "{name}" not found', details={"name": name, "kind": "namespaces"})

    def add_namespace(self, name: str) -> None:
        """Store a Namespace object (not through kmock's parser, which cannot route it)."""
        self.objects["v1/namespaces", None, name] = {
            "apiVersion": "v1", "kind": "Namespace", "status": {"phase": "Active"},
            "metadata": {"name": name, "uid": str(uuid.uuid4()), "resourceVersion": str(self.next_rv())}}

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        method, path = request.method.value.upper(), request.url.path
        headers = dict(request.headers)
        self.seen.append((method, path, dict(request.params), headers))
        if self.token is not None and headers.get("Authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized")
        fault = next((f for f in self.faults if f.matches(method, path)), None)
        if fault:
            fault.hits += 1
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status and not fault.after_write:
                return _status(fault.status, fault.message)
        response = await self._dispatch(request)
        if fault and fault.status and fault.after_write:
            return _status(fault.status, fault.message)
        return response

    async def _dispatch(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        res = request.resource
        plural = res.plural if res is not None else None
        if plural == "selfsubjectaccessreviews":
            return self._review(request)
        if plural == "pods" and request.subresource == "log":
            return await self._serve_log(request)
        replace = request.method.value.upper() == "PUT" and not request.subresource
        if replace and res is not None and request.name:
            return await self._replace(request)
        if request.action in (enums.action.CREATE, enums.action.UPDATE) and isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            if request.action == enums.action.CREATE:
                namespace = request.namespace
                info = self.resources[res] if res is not None else None
                namespaced = info is not None and info.namespaced
                if namespace and namespaced and not self._namespace_exists(namespace):
                    return _status(404, f'namespaces "{namespace}" not found',
                                   details={"name": namespace, "kind": "namespaces"})
                if not meta.get("name") and meta.get("generateName"):
                    meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
                if not meta.get("name"):
                    return _status(400, "metadata.name: Required value")
                if namespace:
                    meta["namespace"] = namespace
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("creationTimestamp", _now())
                meta["generation"] = 1
                request.data.setdefault("apiVersion", _api_version(res))
                request.data.setdefault("kind", self.resources[res].kind if res is not None else None)
            meta["resourceVersion"] = str(self.next_rv())
        try:
            response = await super()._handle(request)
            if request.action == enums.action.CREATE and response.status == 200 and not response.prepared:
                response.set_status(201)  # as the real API server answers a create
            if request.action == enums.action.DELETE and response.status < 300:
                await self._collect_garbage()
            return response
        except kmock.KubernetesError as exc:
            return _status(exc.status, exc.message or "error", exc.reason or "")

    async def _replace(self, request: rendering.Request) -> aiohttp.web.Response:
        """PUT (replace) at the resourceVersion read: 409 Conflict if it changed since, as the API
        server answers; name, namespace, uid and creationTimestamp are kept."""
        key = (request.resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            return _status(404, f'{request.resource.plural} "{request.name}" not found')  # type: ignore[union-attr]
        current = self.objects[key].raw
        body = copy.deepcopy(request.data if isinstance(request.data, dict) else {})
        meta = body.setdefault("metadata", {})
        old = current.get("metadata") or {}
        if meta.get("resourceVersion") != old.get("resourceVersion"):
            return _status(409, f'Operation cannot be fulfilled on {request.resource.plural} '  # type: ignore[union-attr]
                                f'"{request.name}": the object has been modified; please apply your changes '
                                "to the latest version and try again", "Conflict")
        for field_name in ("name", "namespace", "uid", "creationTimestamp"):
            if old.get(field_name) is not None:
                meta[field_name] = old[field_name]
        meta["generation"] = int(old.get("generation") or 1) + 1
        meta["resourceVersion"] = str(self.next_rv())
        body.setdefault("apiVersion", current.get("apiVersion"))
        body.setdefault("kind", current.get("kind"))
        self.objects[key] = body
        await self._buses[request.resource].put({"type": "MODIFIED", "object": body})
        return aiohttp.web.json_response(body)

    async def _collect_garbage(self) -> None:
        """Kubernetes' garbage collector, at once: delete every object whose ownerReferences all
        name objects (by uid) that no longer exist, until none is left."""
        while True:
            live = {key: obj for key, obj in self.objects.items() if not obj.deleted}
            uids = {(obj.raw.get("metadata") or {}).get("uid") for obj in live.values()}
            orphans = [(key, obj) for key, obj in live.items()
                       if (refs := (obj.raw.get("metadata") or {}).get("ownerReferences"))
                       and not any(ref.get("uid") in uids for ref in refs)]
            if not orphans:
                return
            for (resource, _, _), obj in orphans:
                raw = copy.deepcopy(obj.raw)
                obj.delete()
                await self._buses[resource].put({"type": "DELETED", "object": raw})

    def _namespace_exists(self, namespace: str) -> bool:
        key = (NAMESPACES, None, namespace)
        return key in self.objects and not self.objects[key].deleted

    def _review(self, request: rendering.Request) -> aiohttp.web.Response:
        review = copy.deepcopy(request.data or {})
        attrs = (review.get("spec") or {}).get("resourceAttributes") or {}
        key = (attrs.get("verb", ""), attrs.get("resource", ""), attrs.get("namespace", ""))
        allowed = not any(d[0] in (key[0], "*") and d[1] in (key[1], "*") and d[2] in (key[2], "*")
                          for d in self.denied)
        review["status"] = {"allowed": allowed, "reason": "" if allowed else "denied by the fake"}
        return aiohttp.web.json_response(review, status=201)

    async def _serve_log(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        namespace, pod = request.namespace or "", request.name or ""
        if (PODS, namespace, pod) not in self.objects or self.objects[PODS, namespace, pod].deleted:
            return _status(404, f'pods "{pod}" not found')
        container = request.params.get("container", "main")
        key = (namespace, pod, container)
        tail = request.params.get("tailLines")
        if request.params.get("follow") != "true":
            text = self.logs.get(key, "")
            if tail:
                text = "".join(text.splitlines(keepends=True)[-int(tail):])
            return aiohttp.web.Response(text=text, content_type="text/plain")
        assert request._raw_request is not None
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request._raw_request)
        sent = 0
        while True:
            text = self.logs.get(key, "")
            if len(text) > sent:
                await response.write(text[sent:].encode())
                sent = len(text)
            if (namespace, pod) in self.logs_closed or self.closing:
                break
            async with self.changed:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 0.2)
        await response.write_eof()
        return response

    # -- list and watch with selectors and resourceVersions --------------------------------------------

    def _visible(self, request: rendering.Request, obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        if request.namespace is not None and meta.get("namespace") != request.namespace:
            return False
        if request.name is not None and meta.get("name") != request.name:
            return False
        return (label_selector_matches(request.params.get("labelSelector"), meta.get("labels") or {})
                and field_selector_matches(request.params.get("fieldSelector"), obj))

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        if request.resource not in self._get_resources():
            raise kmock.KubernetesResourceNotFoundError()
        items = [obj.raw for (res, _, _), obj in self.objects.items()
                 if res == request.resource and not obj.deleted and self._visible(request, obj.raw)]
        kind = self.resources[request.resource].kind if request.resource is not None else ""
        return {"apiVersion": _api_version(request.resource), "kind": f"{kind}List",
                "metadata": {"resourceVersion": str(self.rv)}, "items": items}

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[rendering.Payload]:
        yield b""
        recorder: _Recorder = self._buses[request.resource]  # type: ignore[assignment]
        since = request.params.get("resourceVersion")
        deadline = asyncio.get_running_loop().time() + float(request.params.get("timeoutSeconds") or 3600)
        budget = self.watch_drops.pop(0) if self.watch_drops else None
        if budget == 0:
            return
        sent = 0
        if since in (None, "", "0"):
            for (res, _, _), obj in list(self.objects.items()):
                if res == request.resource and not obj.deleted and self._visible(request, obj.raw):
                    yield {"type": "ADDED", "object": obj.raw}
                    sent += 1
                    if budget is not None and sent >= budget:
                        return
            position = len(recorder.events)
        else:
            first = recorder.events[0][0] if recorder.events else self.rv + 1
            if int(since) < first - 1 and int(since) < self.rv:
                yield {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                   "code": 410, "reason": "Expired",
                                                   "message": f"too old resource version: {since}"}}
                return
            position = next((i for i, (rv, _) in enumerate(recorder.events) if rv > int(since)),
                            len(recorder.events))
        loop = asyncio.get_running_loop()
        while not self.closing and loop.time() < deadline:
            while position < len(recorder.events):
                _, event = recorder.events[position]
                position += 1
                if self._visible(request, event["object"]):
                    yield event
                    sent += 1
                    if budget is not None and sent >= budget:
                        return
            async with self.changed:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 0.2)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _api_version(resource: Any) -> str:
    if resource is None:
        return "v1"
    return f"{resource.group}/{resource.version}" if resource.group else str(resource.version)


class FakeKube:
    """The running fake: its URL, kubeconfig, token, and helpers to seed, read and break it."""

    def __init__(self, tmp_path: Path) -> None:
        self.emulator = Emulator()
        self.token = TOKEN
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fake-kube", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the fake Kubernetes API did not start")
        self.kubeconfig = str(tmp_path / "kubeconfig")
        self.write_kubeconfig(self.kubeconfig)
        for namespace in SEEDED_NAMESPACES:
            self.emulator.add_namespace(namespace)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self.emulator.changed = asyncio.Condition()
        async with self.emulator, kmock.Server(self.emulator) as server:
            self.url = f"http://127.0.0.1:{server.port}"
            self._started.set()
            await self._stop.wait()
            self.emulator.closing = True
            await asyncio.sleep(0.05)

    def close(self) -> None:
        """Stop the server (ends open watch and log streams)."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    def write_kubeconfig(self, path: str, *, namespace: str = "default", token: str | None = None) -> str:
        """A kubeconfig with one context ``fake`` (and ``other``, namespace ``kubeflow``)."""
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": token or self.token}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake",
                                                      "namespace": namespace}},
                         {"name": "other", "context": {"cluster": "fake", "user": "fake",
                                                       "namespace": "kubeflow"}}],
        }
        Path(path).write_text(yaml.safe_dump(config))
        return path

    # -- over HTTP ----------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One authenticated JSON request to the fake; returns the decoded body (raises on >= 400)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/merge-patch+json"
            if method == "PATCH" else "application/json"})
        with urllib.request.urlopen(req, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw.strip().startswith(b"{") else raw.decode()

    def create(self, resource: str, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Create ``obj`` (namespace from the argument or obj.metadata.namespace)."""
        namespace = namespace or (obj.get("metadata") or {}).get("namespace")
        return self.request("POST", resource_path(resource, namespace), copy.deepcopy(obj))

    def patch(self, resource: str, namespace: str | None, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Merge-patch an object (``None`` values delete keys)."""
        return self.request("PATCH", resource_path(resource, namespace, name), patch)

    def delete(self, resource: str, namespace: str | None, name: str) -> None:
        """Delete an object."""
        self.request("DELETE", resource_path(resource, namespace, name))

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object, or None if it does not exist."""
        try:
            return self.request("GET", resource_path(resource, namespace, name))
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def list(self, resource: str, namespace: str | None = None,
             label_selector: str = "") -> list[dict[str, Any]]:
        """The objects of a resource (optionally in one namespace, matching a label selector)."""
        query = f"?labelSelector={urllib.parse.quote(label_selector)}" if label_selector else ""
        return self.request("GET", resource_path(resource, namespace) + query)["items"]

    def advance_run(self, name: str, phase: str, steps: dict[str, str] | None = None, *,
                    namespace: str = "default", messages: dict[str, str] | None = None,
                    logs: dict[str, str] | None = None) -> None:
        """Move Workflow ``name`` to ``phase`` with these step phases, creating the steps' pods (with
        Argo's labels and node-name annotations) and their logs, as the workflow-controller would."""
        from tests.fakes.argo_status import pod_for, status

        workflow = self.get("argoproj.io/v1alpha1/workflows", namespace, name)
        assert workflow is not None, f"no workflow {name}"
        for task in steps or {}:
            pod = pod_for(workflow, task)
            if self.get("v1/pods", namespace, pod) is None:
                self.create("v1/pods", {"metadata": {
                    "name": pod, "labels": {"workflows.argoproj.io/workflow": name},
                    "annotations": {"workflows.argoproj.io/node-name": f"{name}.{task}"}},
                    "spec": {"containers": [{"name": "main", "image": "x"}]}}, namespace)
            if task in (logs or {}):
                self.set_log(namespace, pod, (logs or {})[task])
        self.patch("argoproj.io/v1alpha1/workflows", namespace, name, {
            "status": status(workflow, phase, steps, messages),
            "metadata": {"labels": {"workflows.argoproj.io/phase": phase}}})

    # -- state set directly -------------------------------------------------------------------------

    def set_log(self, namespace: str, pod: str, text: str, container: str = "main", *,
                done: bool = True) -> None:
        """Set a pod container's log text; ``done=False`` keeps ``follow`` streams open."""
        self.emulator.logs[(namespace, pod, container)] = text
        if done:
            self.emulator.logs_closed.add((namespace, pod))
        self._notify()

    def _notify(self) -> None:
        async def notify() -> None:
            async with self.emulator.changed:
                self.emulator.changed.notify_all()
        asyncio.run_coroutine_threadsafe(notify(), self._loop).result(5)

    def fail(self, pattern: str, status: int, *, times: int = 1, after_write: bool = False,
             message: str = "injected fault") -> Fault:
        """Answer ``status`` to the next ``times`` requests matching ``METHOD /path`` regex ``pattern``.

        ``after_write=True`` performs the request first (an ambiguous failure: the write happened).
        """
        fault = Fault(pattern, status=status, times=times, after_write=after_write, message=message)
        self.emulator.faults.append(fault)
        return fault

    def slow(self, pattern: str, seconds: float, *, times: int = 1) -> Fault:
        """Delay the next ``times`` matching requests by ``seconds``."""
        fault = Fault(pattern, delay=seconds, times=times)
        self.emulator.faults.append(fault)
        return fault

    def drop_watch(self, after: int = 0, *, times: int = 1) -> None:
        """End each of the next ``times`` watch streams after ``after`` events (a dropped connection)."""
        self.emulator.watch_drops.extend([after] * times)

    def deny(self, verb: str, resource: str, namespace: str = "*") -> None:
        """Make SelfSubjectAccessReviews for (verb, resource, namespace) answer allowed=false."""
        self.emulator.denied.add((verb, resource, namespace))

    def requests(self, method: str | None = None, pattern: str = "") -> list[tuple[str, str, dict[str, str]]]:
        """(method, path, query) of the requests served so far, filtered."""
        return [(m, p, q) for m, p, q, _ in self.emulator.seen
                if (method is None or m == method) and re.search(pattern, p)]


@pytest.fixture(name="kube")
def kube_fixture(tmp_path: Path) -> Iterator[FakeKube]:
    """A running :class:`FakeKube` for one test."""
    fake = FakeKube(tmp_path)
    try:
        yield fake
    finally:
        fake.close()
