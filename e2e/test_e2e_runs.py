"""The kale-argo CLI against a real Argo on kind: submit/watch, status, logs, list, failure, retry,
terminate and delete, on the kubernetes backend and through argo-server."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from kind_env import COLOCATE, NAMESPACE, PIPELINES, ROOT, STEP_SA, SUBMIT_FLAGS, Cluster

from kale_argo.labels import ARGO_NODE_NAME_ANNOTATION

BACKENDS = ("kubernetes", "argo-server")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    """(backend name, the CLI's environment for it)."""
    fixture = "kube_env" if request.param == "kubernetes" else "argo_server_env"
    return request.param, request.getfixturevalue(fixture)


def submit(cluster: Cluster, backend: tuple[str, dict[str, str]], script: str, *extra: str,
           timeout: float = 900) -> tuple[subprocess.CompletedProcess[str], str]:
    """``kale-argo submit`` the script; returns the process and the name of the run it created."""
    name, env = backend
    pipeline = _pipeline_name(script)
    before = set(cluster.workflows())
    proc = cluster.kale("submit", script, "--backend", name, *SUBMIT_FLAGS, *extra, env=env, timeout=timeout)
    created = [n for n in cluster.workflows() if n not in before and n.startswith(pipeline)]
    assert len(created) == 1, f"expected one new {pipeline} run, found {created}\n{_out(proc)}"
    return proc, created[0]


def _pipeline_name(script: str) -> str:
    return {"e2e_ok": "e2e-ok", "e2e_fail": "e2e-fail", "e2e_sleep": "e2e-sleep",
            "binary_classification": "binary-classification"}[script.rsplit("/", 1)[-1].removesuffix(".py")]


def step_pods(cluster: Cluster, run: str, step: str) -> dict[str, str]:
    """uid -> name of the run's pods for ``step`` (by Argo's node-name annotation ``<run>.<step>``)."""
    pods = cluster.run_pods(run)
    return {p["metadata"]["uid"]: p["metadata"]["name"] for p in pods
            if p["metadata"].get("annotations", {}).get(ARGO_NODE_NAME_ANNOTATION, "").endswith(f".{step}")}


def _out(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


def _find(value: Any, predicate: Callable[[Any], bool]) -> bool:
    """Whether any value nested in a JSON document satisfies ``predicate``."""
    if predicate(value):
        return True
    if isinstance(value, dict):
        return any(_find(v, predicate) for v in value.values())
    if isinstance(value, list):
        return any(_find(v, predicate) for v in value)
    return False


def test_seed_example_runs_on_kubernetes_backend(cluster: Cluster, kube_env: dict[str, str]) -> None:
    """Kale's binary classification example, compiled, submitted and watched to the end."""
    script = str(ROOT / "examples" / "binary_classification.py")
    proc, run = submit(cluster, ("kubernetes", kube_env), script, COLOCATE, "-p", "n_samples=300", "--watch")
    assert proc.returncode == 0, _out(proc)
    assert cluster.phase(run) == "Succeeded"
    assert run in proc.stdout
    pods = cluster.run_pods(run)
    assert pods and all(p["spec"].get("serviceAccountName") == STEP_SA for p in pods)


def test_submit_watch_status_logs_list(cluster: Cluster, backend: tuple[str, dict[str, str]]) -> None:
    name, env = backend
    proc, run = submit(cluster, backend, str(PIPELINES / "e2e_ok.py"), "-p", "n=5", "--watch")
    assert proc.returncode == 0, _out(proc)
    assert cluster.phase(run) == "Succeeded"
    for step in ("produce", "square", "total"):
        assert step in proc.stdout, f"--watch did not show step {step}\n{_out(proc)}"

    status = cluster.kale("status", run, "-o", "json", "--backend", name, "--namespace", NAMESPACE, env=env)
    assert status.returncode == 0, _out(status)
    assert _find(json.loads(status.stdout), lambda v: v == "Succeeded")

    table = cluster.kale("status", run, "--backend", name, "--namespace", NAMESPACE, env=env)
    assert table.returncode == 0 and "total" in table.stdout and "Succeeded" in table.stdout, _out(table)

    expected = sum(range(5)) + sum(x * x for x in range(5))
    logs = cluster.kale("logs", run, "--step", "total", "--backend", name, "--namespace", NAMESPACE, env=env)
    assert logs.returncode == 0, _out(logs)
    assert f"E2E-TOTAL={expected}" in logs.stdout

    listed = cluster.kale("list", "--pipeline", "e2e-ok", "--backend", name, "--namespace", NAMESPACE,
                          env=env)
    assert listed.returncode == 0 and run in listed.stdout, _out(listed)
    other = cluster.kale("list", "--pipeline", "e2e-fail", "--backend", name, "--namespace", NAMESPACE,
                         env=env)
    assert other.returncode == 0 and run not in other.stdout, _out(other)


def test_failing_run_names_step_and_log_tail(cluster: Cluster, backend: tuple[str, dict[str, str]]) -> None:
    name, env = backend
    proc, run = submit(cluster, backend, str(PIPELINES / "e2e_fail.py"), "--watch")
    assert proc.returncode == 1, _out(proc)
    assert cluster.phase(run) in ("Failed", "Error")
    text = proc.stdout + proc.stderr
    assert "explode" in text, f"the failed step is not named\n{_out(proc)}"
    assert "E2E-BOOM: cannot use 7" in text, f"the failed step's log tail is missing\n{_out(proc)}"

    waited = cluster.kale("wait", run, "--backend", name, "--namespace", NAMESPACE, env=env)
    assert waited.returncode == 1, _out(waited)

    first = step_pods(cluster, run, "explode")
    assert first, f"no pod ran the explode step\n{_out(proc)}"
    retried = cluster.kale("retry", run, "--backend", name, "--namespace", NAMESPACE, env=env)
    assert retried.returncode == 0, _out(retried)
    waited = cluster.kale("wait", run, "--timeout", "600", "--backend", name, "--namespace", NAMESPACE,
                          env=env, timeout=700)
    assert waited.returncode == 1, f"the step fails again after retry\n{_out(waited)}"
    # Argo recreates a retried step's pod under the same name (the name hashes the node's name),
    # so the evidence of a second attempt is a pod with a new uid, not a larger count
    again = step_pods(cluster, run, "explode")
    assert set(again) - set(first), f"retry did not run the failed step again: pods {first} -> {again}"
    assert step_pods(cluster, run, "prepare"), "retry dropped the succeeded step's pod"


def test_terminate_and_delete(cluster: Cluster, backend: tuple[str, dict[str, str]]) -> None:
    name, env = backend
    proc, run = submit(cluster, backend, str(PIPELINES / "e2e_sleep.py"))
    assert proc.returncode == 0, _out(proc)
    assert cluster.wait_phase(run, ("Running",), timeout=300) == "Running"

    stopped = cluster.kale("terminate", run, "--backend", name, "--namespace", NAMESPACE, env=env)
    assert stopped.returncode == 0, _out(stopped)
    assert cluster.wait_phase(run, ("Failed", "Error"), timeout=300) in ("Failed", "Error")

    deleted = cluster.kale("delete", run, "--backend", name, "--namespace", NAMESPACE, env=env)
    assert deleted.returncode == 0, _out(deleted)
    gone = cluster.kubectl("wait", "--for=delete", f"workflow/{run}", "-n", NAMESPACE, "--timeout=120s",
                           check=False)
    assert gone.returncode == 0 or "NotFound" in gone.stderr, gone.stderr
    missing = cluster.kale("status", run, "--backend", name, "--namespace", NAMESPACE, env=env)
    assert missing.returncode == 2 and run in missing.stderr, _out(missing)
