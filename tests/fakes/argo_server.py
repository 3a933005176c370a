"""A stateful fake Argo Server on 127.0.0.1 (optionally TLS, optionally under a base path).

Serves the REST paths kale-argo uses: ``/api/v1/workflows/{ns}`` (create, list), ``.../{name}``
(get, delete), ``.../{name}/retry|stop|terminate`` (PUT), ``.../{name}/log`` (JSON lines),
``/api/v1/cron-workflows/{ns}`` and ``/api/v1/workflow-templates/{ns}`` (create, list; ``/{name}``:
get, update at the resourceVersion read, delete; ``/{name}/suspend|resume``: PUT),
``/api/v1/workflow-events/{ns}`` (a JSON-lines stream, resumable by resourceVersion), with a
bearer-token check. Tests drive runs with :meth:`FakeArgoServer.advance` and break things with
:meth:`fail`, :meth:`slow` and :meth:`drop_stream`. Use the ``argo_server`` fixture
(``from tests.fakes.argo_server import argo_server_fixture  # noqa: F401``).
"""

from __future__ import annotations

import copy
import datetime
import http.server
import json
import re
import ssl
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.argo_status import pod_for, status
from tests.fakes.kube import Fault, label_selector_matches

TOKEN = "argo-fake-token-t0ps3cr3t-987654"
NAMESPACES = ("argo", "default", "kubeflow")
#: REST path -> (kind, the create/update request's field)
OBJECT_PATHS = {"cron-workflows": ("CronWorkflow", "cronWorkflow"),
                "workflow-templates": ("WorkflowTemplate", "template")}


