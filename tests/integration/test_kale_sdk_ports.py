"""Kale's SDK examples, written again in Kale's API (our own equivalents) with only the import
changed: they run with ``python SCRIPT``, take Kale's flags strictly, and submit to the fake Argo Server."""

from __future__ import annotations

import pytest

ARTIFACT = '''
import os
from kale.sdk import pipeline, step, artifact

HERE = os.path.dirname(os.path.abspath(__file__))


@artifact(name="test-artifact", path=os.path.join(HERE, "myartifact.html"))
@step(name="artifact_generator")
def generate_artifact():
    with open(os.path.join(HERE, "myartifact.html"), "w") as f:
        f.write("<html>Hello, World!<html>")


@step(name="retried", retry_count=2, retry_interval="1s", retry_factor=2, timeout=60)
def retried(n):
    print("N", repr(n))


@pipeline(name="generate-artifact", experiment="generate-artifact", katib_run=False)
def artifact_pipeline(n=1.5):
    generate_artifact()
    retried(n)


if __name__ == "__main__":
    artifact_pipeline()
'''


def _ported(make_script):
    text = ARTIFACT.replace("from kale.sdk import", "from kale_argo import")
    assert text.count("\n") == ARTIFACT.count("\n")
    return make_script(text)


def test_artifact_example_runs_and_keeps_the_file(make_script, run_python, tmp_path):
    script = _ported(make_script)
    proc = run_python(script, "-p", "n=2")
    assert proc.returncode == 0, proc.stderr
    assert "N 2.0" in proc.stdout
    kept = list((tmp_path / ".kale-runs").glob("*/artifacts/artifact_generator/test-artifact.html"))
    assert len(kept) == 1 and kept[0].read_text() == "<html>Hello, World!<html>"
    assert "artifact artifact_generator/test-artifact:" in proc.stdout


@pytest.mark.parametrize("flags", [["--bogus"], ["--kpf"], ["-p", "bogus=1"]])
def test_unknown_flags_and_parameters_exit_2(make_script, run_python, tmp_path, flags):
    proc = run_python(_ported(make_script), *flags)
    assert proc.returncode == 2 and not (tmp_path / ".kale-runs").exists()


def test_kfp_submits_with_params_to_the_fake_argo_server(make_script, run_python, tmp_path, monkeypatch):
    from tests.fakes.argo_server import FakeArgoServer
    from tests.workflow_checks import check_workflow

    fake = FakeArgoServer(tmp_path)
    try:
        for name in ("KUBECONFIG", "ARGO_BASE_HREF", "ARGO_INSECURE_SKIP_VERIFY", "ARGO_SERVER"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("ARGO_TOKEN", fake.token)
        monkeypatch.setenv("ARGO_NAMESPACE", "argo")
        proc = run_python(_ported(make_script), "--kfp", "-p", "n=3", "--argo-server", fake.url)
        assert proc.returncode == 0, proc.stderr
        (workflow,) = fake.workflows("argo")
        check_workflow({k: v for k, v in workflow.items() if k != "status"})
        params = {p["name"]: p.get("value") for p in workflow["spec"]["arguments"]["parameters"]}
        assert float(params["n"]) == 3.0
    finally:
        fake.close()
