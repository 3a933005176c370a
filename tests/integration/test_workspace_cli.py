"""``kale-argo workspace`` in a subprocess, against the fake API seeded with a notebook pod."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def run(kube, nb: Notebook | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HOSTNAME", "NB_PREFIX")}
    env.update(KUBECONFIG=kube.kubeconfig, KALE_ARGO_NAMESPACE_FILE="/nonexistent")
    env.update(nb.environ if nb else {})
    return subprocess.run([sys.executable, "-m", "kale_argo.cli.main", "workspace", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_workspace_shows_the_plan_and_creates_nothing(kube, tmp_path: Path):
    nb = seed_notebook(kube, tmp_path)
    script = tmp_path / "pipe.py"
    script.write_text(SCRIPT.format(auto="None"))
    done = run(kube, nb, str(script))
    assert done.returncode == 0, done.stderr
    assert "workspace: snapshot (default inside a pod" in done.stdout
    assert "workspace-my-notebook at /home/jovyan: snapshot" in done.stdout
    assert nb.pinned_image in done.stdout
    done = run(kube, nb, "-o", "json", "--workspace", "clone")
    data = json.loads(done.stdout)
    assert data["mode"] == "clone" and {v["claim"] for v in data["volumes"]} == {c.name for c in nb.claims}
    assert kube.list(SNAPSHOTS) == []
    script.write_text(SCRIPT.format(auto="False"))
    assert "autosnapshot=False" in run(kube, nb, str(script)).stdout


def test_workspace_errors_are_one_line_with_exit_2(kube, tmp_path: Path):
    nb = seed_notebook(kube, tmp_path)
    done = run(kube, nb, "--workspace", "mount")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "needs ReadWriteMany" in done.stderr
    done = run(kube, None, "--workspace", "snapshot")
    assert done.returncode == 2 and "not running in a pod" in done.stderr
    done = run(kube, None)
    assert done.returncode == 0 and "workspace: none (not running in a pod)" in done.stdout