def self_signed_cert(directory: Path) -> tuple[str, str]:
    """A certificate and key for 127.0.0.1/localhost, made with the openssl CLI."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return str(cert), str(key)


class State:
    """Workflows, events and logs; every change notifies waiting streams."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.workflows: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: list[tuple[int, str, dict[str, Any]]] = []
        self.logs: dict[tuple[str, str], str] = {}
        self.rv = 0
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}  # REST path -> (ns, name) -> obj
        self.faults: list[Fault] = []
        self.drops: list[int] = []
        self.requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.closing = False

    def record(self, kind: str, workflow: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.rv += 1
            workflow["metadata"]["resourceVersion"] = str(self.rv)
            self.events.append((self.rv, kind, copy.deepcopy(workflow)))
            self.lock.notify_all()
        return workflow


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # -- plumbing ----------------------------------------------------------------------------------------

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code: int, message: str) -> None:
        grpc = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6}.get(code, 13)
        self._send(code, {"code": grpc, "message": message})

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, item: dict[str, Any]) -> None:
        data = (json.dumps(item) + "\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        path = parsed.path
        state.requests.append((method, path, query, dict(self.headers)))
        body = self._body() if method in ("POST", "PUT") else {}
        prefix = self.server.base_path.rstrip("/")
        if not path.startswith(prefix + "/api/v1/"):
            return self._error(404, f"no route for {path}")
        path = path[len(prefix):]
        if self.headers.get("Authorization") != f"Bearer {self.server.token}":
            return self._error(401, "token not valid. see https://argo-workflows.readthedocs.io/")
        fault = next((f for f in state.faults if f.matches(method, path)), None)
        if fault:
            fault.hits += 1
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status and not fault.after_write:
                return self._error(fault.status, fault.message)
        if fault and fault.status and fault.after_write:
            self._route(method, path, query, body, dry=True)
            return self._error(fault.status, fault.message)
        self._route(method, path, query, body)
        return None

    # -- routes ---------------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any],
               dry: bool = False) -> None:
        state = self.server.state
        send = (lambda code, data: None) if dry else self._send
        error = (lambda code, message: None) if dry else self._error
        objects = r"/api/v1/(cron-workflows|workflow-templates)/([^/]+)(?:/([^/]+))?(?:/(suspend|resume))?"
        if m := re.fullmatch(objects, path):
            return self._objects(method, m[1], m[2], m[3], m[4], query, body, send, error)
        if m := re.fullmatch(r"/api/v1/workflow-events/([^/]+)", path):
            return self._events(m[1], query)
        if m := re.fullmatch(r"/api/v1/workflows/([^/]+)/([^/]+)/log", path):
            return self._logs(m[1], m[2], query)
        if m := re.fullmatch(r"/api/v1/workflows/([^/]+)", path):
            namespace = m[1]
            if namespace not in self.server.namespaces:
                return error(404, f'namespaces "{namespace}" not found')
            if method == "GET":
                selector = query.get("listOptions.labelSelector")
                with state.lock:
                    items = [copy.deepcopy(w) for (ns, _), w in state.workflows.items() if ns == namespace
                             and label_selector_matches(selector, w["metadata"].get("labels") or {})]
                return send(200, {"metadata": {"resourceVersion": str(state.rv)}, "items": items or None})
            if method == "POST":
                workflow = copy.deepcopy(body.get("workflow") or {})
                meta = workflow.setdefault("metadata", {})
                if not meta.get("name"):
                    meta["name"] = meta.pop("generateName", "wf-") + uuid.uuid4().hex[:5]
                key = (namespace, meta["name"])
                with state.lock:
                    if key in state.workflows:
                        return error(409, f'workflows.argoproj.io "{meta["name"]}" already exists')
                    meta.update(namespace=namespace, uid=str(uuid.uuid4()),
                                creationTimestamp=datetime.datetime.now(datetime.timezone.utc)
                                .strftime("%Y-%m-%dT%H:%M:%SZ"))
                    state.workflows[key] = state.record("ADDED", workflow)
                return send(200, workflow)
        if m := re.fullmatch(r"/api/v1/workflows/([^/]+)/([^/]+)(?:/(retry|stop|terminate))?", path):
            key = (m[1], m[2])
            with state.lock:
                workflow = state.workflows.get(key)
                if workflow is None:
                    return error(404, f'workflows.argoproj.io "{m[2]}" not found')
                if method == "GET" and not m[3]:
                    return send(200, copy.deepcopy(workflow))
                if method == "DELETE" and not m[3]:
                    del state.workflows[key]
                    state.record("DELETED", workflow)
                    return send(200, {})
                if method == "PUT" and m[3] in ("stop", "terminate"):
                    workflow.setdefault("spec", {})["shutdown"] = m[3].capitalize()
                    return send(200, copy.deepcopy(state.record("MODIFIED", workflow)))
                if method == "PUT" and m[3] == "retry":
                    current = workflow.get("status") or {}
                    if current.get("phase") not in ("Failed", "Error"):
                        return error(500, "workflow must be Failed/Error to retry")
                    current["phase"] = "Running"
                    current["nodes"] = {k: v for k, v in (current.get("nodes") or {}).items()
                                        if v.get("phase") == "Succeeded" or v.get("type") == "DAG"}
                    return send(200, copy.deepcopy(state.record("MODIFIED", workflow)))
        return error(404, f"no route for {method} {path}")

    def _objects(self, method: str, kind_path: str, namespace: str, name: str | None, action: str | None,
                 query: dict[str, str], body: dict[str, Any], send: Any, error: Any) -> None:
        """CronWorkflows and WorkflowTemplates: create, list, get, update (at the resourceVersion
        read, else 409), delete, and a CronWorkflow's suspend/resume."""
        state = self.server.state
        kind, field = OBJECT_PATHS[kind_path]
        plural = kind_path.replace("-", "")
        if namespace not in self.server.namespaces:
            return error(404, f'namespaces "{namespace}" not found')
        with state.lock:
            store = state.objects.setdefault(kind_path, {})
            if name is None and method == "GET":
                selector = query.get("listOptions.labelSelector")
                items = [copy.deepcopy(o) for (ns, _), o in sorted(store.items()) if ns == namespace
                         and label_selector_matches(selector, o["metadata"].get("labels") or {})]
                return send(200, {"metadata": {"resourceVersion": str(state.rv)}, "items": items or None})
            if name is None and method == "POST":
                obj = copy.deepcopy(body.get(field) or {})
                meta = obj.setdefault("metadata", {})
                if not meta.get("name"):
                    return error(400, "metadata.name: Required value")
                if (namespace, meta["name"]) in store:
                    return error(409, f'{plural}.argoproj.io "{meta["name"]}" already exists')
                state.rv += 1
                obj.update(apiVersion="argoproj.io/v1alpha1", kind=kind)
                meta.update(namespace=namespace, uid=str(uuid.uuid4()), resourceVersion=str(state.rv),
                            creationTimestamp=datetime.datetime.now(datetime.timezone.utc)
                            .strftime("%Y-%m-%dT%H:%M:%SZ"))
                store[(namespace, meta["name"])] = obj
                return send(200, copy.deepcopy(obj))
            current = store.get((namespace, name or ""))
            if current is None:
                return error(404, f'{plural}.argoproj.io "{name}" not found')
            if method == "GET" and not action:
                return send(200, copy.deepcopy(current))
            if method == "DELETE" and not action:
                del store[(namespace, name or "")]
                return send(200, {})
            if method == "PUT" and action and kind_path == "cron-workflows":
                state.rv += 1
                current.setdefault("spec", {})["suspend"] = action == "suspend"
                current["metadata"]["resourceVersion"] = str(state.rv)
                return send(200, copy.deepcopy(current))
            if method == "PUT" and not action:
                obj = copy.deepcopy(body.get(field) or {})
                meta = obj.setdefault("metadata", {})
                if meta.get("resourceVersion") != current["metadata"]["resourceVersion"]:
                    return error(409, f'Operation cannot be fulfilled on {plural}.argoproj.io "{name}": the '
                                      "object has been modified; please apply your changes to the latest "
                                      "version and try again")
                state.rv += 1
                obj.update(apiVersion="argoproj.io/v1alpha1", kind=kind)
                old = current["metadata"]
                meta.update(namespace=namespace, uid=old["uid"], resourceVersion=str(state.rv),
                            creationTimestamp=old.get("creationTimestamp"))
                store[(namespace, name or "")] = obj
                return send(200, copy.deepcopy(obj))
        return error(404, f"no route for {method} {kind_path}")

    def _events(self, namespace: str, query: dict[str, str]) -> None:
        state = self.server.state
        field = query.get("listOptions.fieldSelector", "")
        wanted = field.split("=", 1)[1] if field.startswith("metadata.name=") else None
        since = query.get("listOptions.resourceVersion")
        budget = state.drops.pop(0) if state.drops else None
        self._start_stream()
        sent = 0

        def visible(obj: dict[str, Any]) -> bool:
            meta = obj["metadata"]
            return meta.get("namespace") == namespace and (wanted is None or meta.get("name") == wanted)

        with state.lock:
            if since:
                later = (i for i, e in enumerate(state.events) if e[0] > int(since))
                position = next(later, len(state.events))
                backlog: list[tuple[str, dict[str, Any]]] = []
            else:
                position = len(state.events)
                backlog = [("ADDED", copy.deepcopy(w)) for w in state.workflows.values() if visible(w)]
        try:
            for kind, obj in backlog:
                if budget is not None and sent >= budget:
                    return self._end_stream()
                self._chunk({"result": {"type": kind, "object": obj}})
                sent += 1
            deadline = time.monotonic() + float(query.get("listOptions.timeoutSeconds") or 30)
            while not state.closing and time.monotonic() < deadline:
                with state.lock:
                    if position >= len(state.events):
                        state.lock.wait(0.2)
                    pending = state.events[position:]
                    position = len(state.events)
                for _, kind, obj in pending:
                    if not visible(obj):
                        continue
                    if budget is not None and sent >= budget:
                        return self._end_stream()
                    self._chunk({"result": {"type": kind, "object": obj}})
                    sent += 1
            return self._end_stream()
        except (BrokenPipeError, ConnectionResetError):
            return None

    def _logs(self, namespace: str, name: str, query: dict[str, str]) -> None:
        state = self.server.state
        if (namespace, name) not in state.workflows:
            return self._error(404, f'workflows.argoproj.io "{name}" not found')
        pod = query.get("podName", "")
        text = state.logs.get((namespace, pod), "")
        lines = text.splitlines()
        if query.get("logOptions.tailLines"):
            lines = lines[-int(query["logOptions.tailLines"]):]
        self._start_stream()
        for line in lines:
            self._chunk({"result": {"content": line, "podName": pod}})
        return self._end_stream()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    state: State
    token: str
    base_path: str
    namespaces: set[str]


