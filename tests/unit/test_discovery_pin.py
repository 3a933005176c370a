"""The notebook's image pinned by digest only where the digest can be pulled by that image's name.

The imageID shapes are the ones kubelet reports: containerd's CRI gives the first repo digest of
the image (``docker.io/library/x@sha256:..``), or the bare image ID when it has none; an image
loaded with ``kind load`` (``ctr images import --digests``) is recorded under
``import-YYYY-MM-DD@sha256:..``; cri-dockerd prefixes ``docker-pullable://``.
"""

from __future__ import annotations

import pytest

from kale_argo.cluster.workspace.discovery import describe_pod, pin, pin_image
from kale_argo.cluster.workspace.plan import WorkspacePlan
from kale_argo.views.workspace import plan_lines

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


@pytest.mark.parametrize(("image", "image_id", "expected"), [
    ("python:3.11-slim", f"docker.io/library/python@{A}", f"python@{A}"),
    ("docker.io/library/python:3.11", f"docker.io/library/python@{A}", f"docker.io/library/python@{A}"),
    ("index.docker.io/library/python", f"docker.io/library/python@{A}",
     f"index.docker.io/library/python@{A}"),
    ("jupyter/scipy:v1", f"docker-pullable://jupyter/scipy@{A}", f"jupyter/scipy@{A}"),
    ("reg.example:5000/team/nb:v2", f"reg.example:5000/team/nb@{A}", f"reg.example:5000/team/nb@{A}"),
    ("localhost:5000/nb", f"localhost:5000/nb@{A}", f"localhost:5000/nb@{A}"),
    (f"nb@{B}", f"docker.io/library/nb@{A}", f"nb@{A}"),
])
def test_a_digest_of_the_image_own_repository_pins_it(image: str, image_id: str, expected: str) -> None:
    assert pin(image, image_id) == (expected, "")
    assert pin_image(image, image_id) == expected


@pytest.mark.parametrize(("image", "image_id", "note"), [
    ("kale-argo-step:e2e", f"docker.io/library/import-2024-05-01@{A}", "import-2024-05-01"),
    ("reg.example:5000/team/nb", f"docker.io/x@{A}", "docker.io/x, not reg.example:5000/team/nb"),
    ("reg.example:5000/nb:v1", f"reg.example:5001/nb@{A}", "reg.example:5001/nb"),  # another port
    ("team/nb:v1", f"docker.io/library/nb@{A}", "not team/nb"),
    ("nb:v1", A, "no digest"),  # the local image ID only: not pullable
    ("nb:v1", f"docker://{A}", "no digest"),
    ("nb:v1", "", "no digest"),
    ("nb:v1", None, "no digest"),
])
def test_a_digest_under_another_name_keeps_the_image_as_given(image: str, image_id: str | None,
                                                               note: str) -> None:
    pinned, why = pin(image, image_id)
    assert pinned is None and note in why


def test_the_runtime_expanded_name_is_used_when_the_spec_short_name_does_not_match() -> None:
    assert pin("nb:v1", f"quay.io/team/nb@{A}", "quay.io/team/nb:v1") == (f"quay.io/team/nb@{A}", "")
    assert pin("nb:v1", f"quay.io/team/nb@{A}", "docker.io/library/nb:v1")[0] is None


def _kind_loaded_pod() -> dict[str, object]:
    """A pod whose image was loaded with ``kind load``, as the API server reports it."""
    return {"metadata": {"name": "notebook", "namespace": "argo"},
            "spec": {"containers": [{"name": "notebook", "image": "kale-argo-step:e2e"}]},
            "status": {"containerStatuses": [{
                "name": "notebook", "image": "docker.io/library/kale-argo-step:e2e",
                "imageID": f"docker.io/library/import-2024-05-01@{A}"}]}}


def test_a_kind_loaded_notebook_runs_its_steps_on_the_image_as_given() -> None:
    nb = describe_pod(_kind_loaded_pod(), {})
    assert nb.pinned_image is None and nb.image == "kale-argo-step:e2e"
    assert "import-2024-05-01" in nb.pin_note
    plan = WorkspacePlan(namespace="argo", mode="none", reason="test", notebook=nb, image=nb.image)
    line = next(x for x in plan_lines(plan) if x.startswith("image:"))
    assert line.startswith("image: kale-argo-step:e2e (not pinned: ") and "import-2024-05-01" in line
