"""One test surface over both fakes, so each contract test runs against both backends.

A :class:`Driver` has the backend under test and the fake's controls (advance a run, inject faults)
phrased in backend-neutral terms.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kale_argo.cluster.argo_server import ArgoServerBackend
from kale_argo.cluster.backend import get_backend
from tests.fakes.argo_server import FakeArgoServer
from tests.fakes.kube import FakeKube


def fast_sleep(seconds: float) -> None:
    """Backoff for tests: the same schedule, ten times shorter."""
    time.sleep(seconds / 10)


@dataclass
class Driver:
    """The backend under test and the knobs of its fake."""

    kind: str
    backend: Any
    namespace: str
    fake: Any
    workflows_path: str  # regex matching the namespace's workflows collection path
    connection: dict[str, Any]  # flags for get_backend / the CLI

    def advance(self, name: str, phase: str, steps: dict[str, str] | None = None, **kwargs: Any) -> None:
        if self.kind == "kubernetes":
            self.fake.advance_run(name, phase, steps, namespace=self.namespace, **kwargs)
        else:
            self.fake.advance(name, phase, steps, namespace=self.namespace, **kwargs)

    def later(self, *moves: tuple[Any, ...], delay: float = 0.2) -> threading.Thread:
        """Apply ``(name, phase, steps[, kwargs])`` moves one after another in the background."""
        def run() -> None:
            for move in moves:
                time.sleep(delay)
                name, phase, steps, *rest = move
                self.advance(name, phase, steps, **(rest[0] if rest else {}))
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def fail(self, method: str, suffix: str, status: int, **kwargs: Any) -> Any:
        """Inject ``status`` for ``METHOD <workflows path><suffix>``."""
        return self.fake.fail(f"^{method} {self.workflows_path}{suffix}$", status, **kwargs)

    def slow(self, method: str, suffix: str, seconds: float, **kwargs: Any) -> Any:
        return self.fake.slow(f"^{method} {self.workflows_path}{suffix}$", seconds, **kwargs)

    def drop_stream(self, after: int = 0, times: int = 1) -> None:
        if self.kind == "kubernetes":
            self.fake.drop_watch(after, times=times)
        else:
            self.fake.drop_stream(after, times=times)

    def stored(self) -> list[dict[str, Any]]:
        if self.kind == "kubernetes":
            return self.fake.list("argoproj.io/v1alpha1/workflows", self.namespace)
        return self.fake.workflows(self.namespace)

    def make_backend(self, **overrides: Any) -> Any:
        backend = get_backend(self.kind, **{**self.connection, **overrides})
        backend.sleep = fast_sleep
        return backend


def kube_driver(tmp_path: Path) -> tuple[Driver, Callable[[], None]]:
    fake = FakeKube(tmp_path)
    connection = {"kubeconfig": fake.kubeconfig, "namespace": "default"}
    backend = get_backend("kubernetes", **connection)
    backend.sleep = fast_sleep
    return Driver("kubernetes", backend, "default", fake,
                  "/apis/argoproj.io/v1alpha1/namespaces/default/workflows", connection), fake.close


def argo_driver(tmp_path: Path) -> tuple[Driver, Callable[[], None]]:
    fake = FakeArgoServer(tmp_path)
    connection = {"argo_server": fake.url, "token": fake.token, "namespace": "argo"}
    backend = ArgoServerBackend(fake.url, "argo", token=fake.token, sleep=fast_sleep)
    return Driver("argo-server", backend, "argo", fake, "/api/v1/workflows/argo", connection), fake.close


@pytest.fixture(name="driver", params=["kubernetes", "argo-server"])
def driver_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Driver]:
    """Each backend in turn, against its fake."""
    make = kube_driver if request.param == "kubernetes" else argo_driver
    driver, close = make(tmp_path)
    try:
        yield driver
    finally:
        close()