class FakeArgoServer:
    """The running fake: ``url`` (with the base path), ``token``, and helpers to drive and break it."""

    def __init__(self, tmp_path: Path, *, tls: bool = False, base_path: str = "/") -> None:
        self.state = State()
        self.token = TOKEN
        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.state, self.server.token = self.state, TOKEN
        self.server.base_path, self.server.namespaces = base_path, set(NAMESPACES)
        self.cert: str | None = None
        if tls:
            self.cert, key = self_signed_cert(tmp_path)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        host, port = self.server.server_address[:2]
        scheme = "https" if tls else "http"
        self.address = f"{host}:{port}"
        self.url = f"{scheme}://{host}:{port}{base_path}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.state.closing = True
        with self.state.lock:
            self.state.lock.notify_all()
        self.server.shutdown()
        self.server.server_close()

    # -- driving runs ------------------------------------------------------------------------------------

    def workflows(self, namespace: str = "argo") -> list[dict[str, Any]]:
        with self.state.lock:
            return [copy.deepcopy(w) for (ns, _), w in self.state.workflows.items() if ns == namespace]

    def workflow(self, name: str, namespace: str = "argo") -> dict[str, Any]:
        with self.state.lock:
            return copy.deepcopy(self.state.workflows[(namespace, name)])

    def advance(self, name: str, phase: str, steps: dict[str, str] | None = None, *,
                namespace: str = "argo", messages: dict[str, str] | None = None,
                logs: dict[str, str] | None = None) -> None:
        """Move run ``name`` to ``phase`` with these step phases (and logs), as the controller would."""
        with self.state.lock:
            workflow = self.state.workflows[(namespace, name)]
            workflow["status"] = status(workflow, phase, steps, messages)
            labels = workflow.setdefault("metadata", {}).setdefault("labels", {})
            labels["workflows.argoproj.io/phase"] = phase
            for task, text in (logs or {}).items():
                self.state.logs[(namespace, pod_for(workflow, task))] = text
            self.state.record("MODIFIED", workflow)

    def add_run(self, workflow: dict[str, Any], namespace: str = "argo") -> dict[str, Any]:
        """Store a run directly (as if created by someone else)."""
        workflow = copy.deepcopy(workflow)
        workflow["metadata"]["namespace"] = namespace
        with self.state.lock:
            key = (namespace, workflow["metadata"]["name"])
            self.state.workflows[key] = self.state.record("ADDED", workflow)
        return workflow

    def objects(self, kind_path: str, namespace: str = "argo") -> list[dict[str, Any]]:
        """The stored ``cron-workflows`` or ``workflow-templates`` of a namespace."""
        with self.state.lock:
            store = self.state.objects.get(kind_path, {})
            return [copy.deepcopy(o) for (ns, _), o in sorted(store.items()) if ns == namespace]

    # -- breaking it -----------------------------------------------------------------------------------

    def fail(self, pattern: str, status_code: int, *, times: int = 1, after_write: bool = False,
             message: str = "injected fault") -> Fault:
        """Answer ``status_code`` to the next ``times`` requests matching ``METHOD /api/v1/...`` regex."""
        fault = Fault(pattern, status=status_code, times=times, after_write=after_write, message=message)
        self.state.faults.append(fault)
        return fault

    def slow(self, pattern: str, seconds: float, *, times: int = 1) -> Fault:
        fault = Fault(pattern, delay=seconds, times=times)
        self.state.faults.append(fault)
        return fault

    def drop_stream(self, after: int = 0, *, times: int = 1) -> None:
        """End each of the next ``times`` event streams after ``after`` events."""
        self.state.drops.extend([after] * times)

    def requests(self, method: str | None = None, pattern: str = "") -> list[tuple[str, str, dict[str, str]]]:
        return [(m, p, q) for m, p, q, _ in self.state.requests
                if (method is None or m == method) and re.search(pattern, p)]

    def headers_seen(self) -> list[dict[str, str]]:
        return [h for *_, h in self.state.requests]


@pytest.fixture(name="argo_server")
def argo_server_fixture(tmp_path: Path) -> Iterator[FakeArgoServer]:
    """A plain-HTTP fake Argo Server at ``/``, namespace ``argo`` among others."""
    fake = FakeArgoServer(tmp_path)
    try:
        yield fake
    finally:
        fake.close()
