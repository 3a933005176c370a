"""The kind e2e suite imports and collects everywhere, and skips with one clear reason where it cannot run."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kale_argo.sdk.loader import load_pipeline
from tests.workflow_checks import check_workflow

ROOT = Path(__file__).resolve().parents[2]
E2E = ROOT / "e2e"
EXPECTED = {
    "test_e2e_runs.py::test_seed_example_runs_on_kubernetes_backend",
    "test_e2e_runs.py::test_submit_watch_status_logs_list[kubernetes]",
    "test_e2e_runs.py::test_submit_watch_status_logs_list[argo-server]",
    "test_e2e_runs.py::test_failing_run_names_step_and_log_tail[kubernetes]",
    "test_e2e_runs.py::test_failing_run_names_step_and_log_tail[argo-server]",
    "test_e2e_runs.py::test_terminate_and_delete[kubernetes]",
    "test_e2e_runs.py::test_terminate_and_delete[argo-server]",
    "test_e2e_workspace.py::test_workspace_plan_from_the_pod",
    "test_e2e_workspace.py::test_snapshot_freezes_the_workspace_at_submit",
    "test_e2e_workspace.py::test_clone_mode_sees_the_current_workspace",
}


def _pytest(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "KALE_ARGO_E2E"} | env
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args, str(E2E)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=environ)


def test_e2e_suite_collects_the_expected_tests() -> None:
    out = _pytest("--collect-only")
    assert out.returncode == 0, out.stdout + out.stderr
    collected = {line.split("e2e/", 1)[1] for line in out.stdout.splitlines() if line.startswith("e2e/")}
    assert collected == EXPECTED


def _skip_reasons(text: str) -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^SKIPPED \[\d+\] [^:]+: (.*)$", text, re.M)}


def test_e2e_suite_is_opt_in() -> None:
    out = _pytest("-rs")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(EXPECTED)} skipped" in out.stdout
    assert _skip_reasons(out.stdout) == {
        "the kind e2e suite is opt-in: run `make e2e` (sets KALE_ARGO_E2E=1)"}


def _docker_running() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(_docker_running(), reason="Docker runs here: the suite would start a kind cluster")
def test_e2e_suite_skips_with_one_reason_without_docker() -> None:
    out = _pytest("-rs", KALE_ARGO_E2E="1")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(EXPECTED)} skipped" in out.stdout
    reasons = _skip_reasons(out.stdout)
    assert len(reasons) == 1, reasons
    assert re.match(r"e2e needs (Docker|a running Docker engine)", reasons.pop())


@pytest.mark.parametrize("name", ["e2e_ok", "e2e_fail", "e2e_sleep", "e2e_workspace"])
def test_e2e_pipelines_trace(name: str) -> None:
    spec = load_pipeline(str(E2E / "pipelines" / f"{name}.py")).trace()
    assert spec.name == name.replace("_", "-")
    assert spec.marshal.access_mode == "rwo"  # kind's local-path storage has no ReadWriteMany


@pytest.mark.parametrize("script", [*(f"e2e/pipelines/{n}.py" for n in ("e2e_ok", "e2e_fail", "e2e_sleep")),
                                    "examples/binary_classification.py"])
def test_e2e_submissions_compile_to_valid_workflows(script: str) -> None:
    """What the e2e suite submits (with its flags: image, service account, one node) is a valid Workflow."""
    from kale_argo.argo import CompileOptions, compile_dict

    spec = load_pipeline(str(ROOT / script)).trace()
    options = CompileOptions(namespace="argo", image="kale-argo-step:e2e", service_account="kale-argo-step",
                             colocate=True)
    workflow = compile_dict(spec, {}, options)
    check_workflow(workflow)
    assert workflow["spec"]["serviceAccountName"] == "kale-argo-step"
    for claim in workflow["spec"].get("volumeClaimTemplates", []):
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"], "kind's local-path storage has no RWX"


def _e2e_module(name: str):
    spec = importlib.util.spec_from_file_location(f"kale_e2e_{name}", E2E / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


kind_env = _e2e_module("kind_env")
CONNECTION = ["--backend", "argo-server", "--namespace", "argo"]
# Every command line the e2e suite runs (mirrors e2e/test_e2e_*.py), so a renamed flag shows up in
# `make test` rather than an hour into `make e2e`.
E2E_COMMANDS = [
    ["submit", "s.py", "--backend", "kubernetes", *kind_env.SUBMIT_FLAGS, "-p", "n=5", "--watch"],
    ["submit", "s.py", "--backend", "kubernetes", *kind_env.SUBMIT_FLAGS, kind_env.COLOCATE, "--watch"],
    ["submit", "s.py", "--workspace", "snapshot", "--service-account", "kale-argo-step"],
    ["submit", "s.py", "--workspace", "clone", "--service-account", "kale-argo-step", "--watch"],
    ["status", "run", "-o", "json", *CONNECTION],
    ["status", "run", *CONNECTION],
    ["logs", "run", "--step", "total", *CONNECTION],
    ["list", "--pipeline", "e2e-ok", *CONNECTION],
    ["wait", "run", "--timeout", "600", *CONNECTION],
    ["retry", "run", *CONNECTION],
    ["terminate", "run", *CONNECTION],
    ["delete", "run", *CONNECTION],
    ["workspace", "s.py", "-o", "json"],
]


@pytest.mark.parametrize("argv", E2E_COMMANDS, ids=lambda a: " ".join(a[:3]))
def test_e2e_command_lines_parse(argv: list[str]) -> None:
    from kale_argo.cli.main import build_parser

    args = build_parser().parse_args(argv)
    assert callable(args.handler)


def test_notebook_pod_manifest_is_valid_yaml() -> None:
    import yaml

    sys.path.insert(0, str(E2E))  # test_e2e_workspace imports kind_env as the e2e conftest does
    try:
        workspace = _e2e_module("test_e2e_workspace")
    finally:
        sys.path.remove(str(E2E))
    claim, pod = yaml.safe_load_all(workspace.NOTEBOOK)
    assert claim["kind"] == "PersistentVolumeClaim" and claim["spec"]["storageClassName"] == "csi-hostpath-sc"
    assert pod["spec"]["serviceAccountName"] == "kale-argo-runner"
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    container = pod["spec"]["containers"][0]
    assert container["name"] == pod["metadata"]["name"] and container["image"] == "kale-argo-step:e2e"
    assert container["volumeMounts"][0]["mountPath"] == container["workingDir"] == "/workspace"
