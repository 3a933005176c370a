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
    "test_e2e_kfp.py::test_controller_only_runs_through_the_kubernetes_backend",
    "test_e2e_kfp.py::test_the_ui_overlay_shows_the_run_kale_argo_links_to",
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
    sys.path.insert(0, str(E2E))  # the e2e modules import each other as pytest's rootdir conftest does
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(E2E))
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


# --- what the suite downloads and pins ----------------------------------------------------------

@pytest.mark.parametrize(("system", "machine", "expected"), [
    ("Linux", "x86_64", ("linux", "amd64")), ("Linux", "aarch64", ("linux", "arm64")),
    ("Darwin", "arm64", ("darwin", "arm64")), ("Darwin", "x86_64", ("darwin", "amd64")),
    ("Linux", "ppc64le", None), ("Windows", "AMD64", None),
])
def test_kind_and_kubectl_are_downloaded_for_the_host(system: str, machine: str, expected) -> None:
    where = kind_env.host_platform(system, machine)
    assert where == expected
    if where:
        os_name, arch = where
        assert kind_env.kind_url(where).endswith(f"/{kind_env.KIND_VERSION}/kind-{os_name}-{arch}")
        kubectl = f"/{kind_env.KUBECTL_VERSION}/bin/{os_name}/{arch}/kubectl"
        assert kind_env.kubectl_url(where).endswith(kubectl)


def _serve(directory: Path):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_downloads_are_checked_against_the_published_sha256(tmp_path: Path) -> None:
    import hashlib

    site = tmp_path / "site"
    site.mkdir()
    body = b"#!/bin/sh\necho kind\n"
    (site / "kind").write_bytes(body)
    (site / "kind.sha256sum").write_text(f"{hashlib.sha256(body).hexdigest()}  kind\n")
    (site / "bad.sha256").write_text("0" * 64)
    server, url = _serve(site)
    try:
        target = kind_env.download_tool(f"{url}/kind", f"{url}/kind.sha256sum", tmp_path / "bin" / "kind")
        assert target.read_bytes() == (site / "kind").read_bytes() and os.access(target, os.X_OK)
        with pytest.raises(RuntimeError, match="is not the published"):
            kind_env.download_tool(f"{url}/kind", f"{url}/bad.sha256", tmp_path / "bin" / "other")
        assert sorted(p.name for p in (tmp_path / "bin").iterdir()) == ["kind"]  # nothing half-written
    finally:
        server.shutdown()


def _tarball(path: Path, members: list[tuple[str, str | None]]) -> Path:
    """A .tar.gz with files (name, None) or symlinks (name, target)."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, link in members:
            info = tarfile.TarInfo(name)
            if link is None:
                info.size = 3
                tar.addfile(info, io.BytesIO(b"sh\n"))
            else:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
    return path


# csi-driver-host-path v1.14.1's tree: kubernetes-latest -> kubernetes-1.28 -> kubernetes-1.27
HOSTPATH_LIKE = [("d/deploy/util/deploy-hostpath.sh", None), ("d/deploy/kubernetes-1.27/deploy.sh",
                 "../util/deploy-hostpath.sh"), ("d/deploy/kubernetes-1.28", "kubernetes-1.27"),
                 ("d/deploy/kubernetes-latest", "kubernetes-1.28")]


@pytest.mark.parametrize("data_filter", [True, False], ids=["filter=data", "checked-by-hand"])
def test_the_hostpath_tree_extracts_with_its_links(tmp_path: Path, monkeypatch, data_filter: bool) -> None:
    import tarfile

    if not data_filter:  # Python 3.10.0-3.10.11 / 3.11.0-3.11.3, which requires-python allows
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile data filter")
    archive = _tarball(tmp_path / "a.tar.gz", HOSTPATH_LIKE)
    with tarfile.open(archive) as tar:
        kind_env.safe_extract(tar, tmp_path / "out")
    assert (tmp_path / "out" / "d" / "deploy" / "kubernetes-latest" / "deploy.sh").read_text() == "sh\n"


@pytest.mark.parametrize("data_filter", [True, False], ids=["filter=data", "checked-by-hand"])
@pytest.mark.parametrize("members", [
    [("../escape.sh", None)], [("d/link", "/etc/passwd")], [("d/link", "../../up")],
], ids=["dotdot", "absolute-link", "link-out"])
def test_unsafe_members_are_refused(tmp_path: Path, monkeypatch, data_filter: bool, members) -> None:
    import tarfile

    if not data_filter:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python has no tarfile data filter")
    archive = _tarball(tmp_path / "a.tar.gz", members)
    refused = (RuntimeError, getattr(tarfile, "FilterError", RuntimeError))  # 3.10.0-3.10.11 lack it
    with tarfile.open(archive) as tar, pytest.raises(refused):
        kind_env.safe_extract(tar, tmp_path / "out")
    assert not (tmp_path / "escape.sh").exists()


def test_the_hand_check_refuses_absolute_names_and_special_files(tmp_path: Path) -> None:
    import tarfile

    assert "outside" in kind_env.member_problem(tarfile.TarInfo("/etc/cron.d/x"), tmp_path)
    fifo = tarfile.TarInfo("d/fifo")
    fifo.type = tarfile.FIFOTYPE
    assert "special" in kind_env.member_problem(fifo, tmp_path)
    assert kind_env.member_problem(tarfile.TarInfo("d/ok.sh"), tmp_path) is None


versions = _e2e_module("versions")


def test_every_pin_lives_in_versions_py() -> None:
    """No other e2e file or README spells a pinned version: they refer to e2e/versions.py."""
    pinned = {default for _, default in versions.PINS.values()}
    pinned |= {v.split("@", 1)[0].rsplit(":", 1)[-1] for v in pinned if "kindest/node" in v}
    files = [*E2E.rglob("*.py"), E2E / "README.md", ROOT / "README.md", ROOT / "manifests" / "README.md"]
    for path in files:
        if path.name == "versions.py":
            continue
        text = path.read_text()
        assert not [v for v in pinned if v in text], f"{path.relative_to(ROOT)} repeats a pin"
    assert versions.ARGO_VERSION.startswith("v4.0.") and versions.KFP_ARGO_VERSION == versions.ARGO_VERSION


def test_argo_pin_is_what_hera_models_target() -> None:
    """Hera's models are generated from one Argo release's OpenAPI spec; the suite runs that Argo."""
    import re

    import hera.workflows.models as models

    spec_url = re.search(r"argo-workflows/(v[0-9.]+)/api/openapi-spec", Path(models.__file__).read_text())
    assert spec_url and spec_url.group(1) == versions.PINS["argo workflows"][1]


def test_e2e_sources_parse_on_the_oldest_python_allowed() -> None:
    import ast

    for path in E2E.rglob("*.py"):
        ast.parse(path.read_text(), str(path), feature_version=(3, 10))
