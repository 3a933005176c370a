"""How cluster calls fail, and what is done about it: shared by both backends and the workspace.

A client library's exceptions are mapped once, at the boundary, by a context manager (``errors``:
:func:`kale_argo.cluster.kube.kube_errors`, :func:`kale_argo.cluster.argo_server.server_errors`) into
two neutral ones, :class:`HTTPFailure` and :class:`Transient`; :func:`with_retries` repeats safe
calls and turns the last failure into the one-line error of :mod:`kale_argo.errors`. Every call names
what it does (:class:`Call`: verb, resource, namespace, name), so a 403 can say which permission is
missing where. Request timeouts and the watch window are defined here for every client.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TypeVar

from ..errors import AuthError, ClusterError, ConnectionFailed, NotFoundError
from .redact import redact

log = logging.getLogger(__name__)
T = TypeVar("T")

TIMEOUT = (5.0, 30.0)  # connect, read
WATCH_WINDOW = 60  # seconds a single watch request lasts on the server
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TLS_HINT = ("check the server's certificate and CA; to skip verification (insecure) pass "
            "--insecure-skip-verify or set ARGO_INSECURE_SKIP_VERIFY=true")
KUBE_TLS_HINT = ("check the cluster's certificate-authority in the kubeconfig; to skip verification "
                 "(insecure) set insecure-skip-tls-verify: true on the kubeconfig's cluster")
KUBE_SERVER = "the Kubernetes API at "
#: What OpenSSL says when the other end answers a TLS handshake in plain HTTP.
PLAIN_HTTP = ("WRONG_VERSION_NUMBER", "wrong version number", "record layer failure", "http request",
              "packet length too long")
PLAIN_HTTP_HINT = ("the server speaks plain HTTP: set ARGO_SECURE=false, or give an http:// URL "
                   "(--argo-server http://HOST:PORT)")

#: Called before each retry as ``(delay seconds, attempt, attempts, reason)``; the default logs a
#: warning ("retrying in N s (attempt k/n): reason") that the CLI shows on stderr.
RetryReport = Callable[[float, int, int, str], None]


def log_retry(delay: float, attempt: int, attempts: int, reason: str) -> None:
    """The default :data:`RetryReport`: a warning on the ``kale_argo.cluster.failures`` logger."""
    log.warning("retrying in %.1f s (attempt %d/%d): %s", delay, attempt + 1, attempts, reason)


on_retry: RetryReport = log_retry


#: How a resource is named to users, and how to list what exists of it.
NOUNS = {"workflows": "run", "cronworkflows": "schedule", "workflowtemplates": "template"}
LIST_HINTS = {"cronworkflows": "kale-argo schedule list", "workflowtemplates": "kale-argo template list"}


@dataclass(frozen=True)
class Call:
    """One API call, described the way Kubernetes RBAC names it."""

    verb: str
    resource: str
    namespace: str | None = None
    name: str | None = None
    group: str = "argoproj.io"

    def target(self) -> str:
        noun = NOUNS.get(self.resource, self.resource)
        what = f"{noun} {self.name!r}" if self.name else self.resource
        return f"{what} in namespace {self.namespace!r}" if self.namespace else what


class HTTPFailure(Exception):
    """A non-2xx answer, backend-neutral: status code and the server's message (already redacted)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = redact(message)
        super().__init__(f"HTTP {status}: {self.message}")


class Transient(Exception):
    """A connection-level failure that may succeed when repeated (refused, reset, timed out)."""

    def __init__(self, message: str, *, tls: bool = False, timeout: bool = False) -> None:
        self.tls = tls
        self.timeout = timeout
        super().__init__(redact(message))


