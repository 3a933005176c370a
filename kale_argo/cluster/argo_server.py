"""The argo-server backend: the Argo Server's REST API through Hera's ``WorkflowsService``.

Settings come from flags or the argo CLI's environment: ``ARGO_SERVER`` (``host:port`` or a URL),
``ARGO_SECURE`` (https unless ``false``), ``ARGO_INSECURE_SKIP_VERIFY``, ``ARGO_BASE_HREF`` (a path
prefix such as ``/argo/``), ``ARGO_TOKEN`` and ``ARGO_NAMESPACE``. TLS is verified by default (a
private CA via ``REQUESTS_CA_BUNDLE``). Streams Hera does not wrap (workflow events, logs) use the
same ``requests`` session directly.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import json
import logging
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import requests

from ..errors import ConfigError
from .backend import (
    OBJECT_KINDS,
    LogLine,
    conflict_error,
    create_once,
    filter_phases,
    label_selector,
    log_steps,
)
from .failures import TIMEOUT, Call, HTTPFailure, Transient, is_tls_error, mapped, with_retries
from .redact import Secret, redact, register_secret
from .status import metadata
from .watch import watch_run

log = logging.getLogger(__name__)
TRUE = ("1", "true", "yes", "on")


class _TimeoutSession(requests.Session):
    """A requests session that always has a timeout (Hera's service sets none)."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", TIMEOUT)
        return super().request(method, url, **kwargs)


def _flag(value: str | None) -> bool | None:
    return None if value is None or value == "" else value.strip().lower() in TRUE


def plain_http_off_machine(url: str) -> bool:
    """Whether ``url`` is plain HTTP to another machine (a loopback port-forward is not)."""
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or ""
    return parsed.scheme == "http" and host not in ("localhost", "::1") and not host.startswith("127.")


def server_url(server: str, *, secure: bool = True, base_href: str | None = None) -> str:
    """``host:port`` or a URL, plus a base path, as ``scheme://host:port/base/`` (always ending in /)."""
    server = server.strip()
    if not re.match(r"^https?://", server):
        server = ("https://" if secure else "http://") + server
    parsed = urllib.parse.urlsplit(server)
    if not parsed.hostname:
        raise ConfigError(f"Argo Server address {server!r} has no host", where="--argo-server",
                          hint="e.g. https://argo.example.com:2746 or localhost:2746")
    path = parsed.path
    if base_href:
        path = path.rstrip("/") + "/" + base_href.strip("/")
    path = "/" + path.strip("/") + "/" if path.strip("/") else "/"
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", ""))


@contextlib.contextmanager
def server_errors() -> Iterator[None]:
    """Map Hera's and requests' exceptions to :class:`HTTPFailure` / :class:`Transient`."""
    from hera.exceptions import HeraException

    try:
        yield
    except HeraException as exc:
        text = str(exc)
        match = re.search(r"status code (\d{3})", text)
        status = getattr(exc, "status_code", None) or (int(match[1]) if match else 500)
        message = re.sub(r"^Server returned status code \d{3} with message: `?|`$", "", text)
        raise HTTPFailure(int(status), message) from None
    except requests.exceptions.SSLError as exc:
        raise Transient(_first(exc), tls=True) from None
    except requests.exceptions.Timeout as exc:
        raise Transient(_first(exc), timeout=True) from None
    except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise Transient(_first(exc), tls=is_tls_error(exc)) from None


def _first(exc: BaseException) -> str:
    text = redact(exc)
    match = re.search(r"\[SSL: [A-Z_]+\][^')\"]*|Connection refused|Read timed out|Name or service not known"
                      r"|timed out|Connection reset by peer|Failed to resolve [^)]*", text)
    return match[0] if match else text.splitlines()[0][:200] if text else type(exc).__name__


def _check(response: requests.Response) -> requests.Response:
    if response.status_code >= 400:
        try:
            message = response.json().get("message") or response.text
        except ValueError:
            message = response.text
        response.close()
        raise HTTPFailure(response.status_code, message[:500])
    return response


class ArgoServerBackend:
    """Runs through an Argo Server (``/api/v1/...``), with Hera's WorkflowsService."""

    kind = "argo-server"

    def __init__(self, url: str, namespace: str, *, token: str | None = None, verify: bool = True,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        from hera.workflows.service import WorkflowsService

        self.url = url if url.endswith("/") else url + "/"
        self.namespace = namespace
        self.server = f"the Argo Server at {self.url}"
        self._token: Secret | None = register_secret(token)
        self.session = _TimeoutSession()
        self.session.verify = verify
        self.service = WorkflowsService(host=self.url, token=self._token, verify_ssl=verify,
                                        namespace=namespace, session=self.session)
        if self.service.token:
            register_secret(self.service.token)
            if plain_http_off_machine(self.url):
                log.warning("the Argo Server token is sent over plain HTTP to %s, readable on the way: "
                            "use an https:// address (ARGO_SECURE=true)", self.url)
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"ArgoServerBackend(url={self.url!r}, namespace={self.namespace!r}, token=***)"

    @classmethod
    def from_settings(cls, *, argo_server: str | None = None, token: str | None = None,
                      namespace: str | None = None, insecure_skip_verify: bool | None = None,
                      base_href: str | None = None, context: str | None = None,
                      kubeconfig: str | None = None) -> ArgoServerBackend:
        """From flags, falling back to the argo CLI's environment variables."""
        env = os.environ
        server = argo_server or env.get("ARGO_SERVER")
        if not server:
            raise ConfigError("no Argo Server configured", where="--argo-server",
                              hint="pass --argo-server URL or set ARGO_SERVER, or use --backend kubernetes")
        secure = _flag(env.get("ARGO_SECURE"))
        skip = insecure_skip_verify if insecure_skip_verify is not None else _flag(
            env.get("ARGO_INSECURE_SKIP_VERIFY"))
        url = server_url(server, secure=secure is not False, base_href=base_href or env.get("ARGO_BASE_HREF"))
        if not namespace:
            namespace = env.get("ARGO_NAMESPACE")
        if not namespace:
            from .kube import default_namespace

            namespace = default_namespace(context, kubeconfig)
        return cls(url, namespace, token=token or env.get("ARGO_TOKEN") or None, verify=not skip)

    def _call(self, verb: str, name: str | None = None) -> Call:
        return Call(verb, "workflows", self.namespace, name)

    def _retry(self, fn: Callable[[], Any], call: Call, *, safe: bool = True) -> Any:
        return with_retries(fn, call, server=self.server, errors=server_errors, safe=safe, sleep=self.sleep)

    @staticmethod
    def _dict(model: Any) -> dict[str, Any]:
        return model.model_dump(mode="json", by_alias=True, exclude_none=True)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": str(self.service.token)} if self.service.token else {}

    def _stream(self, path: str, params: dict[str, Any], read_timeout: float | None) -> requests.Response:
        return _check(self.session.get(self.url + path, params=params, headers=self._headers(), stream=True,
                                       timeout=(TIMEOUT[0], read_timeout)))

    # -- the interface ----------------------------------------------------------------------------------

    def create(self, workflow: dict[str, Any]) -> dict[str, Any]:
        from hera.workflows.models import Workflow, WorkflowCreateRequest

        name = metadata(workflow).get("name")
        request = WorkflowCreateRequest(workflow=Workflow(**workflow), namespace=self.namespace)
        def once() -> dict[str, Any]:
            with server_errors():
                return self._dict(self.service.create_workflow(request, self.namespace))

        return create_once(once, lambda: self._maybe_get(name), workflow, self._call("create", name),
                           server=self.server, sleep=self.sleep)

    def _maybe_get(self, name: str | None) -> dict[str, Any] | None:
        if not name:
            return None
        try:
            with server_errors():
                return self._dict(self.service.get_workflow(name, self.namespace))
        except HTTPFailure as exc:
            if exc.status == 404:
                return None
            raise

    def get(self, name: str) -> dict[str, Any]:
        return self._dict(self._retry(lambda: self.service.get_workflow(name, self.namespace),
                                      self._call("get", name)))

    def list(self, *, pipeline: str | None = None, experiment: str | None = None,
             phases: Sequence[str] = (), selector: str | None = None,
             all_namespaces: bool = False) -> list[dict[str, Any]]:
        chosen = label_selector(pipeline, experiment, selector) or None
        if all_namespaces:  # the argo CLI's -A: the collection without a namespace
            call = Call("list", "workflows")
            response = self._retry(functools.partial(
                self._get_json, "api/v1/workflows/", {"listOptions.labelSelector": chosen}), call)
            return filter_phases(list(response.get("items") or []), phases)
        answer = self._retry(lambda: self.service.list_workflows(self.namespace, label_selector=chosen),
                             self._call("list"))
        return filter_phases([self._dict(w) for w in answer.items or []], phases)

    def _get_json(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        response = _check(self.session.get(self.url + path, params=params, headers=self._headers()))
        return dict(response.json())

    def watch(self, name: str, *, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        def events(version: str | None, seconds: int) -> Iterator[dict[str, Any]]:
            params = {"listOptions.fieldSelector": f"metadata.name={name}",
                      "listOptions.resourceVersion": version, "listOptions.timeoutSeconds": str(seconds)}
            with server_errors():
                response = self._stream(f"api/v1/workflow-events/{self.namespace}", params, seconds + 1)
            try:
                yield from mapped(list_lines(response), server_errors)
            finally:
                response.close()

        return watch_run(name, self.namespace, get=lambda: self.get(name), events=events,
                         server=self.server, timeout=timeout, sleep=self.sleep)

    def logs(self, name: str, *, step: str | None = None, follow: bool = False,
             tail: int | None = None, since: int | None = None,
             timestamps: bool = False) -> Iterator[LogLine]:
        chosen = log_steps(self.get(name), step)
        for status in chosen:
            params: dict[str, Any] = {"podName": status.pod, "logOptions.container": "main",
                                      "logOptions.follow": str(follow).lower()}
            if tail is not None:
                params["logOptions.tailLines"] = str(tail)
            if since is not None:
                params["logOptions.sinceSeconds"] = str(since)
            if timestamps:
                params["logOptions.timestamps"] = "true"
            call = Call("get", "pods/log", self.namespace, status.pod, "")
            response = self._retry(functools.partial(
                self._stream, f"api/v1/workflows/{self.namespace}/{name}/log", params,
                None if follow else TIMEOUT[1]), call)
            try:
                for entry in mapped(list_lines(response), server_errors):
                    content = entry.get("content")
                    if content is not None:
                        yield from (LogLine(status.name, line) for line in str(content).split("\n"))
            finally:
                response.close()

    def stop(self, name: str) -> dict[str, Any]:
        from hera.workflows.models import WorkflowStopRequest

        request = WorkflowStopRequest(name=name, namespace=self.namespace)
        return self._dict(self._retry(lambda: self.service.stop_workflow(name, request, self.namespace),
                                      self._call("update", name)))

    def terminate(self, name: str) -> dict[str, Any]:
        from hera.workflows.models import WorkflowTerminateRequest

        request = WorkflowTerminateRequest(name=name, namespace=self.namespace)
        return self._dict(self._retry(lambda: self.service.terminate_workflow(name, request, self.namespace),
                                      self._call("update", name)))

    def retry(self, name: str) -> dict[str, Any]:
        from hera.workflows.models import WorkflowRetryRequest

        request = WorkflowRetryRequest(name=name, namespace=self.namespace)
        return self._dict(self._retry(lambda: self.service.retry_workflow(name, request, self.namespace),
                                      self._call("update", name), safe=False))

    def delete(self, name: str) -> None:
        self._retry(lambda: self.service.delete_workflow(name, self.namespace), self._call("delete", name))

    def ui_link(self, name: str) -> str | None:
        return f"{self.url}workflows/{self.namespace}/{name}"

    # -- CronWorkflows and WorkflowTemplates -------------------------------------------------------------

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = _check(self.session.request(method, self.url + path, json=body, params=params,
                                               headers=self._headers()))
        return dict(response.json() or {})

    def _object_call(self, verb: str, plural: str, name: str | None = None) -> Call:
        return Call(verb, plural, self.namespace, name)

    def _object_path(self, plural: str, name: str | None = None, action: str | None = None) -> str:
        path = f"api/v1/{OBJECT_KINDS[plural][0]}/{self.namespace}"
        return path + (f"/{name}" if name else "") + (f"/{action}" if action else "")

    def create_object(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        name = metadata(body).get("name")
        request = {"namespace": self.namespace, OBJECT_KINDS[plural][1]: body}

        def once() -> dict[str, Any]:
            with server_errors():
                return self._json("POST", self._object_path(plural), request)

        def lookup() -> dict[str, Any] | None:
            try:
                with server_errors():
                    return self._json("GET", self._object_path(plural, name))
            except HTTPFailure as exc:
                if exc.status == 404:
                    return None
                raise

        return create_once(once, lookup, body, self._object_call("create", plural, name), server=self.server,
                           sleep=self.sleep)

    def get_object(self, plural: str, name: str) -> dict[str, Any]:
        return self._retry(functools.partial(self._json, "GET", self._object_path(plural, name)),
                           self._object_call("get", plural, name))

    def list_objects(self, plural: str, *, selector: str | None = None) -> builtins.list[dict[str, Any]]:
        params = {"listOptions.labelSelector": selector} if selector else None
        answer = self._retry(functools.partial(self._json, "GET", self._object_path(plural), None, params),
                             self._object_call("list", plural))
        return list(answer.get("items") or [])

    def replace_object(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        name = str(metadata(body).get("name"))
        call = self._object_call("update", plural, name)
        request = {"name": name, "namespace": self.namespace, OBJECT_KINDS[plural][1]: body}

        def put() -> dict[str, Any]:
            try:
                return self._json("PUT", self._object_path(plural, name), request)
            except HTTPFailure as exc:
                if exc.status == 409:
                    raise conflict_error(call) from None
                raise

        return self._retry(put, call)

    def delete_object(self, plural: str, name: str) -> None:
        self._retry(functools.partial(self._json, "DELETE", self._object_path(plural, name)),
                    self._object_call("delete", plural, name))

    def suspend_schedule(self, name: str, suspend: bool) -> dict[str, Any]:
        action = "suspend" if suspend else "resume"
        return self._retry(functools.partial(
            self._json, "PUT", self._object_path("cronworkflows", name, action),
            {"name": name, "namespace": self.namespace}), self._object_call("update", "cronworkflows", name))


def list_lines(response: requests.Response) -> Iterator[dict[str, Any]]:
    """The ``result`` objects of a grpc-gateway stream (JSON lines, or server-sent ``data:`` lines)."""
    for raw in response.iter_lines(chunk_size=1024, decode_unicode=False):
        line = raw.decode(errors="replace").strip() if raw else ""
        if line.startswith("data:"):
            line = line[5:].strip()
        if not line or line.startswith((":", "event:", "id:")):
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if item.get("error"):
            error = item["error"]
            code = int(error.get("http_code") or error.get("code") or 500)
            raise HTTPFailure(code, error.get("message", ""))
        if isinstance(item.get("result"), dict):
            yield item["result"]
