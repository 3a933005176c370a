"""The Kubeflow Pipelines shape: Argo's workflow-controller only, runs submitted as Workflows through
the kubernetes backend, and the Argo UI overlay (manifests/overlays/kfp-argo-ui) to look at them.

KFP installs the controller without argo-server; here the quick-start's argo-server is scaled to
zero for the module (and back afterwards, for the argo-server backend's tests), so nothing can
reach an Argo Server. The UI overlay is then applied as KFP users would, renamed into this
cluster's Argo namespace, and the link kale-argo prints is followed.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kind_env import NAMESPACE, PIPELINES, ROOT, SUBMIT_FLAGS, Cluster

UI_OVERLAY = ROOT / "manifests" / "overlays" / "kfp-argo-ui"
UI = "argo-ui"


def _out(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


def ui_objects(cluster: Cluster) -> list[dict[str, Any]]:
    """The UI overlay as kustomize renders it, moved from KFP's namespace into this cluster's."""
    rendered = cluster.kubectl("kustomize", str(UI_OVERLAY)).stdout
    objects = [o for o in yaml.safe_load_all(rendered) if o]
    for obj in objects:
        obj["metadata"]["namespace"] = NAMESPACE
        for subject in obj.get("subjects", []):
            if subject.get("kind") == "ServiceAccount":
                subject["namespace"] = NAMESPACE
    return objects


@pytest.fixture(scope="module")
def controller_only(cluster: Cluster) -> Iterator[Cluster]:
    """No argo-server running (as on KFP) for this module; it comes back afterwards."""
    cluster.kubectl("scale", "deploy/argo-server", "-n", NAMESPACE, "--replicas=0")
    deadline = time.monotonic() + 180
    while cluster.json("get", "pods", "-l", "app=argo-server", "-n", NAMESPACE)["items"]:
        assert time.monotonic() < deadline, "argo-server's pods are still there 180 s after scaling to 0"
        time.sleep(3)
    try:
        yield cluster
    finally:
        cluster.kubectl("scale", "deploy/argo-server", "-n", NAMESPACE, "--replicas=1")
        cluster.kubectl("rollout", "status", "deploy/argo-server", "-n", NAMESPACE, "--timeout=300s")


@pytest.fixture(scope="module")
def argo_ui(controller_only: Cluster) -> Iterator[int]:
    """The overlay's Argo Server running next to the controller; yields its port-forwarded port."""
    cluster = controller_only
    manifest = yaml.safe_dump_all(ui_objects(cluster))
    cluster.kubectl("apply", "-f", "-", input=manifest)
    try:
        cluster.kubectl("rollout", "status", f"deploy/{UI}", "-n", NAMESPACE, "--timeout=300s")
        with cluster.port_forward(f"svc/{UI}", 2746) as port:
            yield port
    finally:
        cluster.kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=false", input=manifest,
                        check=False)


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    """GET over the UI's self-signed TLS."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, context=context, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_controller_only_runs_through_the_kubernetes_backend(controller_only: Cluster) -> None:
    cluster = controller_only
    argo_server = cluster.json("get", "deploy/argo-server", "-n", NAMESPACE)
    assert argo_server["spec"]["replicas"] == 0 and not argo_server["status"].get("readyReplicas")
    before = set(cluster.workflows())
    proc = cluster.kale("submit", str(PIPELINES / "e2e_ok.py"), "--backend", "kubernetes", *SUBMIT_FLAGS,
                        "-p", "n=4", "--watch")
    assert proc.returncode == 0, _out(proc)
    (run,) = [n for n in cluster.workflows() if n not in before]
    assert cluster.phase(run) == "Succeeded"
    assert "Argo UI:" not in proc.stdout, "a link was printed with no UI URL configured"
    expected = sum(range(4)) + sum(x * x for x in range(4))
    logs = cluster.kale("logs", run, "--step", "total", "--backend", "kubernetes", "--namespace", NAMESPACE)
    assert logs.returncode == 0 and f"E2E-TOTAL={expected}" in logs.stdout, _out(logs)
    listed = cluster.kale("list", "--pipeline", "e2e-ok", "--backend", "kubernetes", "--namespace", NAMESPACE)
    assert listed.returncode == 0 and run in listed.stdout, _out(listed)


def test_the_ui_overlay_shows_the_run_kale_argo_links_to(controller_only: Cluster, argo_ui: int) -> None:
    cluster, base = controller_only, f"https://localhost:{argo_ui}/"
    before = set(cluster.workflows())
    proc = cluster.kale("submit", str(PIPELINES / "e2e_ok.py"), "--backend", "kubernetes", *SUBMIT_FLAGS,
                        "-p", "n=2", "--watch", env=cluster.env(KALE_ARGO_UI_URL=base))
    assert proc.returncode == 0, _out(proc)
    (run,) = [n for n in cluster.workflows() if n not in before]
    link = f"{base}workflows/{NAMESPACE}/{run}"
    assert f"Argo UI: {link}" in proc.stdout, _out(proc)

    status, page = _get(link)  # the UI's page for the run (its single-page app)
    assert status == 200 and b"<html" in page.lower(), (status, page[:200])
    # client auth mode: no token, no data; the runner's token sees exactly what its RBAC allows
    status, _ = _get(f"{base}api/v1/workflows/{NAMESPACE}/{run}")
    assert status == 401, status
    status, body = _get(f"{base}api/v1/workflows/{NAMESPACE}/{run}", cluster.token())
    assert status == 200, body[:300]
    assert json.loads(body)["status"]["phase"] == "Succeeded"