def cluster_error(exc: HTTPFailure, call: Call, *, server: str) -> ClusterError:
    """The one-line error for an HTTP failure of ``call`` on ``server``."""
    if exc.status == 401:
        return AuthError(f"{server} rejected the credentials (401 Unauthorized) when trying to "
                         f"{call.verb} {call.target()}",
                         hint="check the token (--token / ARGO_TOKEN) or the kubeconfig user; "
                              "it may have expired")
    if exc.status == 403:
        group = f" (API group {call.group!r})" if call.group else ""
        said = f": {exc.message[:200]}" if exc.message else ""
        return AuthError(f"permission denied: cannot {call.verb} {call.resource}{group} in namespace "
                         f"{call.namespace!r} (403 Forbidden{said})",
                         hint=f"grant the verb {call.verb!r} on {call.resource!r} in {call.namespace!r} "
                              "to your user or service account (a Role and RoleBinding)")
    if exc.status == 404:
        if re.search(r'namespaces? "?[^"\s]*"? not found', exc.message):
            return NotFoundError(f"namespace {call.namespace!r} does not exist on {server}",
                                 where="--namespace", hint="check the name with `kubectl get namespaces`")
        if call.name:
            return NotFoundError(f"{call.target()} not found on {server}",
                                 hint=f"list them with `{LIST_HINTS.get(call.resource, 'kale-argo list')}`")
        return NotFoundError(f"{call.resource} not found on {server}: {exc.message}",
                             hint="is Argo Workflows installed (its CRDs / the Argo Server path)?")
    if exc.status == 409:
        return ClusterError(f"{call.target()} already exists (409 Conflict)",
                            hint=f"use another name, or delete the old {NOUNS.get(call.resource, 'object')}")
    return ClusterError(f"{server} answered {exc.status} when trying to {call.verb} {call.target()}: "
                        f"{exc.message}")


def connection_error(exc: Transient, *, server: str) -> ConnectionFailed:
    """The one-line error when ``server`` cannot be reached."""
    if exc.tls and any(marker in str(exc) for marker in PLAIN_HTTP):
        kube = server.startswith(KUBE_SERVER)
        return ConnectionFailed(f"{server} does not speak HTTPS (a plain-HTTP server answered the TLS "
                                f"handshake: {exc})",
                                hint="use an http:// server address in the kubeconfig" if kube
                                else PLAIN_HTTP_HINT)
    if exc.tls:
        hint = KUBE_TLS_HINT if server.startswith(KUBE_SERVER) else TLS_HINT
        verify = "CERTIFICATE_VERIFY_FAILED" in str(exc) or "certificate" in str(exc).lower()
        what = "TLS verification failed" if verify else "the TLS handshake failed"
        return ConnectionFailed(f"{what} for {server}: {exc}", hint=hint)
    if exc.timeout:
        return ConnectionFailed(f"{server} did not answer in time: {exc}",
                                hint="check the server address and the network; retry later")
    return ConnectionFailed(f"cannot connect to {server}: {exc}",
                            hint="check the server address (--argo-server / ARGO_SERVER, or the kubeconfig)")


def is_tls_error(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause chain) is a certificate/TLS failure."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(seen) or \
                type(seen).__name__ == "SSLError":
            return True
        seen = seen.__cause__ or seen.__context__ or (seen.args[0] if seen.args and
                                                       isinstance(seen.args[0], BaseException) else None)
    return False


Errors = Callable[[], AbstractContextManager[None]]


def with_retries(fn: Callable[[], T], call: Call, *, server: str, errors: Errors = contextlib.nullcontext,
                 safe: bool = True, attempts: int = 5, base_delay: float = 0.2, max_delay: float = 3.0,
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``fn`` under ``errors()`` (the client's mapping); retry Transient failures and 5xx/429
    with jittered exponential backoff when ``safe``.

    Raises the one-line ClusterError/ConnectionFailed for the last failure. An unsafe call (a
    create) is never repeated here: the caller decides, after looking the object up. Each retry is
    reported through :data:`on_retry` (never printed here).
    """
    for attempt in range(1, attempts + 1):
        try:
            with errors():
                return fn()
        except HTTPFailure as exc:
            if not (safe and exc.status in RETRY_STATUSES and attempt < attempts):
                raise cluster_error(exc, call, server=server) from None
            reason = f"{server} answered {exc.status} to {call.verb} {call.target()}"
        except Transient as exc:
            if exc.tls or not safe or attempt >= attempts:
                raise connection_error(exc, server=server) from None
            reason = f"cannot {call.verb} {call.target()} on {server}: {exc}"
        delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
        on_retry(delay, attempt, attempts, reason)
        sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def mapped(iterable: Iterable[T], errors: Errors) -> Iterator[T]:
    """Iterate ``iterable`` (a stream) with each step under ``errors()`` (failures mapped)."""
    iterator = iter(iterable)
    while True:
        with errors():
            try:
                item = next(iterator)
            except StopIteration:
                return
        yield item
