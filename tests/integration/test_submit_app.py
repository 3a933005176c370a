"""The application layer's submit: what it checks and decides besides compiling and creating."""

from __future__ import annotations

import io
from pathlib import Path

from kale_argo import app
from tests.fakes.drivers import kube_driver
from tests.fakes.pipelines import demo_spec

NO_WORKSPACE = app.SubmitOptions(workspace=app.WorkspaceOptions(mode="none"))


def default_class(kube, provisioner: str) -> None:
    kube.create("storage.k8s.io/v1/storageclasses", {
        "metadata": {"name": "standard",
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": provisioner})


def claim_modes(stored: dict) -> list[list[str]]:
    return [c["spec"]["accessModes"] for c in stored["spec"]["volumeClaimTemplates"]]


def test_without_a_workspace_the_marshal_storage_is_still_checked_for_read_write_many(tmp_path: Path):
    driver, close = kube_driver(tmp_path)
    try:
        default_class(driver.fake, "rancher.io/local-path")
        out = io.StringIO()
        app.submit(demo_spec(tmp_path), {}, NO_WORKSPACE, driver.backend, out=out)
        [stored] = driver.stored()
        assert claim_modes(stored) == [["ReadWriteOnce"]]
        assert "podAffinity" in str(stored["spec"])  # every pod of the run on one node
        assert "not known to serve ReadWriteMany" in out.getvalue()
    finally:
        close()


def test_read_write_many_storage_keeps_the_shared_marshal_volume(tmp_path: Path):
    driver, close = kube_driver(tmp_path)
    try:
        default_class(driver.fake, "nfs.csi.k8s.io")
        out = io.StringIO()
        app.submit(demo_spec(tmp_path), {}, NO_WORKSPACE, driver.backend, out=out)
        [stored] = driver.stored()
        assert claim_modes(stored) == [["ReadWriteMany"]]
        assert "podAffinity" not in str(stored["spec"]) and "ReadWriteMany" not in out.getvalue()
    finally:
        close()
