"""The kubernetes backend prints the run's Argo UI link when a UI base URL is configured
(``KALE_ARGO_UI_URL`` or the ``ui_url`` keyword), e.g. an Argo Server added next to KFP's controller."""

from __future__ import annotations

from pathlib import Path

import pytest

from kale_argo.cli.main import main
from kale_argo.cluster.kube import api_client
from kale_argo.cluster.kubernetes import UI_URL_ENV, KubernetesBackend, ui_base_url
from kale_argo.errors import ConfigError
from tests.fakes.kube import FakeKube
from tests.fakes.pipelines import demo_script


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("ARGO_SERVER", "ARGO_TOKEN", "ARGO_NAMESPACE", "ARGO_BASE_HREF", UI_URL_ENV):
        monkeypatch.delenv(name, raising=False)
    kube = FakeKube(tmp_path)
    yield kube
    kube.close()


def _submit(fake: FakeKube, tmp_path: Path) -> int:
    return main(["submit", demo_script(tmp_path), "--workspace", "none", "--backend", "kubernetes",
                 "--kubeconfig", fake.kubeconfig, "-n", "default"])


def test_submit_prints_the_ui_link_from_the_environment(fake, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv(UI_URL_ENV, "https://kubeflow.example.com/argo")
    assert _submit(fake, tmp_path) == 0
    out = capsys.readouterr().out
    name = next(line.split()[2] for line in out.splitlines() if line.startswith("Submitted run "))
    assert f"Argo UI: https://kubeflow.example.com/argo/workflows/default/{name}\n" in out


def test_no_ui_url_means_no_link(fake, tmp_path, capsys) -> None:
    assert _submit(fake, tmp_path) == 0
    assert "Argo UI:" not in capsys.readouterr().out


def test_a_bad_ui_url_is_one_line_and_creates_nothing(fake, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv(UI_URL_ENV, "argo.example.com")
    assert _submit(fake, tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and UI_URL_ENV in err and "argo.example.com" in err
    backend = KubernetesBackend(api_client(kubeconfig=fake.kubeconfig), "default", ui_url="https://x/")
    assert backend.list() == []


def test_the_keyword_wins_over_the_environment() -> None:
    env = {UI_URL_ENV: "https://env.example/"}
    assert ui_base_url("http://localhost:2746", env) == "http://localhost:2746/"
    assert ui_base_url(None, env) == "https://env.example/"
    assert ui_base_url(None, {}) is None
    with pytest.raises(ConfigError, match="ui_url"):
        ui_base_url("ftp://x", env)
    with pytest.raises(ConfigError, match=UI_URL_ENV):
        ui_base_url(None, {UI_URL_ENV: "https://"})
