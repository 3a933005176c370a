"""The kind e2e suite's fixtures: one cluster per session, the CLI's environments, diagnostics.

The whole suite skips with one reason when it cannot run here (not opted in with
KALE_ARGO_E2E=1, no Docker engine, no internet); see ``kind_env.skip_reason``. Set
KALE_ARGO_E2E_KEEP=1 to keep the cluster for debugging (the next run reuses it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kind_env import (
    E2E_DIR,
    NAMESPACE,
    Cluster,
    create_cluster,
    delete_cluster,
    install,
    skip_reason,
)

_REASON: list[str | None] = []
TEST_TIMEOUT = 3600


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every e2e test; skip them all, with one reason, when the suite cannot run here."""
    ours = [item for item in items if E2E_DIR in Path(str(item.path)).parents]
    if not ours:
        return
    if not _REASON:
        _REASON.append(skip_reason())
    for item in ours:
        item.add_marker(pytest.mark.e2e)
        # the first test also sets up the cluster (image build, installs): far beyond the suite's 300 s
        item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))
        if _REASON[0]:
            item.add_marker(pytest.mark.skip(reason=_REASON[0]))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """A kind cluster with the snapshot controller, csi-hostpath, Argo, the step image and our RBAC."""
    kube = create_cluster()
    try:
        try:
            install(kube)
        except Exception:
            _save_diagnostics(kube, "setup")
            raise
        yield kube
    finally:
        delete_cluster(kube)


@pytest.fixture(autouse=True)
def _diagnose_failures(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a failed e2e test, save the cluster's state and attach its head to the report."""
    yield
    if request.node.stash.get(FAILED, False) and "cluster" in request.fixturenames:
        kube: Cluster = request.getfixturevalue("cluster")
        path = _save_diagnostics(kube, request.node.name)
        request.node.add_report_section("teardown", "cluster diagnostics", f"saved to {path}")


def _save_diagnostics(kube: Cluster, label: str) -> Path:
    path = Path(kube.kind.path).resolve() / f"diagnostics-{re.sub(r'[^A-Za-z0-9_.-]', '_', label)}.txt"
    text = kube.diagnostics()
    path.write_text(text)
    print(f"cluster diagnostics written to {path}\n{text[-6000:]}")
    return path


@pytest.fixture(scope="session")
def kube_env(cluster: Cluster) -> dict[str, str]:
    """The CLI's environment for the kubernetes backend (the admin kubeconfig of the kind cluster)."""
    return cluster.env()


@pytest.fixture(scope="session")
def argo_server_env(cluster: Cluster) -> Iterator[dict[str, str]]:
    """The CLI's environment for the argo-server backend, as a user of the argo CLI would set it.

    Through a port-forward to argo-server (TLS, self-signed), with the runner service account's
    token (client auth mode), so the server acts with exactly the manifests' RBAC; no kubeconfig.
    """
    token = cluster.token()
    with cluster.port_forward("svc/argo-server", 2746) as port:
        yield cluster.env(ARGO_SERVER=f"localhost:{port}", ARGO_SECURE="true",
                          ARGO_INSECURE_SKIP_VERIFY="true", ARGO_NAMESPACE=NAMESPACE,
                          ARGO_TOKEN=f"Bearer {token}", KUBECONFIG="/dev/null")

