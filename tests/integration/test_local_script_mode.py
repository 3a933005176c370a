"""Kale's script flags: ``python script.py --kfp --dry-run`` compiles next to the script; the same
through ``python -m kale_argo``. The compiled Workflow passes the Argo schema and rules."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.workflow_checks import check_workflow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _arguments(workflow: dict) -> dict[str, str]:
    return {p["name"]: str(p.get("value")) for p in workflow["spec"]["arguments"]["parameters"]}


def test_dry_run_writes_yaml_next_to_the_script(run_python, tmp_path):
    script = Path(shutil.copy(EXAMPLES / "parameters.py", tmp_path / "params_pipe.py"))
    proc = run_python(script, "--kfp", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    target = tmp_path / "params_pipe.yaml"
    assert f"compiled pipeline 'parameters' to {target}" in proc.stdout
    workflow = list(yaml.safe_load_all(target.read_text()))[-1]
    check_workflow(workflow)
    assert _arguments(workflow)["repeat"] == "3"  # the __main__ call's keyword override
    assert not (tmp_path / ".kale-runs").exists()  # nothing ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params_pipe.py", "params_pipe.yaml"]


def test_kfp_dry_run_compiles_like_kale(run_python, tmp_path):
    script = Path(shutil.copy(EXAMPLES / "diamond.py", tmp_path / "diamond_pipe.py"))
    proc = run_python(script, "--kfp", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    check_workflow(list(yaml.safe_load_all((tmp_path / "diamond_pipe.yaml").read_text()))[-1])


def test_python_m_kale_argo_dry_run_with_params(run_python, tmp_path):
    script = Path(shutil.copy(EXAMPLES / "binary_classification.py", tmp_path / "bc.py"))
    proc = run_python("-m", "kale_argo", script, "--kfp", "--dry-run", "-p", "n_samples=50", "-p", "C=0.25")
    assert proc.returncode == 0, proc.stderr
    workflow = list(yaml.safe_load_all((tmp_path / "bc.yaml").read_text()))[-1]
    check_workflow(workflow)
    args = _arguments(workflow)
    assert args["n_samples"] == "50" and float(args["C"]) == 0.25


def test_dry_run_of_an_invalid_pipeline_writes_nothing(make_script, run_python, tmp_path):
    script = make_script('''
        from kale_argo import pipeline, step

        @step(name="a")
        def a(x):
            return x

        @pipeline(name="p", marshal_volume_size="1GB")
        def p(n=1):
            a(n)

        if __name__ == "__main__":
            p()
        ''')
    proc = run_python(script, "--kfp", "--dry-run")
    assert proc.returncode == 2 and "did you mean 1G or 1Gi?" in proc.stderr
    assert not (tmp_path / "pipe.yaml").exists()


def test_argo_flag_submits_to_the_argo_server(run_python, tmp_path, monkeypatch):
    from tests.fakes.argo_server import FakeArgoServer

    fake = FakeArgoServer(tmp_path)
    try:
        for name in ("KUBECONFIG", "ARGO_BASE_HREF", "ARGO_INSECURE_SKIP_VERIFY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("ARGO_SERVER", fake.url)
        monkeypatch.setenv("ARGO_TOKEN", fake.token)
        monkeypatch.setenv("ARGO_NAMESPACE", "argo")
        script = Path(shutil.copy(EXAMPLES / "parameters.py", tmp_path / "params_pipe.py"))
        proc = run_python(script, "--argo")
        assert proc.returncode == 0, proc.stderr
        (workflow,) = fake.workflows("argo")
        assert f"Submitted run {workflow['metadata']['name']} in namespace argo" in proc.stdout
        check_workflow({k: v for k, v in workflow.items() if k != "status"})
        assert _arguments(workflow)["repeat"] == "3"
        assert fake.token not in proc.stdout + proc.stderr
        assert not (tmp_path / ".kale-runs").exists() and not (tmp_path / "params_pipe.yaml").exists()
    finally:
        fake.close()
