"""``kale-argo workspace`` against the fake API seeded with a notebook pod, in-process through the
CLI's ``main(argv)`` (the entry point's own exit codes: tests/integration/test_cli_runs.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kale_argo.cli.main import main
from tests.fakes.kube import kube_fixture  # noqa: F401
from tests.fakes.notebook import SNAPSHOTS, Notebook, seed_notebook

pytestmark = pytest.mark.timeout(60)
SCRIPT = '''
from kale_argo import pipeline, step

@step(name="hello")
def hello():
    print("hi")

@pipeline(name="ws-demo", autosnapshot={auto})
def ws_demo():
    hello()
'''


def environment(kube, nb: Notebook | None) -> dict[str, str]:
    env = {"KUBECONFIG": kube.kubeconfig, "KALE_ARGO_NAMESPACE_FILE": "/nonexistent", "HOSTNAME": "laptop"}
    env.update(nb.environ if nb else {})
    return env


@pytest.fixture
def cli(kube, monkeypatch, capsys):
    def run(nb: Notebook | None, *args: str) -> tuple[int, str, str]:
        monkeypatch.delenv("NB_PREFIX", raising=False)
        for key, value in environment(kube, nb).items():
            monkeypatch.setenv(key, value)
        code = main(["workspace", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run


def test_workspace_shows_the_plan_and_creates_nothing(kube, cli, tmp_path: Path):
    nb = seed_notebook(kube, tmp_path)
    script = tmp_path / "pipe.py"
    script.write_text(SCRIPT.format(auto="None"))
    code, out, err = cli(nb, str(script))
    assert code == 0, err
    assert "workspace: snapshot (default inside a pod" in out
    assert "workspace-my-notebook at /home/jovyan: snapshot" in out
    assert nb.pinned_image in out
    code, out, _ = cli(nb, "-o", "json", "--workspace", "clone")
    data = json.loads(out)
    assert data["mode"] == "clone" and {v["claim"] for v in data["volumes"]} == {c.name for c in nb.claims}
    assert kube.list(SNAPSHOTS) == []
    opted_out = tmp_path / "opted_out.py"
    opted_out.write_text(SCRIPT.format(auto="False"))
    assert "autosnapshot=False" in cli(nb, str(opted_out))[1]


def test_workspace_errors_are_one_line_with_exit_2(kube, cli, tmp_path: Path):
    nb = seed_notebook(kube, tmp_path)
    code, _, err = cli(nb, "--workspace", "mount")
    assert code == 2 and err.count("\n") == 1 and "needs ReadWriteMany" in err
    code, out, _ = cli(None)
    assert code == 0 and "workspace: none (not running in a pod)" in out
    code, out, err = cli(None, "--workspace", "snapshot")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("kale-argo: error: ") and "not running in a pod" in err
