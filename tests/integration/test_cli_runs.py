"""The run commands end to end in-process (``kale_argo.cli.main.main``) against the fakes over HTTP,
plus TLS, base paths, the argo CLI's environment, and tokens never shown; the ``kale-argo`` entry
point and ``python SCRIPT --kfp`` as real processes."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kale_argo import __version__
from kale_argo.cli.main import main
from tests.fakes.argo_server import FakeArgoServer
from tests.fakes.drivers import Driver, driver_fixture  # noqa: F401
from tests.fakes.kube import FakeKube
from tests.fakes.pipelines import demo_script

ARGO_ENV = ("ARGO_SERVER", "ARGO_TOKEN", "ARGO_NAMESPACE", "ARGO_SECURE", "ARGO_INSECURE_SKIP_VERIFY",
            "ARGO_BASE_HREF", "KUBECONFIG", "REQUESTS_CA_BUNDLE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ARGO_ENV:
        monkeypatch.delenv(name, raising=False)


def flags(driver: Driver) -> list[str]:
    if driver.kind == "kubernetes":
        return ["--backend", "kubernetes", "--kubeconfig", driver.fake.kubeconfig, "-n", driver.namespace]
    return ["--argo-server", driver.fake.url, "--token", driver.fake.token, "-n", driver.namespace]


def submitted_name(text: str) -> str:
    return next(line.split()[2] for line in text.splitlines() if line.startswith("Submitted run "))


def test_submit_status_list_logs_and_actions(driver: Driver, tmp_path, capsys) -> None:
    script = demo_script(tmp_path)
    assert main(["submit", script, "-p", "n=2", "--workspace", "none", *flags(driver)]) == 0
    name = submitted_name(capsys.readouterr().out)
    driver.advance(name, "Failed", {"load": "Succeeded", "train": "Failed"},
                   messages={"train": "exit code 3"}, logs={"train": "x = 1\nKeyError: 'lr'\n"})
    assert main(["status", name, "-o", "json", *flags(driver)]) == 0
    workflow = json.loads(capsys.readouterr().out)  # the Workflow itself, as argo get -o json
    assert workflow["kind"] == "Workflow" and workflow["status"]["phase"] == "Failed"
    assert main(["get", name, "-o", "summary", *flags(driver)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["phase"] == "Failed" and [s["name"] for s in status["steps"]] == ["load", "train"]
    assert main(["status", name, *flags(driver)]) == 0
    assert "train" in capsys.readouterr().out
    assert main(["list", "--pipeline", "demo-pipe", "--phase", "failed,error", *flags(driver)]) == 0
    assert name in capsys.readouterr().out
    assert main(["list", "--phase", "Running", "-o", "json", *flags(driver)]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["logs", name, "--step", "train", *flags(driver)]) == 0
    assert capsys.readouterr().out == "x = 1\nKeyError: 'lr'\n"
    assert main(["wait", name, "--timeout", "5", *flags(driver)]) == 1
    out = capsys.readouterr().out
    assert "step 'train' Failed: exit code 3" in out and "KeyError: 'lr'" in out
    assert main(["retry", name, *flags(driver)]) == 0
    assert "retrying (Running)" in capsys.readouterr().out
    assert main(["delete", name, *flags(driver)]) == 0
    assert main(["status", name, *flags(driver)]) == 2
    assert "not found" in capsys.readouterr().err


def test_submit_watch_exit_codes(driver: Driver, tmp_path, capsys) -> None:
    script = demo_script(tmp_path)

    def finish_next_run(phase: str) -> threading.Thread:
        """In the background: once a new run appears, move it to ``phase``."""
        before = {w["metadata"]["name"] for w in driver.stored()}

        def run() -> None:
            for _ in range(400):
                new = {w["metadata"]["name"] for w in driver.stored()} - before
                if new:
                    driver.advance(new.pop(), phase, {"load": phase})
                    return
                time.sleep(0.05)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    watch = ["submit", script, "--workspace", "none", "--watch", "--timeout", "20", *flags(driver)]
    mover = finish_next_run("Succeeded")
    assert main(watch) == 0
    mover.join()
    captured = capsys.readouterr()
    assert "Succeeded" in captured.err and captured.out.startswith("Submitted run ")
    mover = finish_next_run("Failed")
    assert main(watch) == 1
    mover.join()
    captured = capsys.readouterr()
    assert "step 'load' Failed" in captured.out + captured.err


def test_tokens_never_appear_even_with_debug(tmp_path, capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeArgoServer(tmp_path)
    kube = FakeKube(tmp_path / "k") if (tmp_path / "k").mkdir() is None else None
    try:
        script = demo_script(tmp_path)
        wrong = "wrong-token-VERYSECRET-0000"
        argo = ["--argo-server", fake.url, "-n", "argo"]
        codes = [
            main(["--debug", "submit", script, "--workspace", "none", *argo, "--token", fake.token]),
            main(["submit", script, "--workspace", "none", *argo, "--token", wrong]),
            main(["status", "nope", *argo, "--token", fake.token]),
            main(["list", "--backend", "kubernetes", "--kubeconfig", kube.kubeconfig]),
        ]
        fake.fail("^GET /api/v1/workflows/argo$", 500, times=20, message=f"echo Bearer {fake.token}")
        codes.append(main(["list", *argo, "--token", fake.token]))
        bad_kube = kube.write_kubeconfig(str(tmp_path / "bad"), token=wrong)
        codes.append(main(["list", "--backend", "kubernetes", "--kubeconfig", bad_kube]))
        assert codes == [0, 2, 2, 0, 2, 2]
        for argv in (["status", "x", *argo, "--token", wrong],
                     ["list", "--backend", "kubernetes", "--kubeconfig", bad_kube],
                     ["list", *argo, "--token", fake.token]):
            assert main(["--debug", *argv]) == 2  # the traceback on stderr, the exit code kept
        captured = capsys.readouterr()
        everything = captured.out + captured.err + caplog.text + "".join(
            repr(r.__dict__) for r in caplog.records)
        assert "Traceback" in everything and "GET" in caplog.text
        assert "401" in captured.err and "500" in captured.err
        for secret in (fake.token, wrong, kube.token):
            assert secret not in everything
        assert any(fake.token in h.get("Authorization", "") for h in fake.headers_seen())  # it was sent
    finally:
        fake.close()
        kube.close()


def test_tls_verified_by_default_and_skip_flag(tmp_path, capsys, monkeypatch) -> None:
    fake = FakeArgoServer(tmp_path, tls=True)
    try:
        argo = ["--argo-server", fake.url, "--token", fake.token, "-n", "argo"]
        assert main(["list", *argo]) == 2
        err = capsys.readouterr().err
        assert "TLS verification failed" in err and "--insecure-skip-verify" in err
        assert "ARGO_INSECURE_SKIP_VERIFY" in err and len(err.strip().splitlines()) == 1
        assert main(["list", *argo, "--insecure-skip-verify"]) == 0
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.cert)
        assert main(["list", *argo]) == 0  # a private CA, still verified
    finally:
        fake.close()


def test_argo_cli_environment_and_base_path(tmp_path, capsys, monkeypatch) -> None:
    fake = FakeArgoServer(tmp_path, base_path="/argo/")
    try:
        monkeypatch.setenv("ARGO_SERVER", fake.address)
        monkeypatch.setenv("ARGO_SECURE", "false")
        monkeypatch.setenv("ARGO_BASE_HREF", "/argo/")
        monkeypatch.setenv("ARGO_TOKEN", f"Bearer {fake.token}")
        monkeypatch.setenv("ARGO_NAMESPACE", "kubeflow")
        assert main(["submit", demo_script(tmp_path), "--workspace", "none"]) == 0
        out = capsys.readouterr().out
        name = submitted_name(out)
        assert f"{fake.url}workflows/kubeflow/{name}" in out
        assert [w["metadata"]["name"] for w in fake.workflows("kubeflow")] == [name]
        assert all(p.startswith("/argo/api/v1/") for _, p, _ in fake.requests())
    finally:
        fake.close()


def test_bad_input_is_one_line_exit_2(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    for name in ("KUBERNETES_SERVICE_HOST", "NB_PREFIX", "KALE_ARGO_NAMESPACE_FILE"):
        monkeypatch.delenv(name, raising=False)
    script = demo_script(tmp_path)
    cases = [
        ["submit", script, "--backend", "argo-server", "--workspace", "none"],  # no server configured
        ["status", "x", "--argo-server", "http://127.0.0.1:9", "-n", "argo"],  # nothing listens
        ["list", "--backend", "kubernetes", "--kubeconfig", str(tmp_path / "missing")],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        *retries, error = captured.err.strip().splitlines()
        assert all(line.startswith("kale-argo: retrying in ") for line in retries), captured.err
        assert error.startswith("kale-argo: error: ") and "(hint: " in error
        assert captured.out == ""


def test_the_kale_argo_command_exit_codes(tmp_path, subprocess_env) -> None:
    """The installed ``kale-argo`` entry point in a clean environment: 0, 2 for bad input (one line),
    2 for a usage error (argparse). A failed run's 1: tests/integration/test_local_executor.py."""
    command = shutil.which("kale-argo", path=str(Path(sys.executable).parent))
    base = [command] if command else [sys.executable, "-m", "kale_argo.cli.main"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": subprocess_env["PYTHONPATH"]}
    cases = {
        "version": ["--version"],
        "bad input": ["list", "--backend", "kubernetes", "--kubeconfig", str(tmp_path / "missing")],
        "usage": ["no-such-command"],
    }
    procs = {case: subprocess.Popen([*base, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env, cwd=tmp_path) for case, argv in cases.items()}
    done = {case: (proc, *proc.communicate(timeout=60)) for case, proc in procs.items()}
    proc, out, err = done["version"]
    assert (proc.returncode, out, err) == (0, f"kale-argo {__version__}\n", "")
    proc, out, err = done["bad input"]
    assert proc.returncode == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith("kale-argo: error: ") and "(hint: " in err and "Traceback" not in err
    proc, out, err = done["usage"]
    assert proc.returncode == 2 and out == "" and "invalid choice: 'no-such-command'" in err


def test_python_script_kfp_submits_with_the_argo_cli_env(tmp_path) -> None:
    fake = FakeArgoServer(tmp_path)
    try:
        script = tmp_path / "kfp_pipe.py"
        source = Path(demo_script(tmp_path)).read_text()
        script.write_text(source + "\nif __name__ == '__main__':\n    demo(n=2)\n")
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ARGO_SERVER": fake.address,
               "ARGO_SECURE": "false", "ARGO_TOKEN": fake.token, "ARGO_NAMESPACE": "argo"}
        proc = subprocess.run([sys.executable, str(script), "--kfp"], capture_output=True, text=True,
                              env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        [run] = fake.workflows("argo")
        assert f"Submitted run {run['metadata']['name']}" in proc.stdout
        params = {p["name"]: p.get("value") for p in run["spec"]["arguments"]["parameters"]}
        assert params["n"] == "2"
        assert fake.token not in proc.stdout + proc.stderr
    finally:
        fake.close()
