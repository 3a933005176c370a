"""The application layer's submit: what it checks and decides besides compiling and creating."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kale_argo import app
from kale_argo.errors import AuthError
from tests.fakes.drivers import argo_driver, kube_driver
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


def secrets(driver) -> list[dict]:
    return driver.fake.list("v1/secrets", driver.namespace)


def mounted_secrets(stored: dict) -> set[str]:
    return {v["secret"]["secretName"] for v in stored["spec"].get("volumes", []) if "secret" in v}


def test_the_kubernetes_backend_gives_each_run_its_own_marshal_key(tmp_path: Path):
    driver, close = kube_driver(tmp_path)
    try:
        out = io.StringIO()
        submission = app.submit(demo_spec(tmp_path), {}, NO_WORKSPACE, driver.backend, out=out)
        [secret] = secrets(driver)
        [stored] = driver.stored()
        assert mounted_secrets(stored) == {secret["metadata"]["name"]}
        [owner] = secret["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"]) == (
            "Workflow", submission.name, stored["metadata"]["uid"])
        key = secret["data"]["key"]
        assert len(key) >= 40 and key not in out.getvalue()
        app.submit(demo_spec(tmp_path), {}, NO_WORKSPACE, driver.backend, out=out)
        assert len({s["data"]["key"] for s in secrets(driver)}) == 2  # one key per run
    finally:
        close()


def test_a_failed_submission_leaves_no_marshal_key_behind(tmp_path: Path):
    driver, close = kube_driver(tmp_path)
    try:
        driver.fail("POST", "", 403, message="forbidden")
        with pytest.raises(AuthError):
            app.submit(demo_spec(tmp_path), {}, NO_WORKSPACE, driver.backend, out=io.StringIO())
        assert driver.stored() == [] and secrets(driver) == []
    finally:
        close()


def test_without_the_kubernetes_api_values_are_not_signed(tmp_path: Path):
    driver, close = argo_driver(tmp_path)
    try:
        app.submit(demo_spec(tmp_path), {}, NO_WORKSPACE, driver.backend, out=io.StringIO())
        [stored] = driver.stored()
        assert mounted_secrets(stored) == set()
    finally:
        close()


def test_submit_notes_images_referenced_by_tag_only(tmp_path: Path):
    driver, close = argo_driver(tmp_path)
    try:
        out = io.StringIO()
        app.submit(demo_spec(tmp_path), {}, NO_WORKSPACE, driver.backend, out=out)
        assert "the default image 'python:3.11-slim' is referenced by tag only" in out.getvalue()
        pinned = app.SubmitOptions(workspace=app.WorkspaceOptions(mode="none"),
                                   image="python@sha256:" + "a" * 64)
        out = io.StringIO()
        app.submit(demo_spec(tmp_path), {}, pinned, driver.backend, out=out)
        assert "by tag only" not in out.getvalue()
    finally:
        close()
