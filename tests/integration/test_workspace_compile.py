"""Workflows compiled with a prepared workspace (snapshot, clone, mount) pass Argo's schema and rules."""

from __future__ import annotations

import json

import pytest

from kale_argo.argo import CompileOptions, compile_dict
from kale_argo.cluster.kube import api_client
from kale_argo.cluster.workspace import prepare_workspace
from tests.fakes.kube import kube_fixture  # noqa: F401
from tests.fakes.notebook import Claim, SnapshotController, seed_notebook
from tests.fakes.notebook import pipeline_spec as make_spec
from tests.workflow_checks import check_workflow

pytestmark = pytest.mark.timeout(60)


def volume_claims(workflow: dict) -> dict[str, dict]:
    return {c["metadata"]["name"]: c for c in workflow["spec"].get("volumeClaimTemplates", [])}


@pytest.mark.parametrize("mode", ["snapshot", "clone"])
def test_cloned_workspace_compiles_to_a_valid_workflow(kube, tmp_path, mode):
    nb = seed_notebook(kube, tmp_path)
    api = api_client(kubeconfig=kube.kubeconfig)
    with SnapshotController(kube):
        ws = prepare_workspace(api, None, make_spec(), mode=mode, environ=nb.environ, cwd="/home/jovyan/work")
    workflow = compile_dict(make_spec(), {}, CompileOptions(namespace=nb.namespace).with_workspace(ws.result))
    check_workflow(workflow)
    sources = {c["spec"]["dataSource"]["name"]: c for c in volume_claims(workflow).values()
               if c["spec"].get("dataSource")}
    expected = set(ws.snapshots) if mode == "snapshot" else {c.name for c in nb.claims}
    assert set(sources) == expected
    for claim in sources.values():
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]  # RWO storage: co-located
        assert claim["spec"]["storageClassName"] == "csi-hostpath-sc"
    text = json.dumps(workflow)
    assert nb.pinned_image in text and "/home/jovyan/work/pipe.py" in text
    assert json.loads(workflow["metadata"]["annotations"]["kale-argo.io/workspace"])["mode"] == mode


def test_mounted_rwx_workspace_compiles_to_a_valid_workflow(kube, tmp_path):
    shared = Claim("shared", "/home/jovyan", access_modes=("ReadWriteMany",))
    nb = seed_notebook(kube, tmp_path, claims=(shared,))
    api = api_client(kubeconfig=kube.kubeconfig)
    ws = prepare_workspace(api, None, make_spec(), mode="mount", environ=nb.environ, cwd="/home/jovyan")
    workflow = compile_dict(make_spec(), {}, CompileOptions(namespace=nb.namespace).with_workspace(ws.result))
    check_workflow(workflow)
    claims = [v["persistentVolumeClaim"]["claimName"] for v in workflow["spec"].get("volumes", [])
              if "persistentVolumeClaim" in v]
    assert claims == ["shared"]
