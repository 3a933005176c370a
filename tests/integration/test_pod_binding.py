"""Values in Argo pods are bound to their run and signed with the run's key, as the compiled
Workflow says (each pod's exact command run under a Python without kale-argo)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kale_argo.argo import CompileOptions, compile_manifests
from kale_argo.runtime.marshal.binding import POD_KEY_FILE
from tests.integration.test_compile_pods import (
    SCRIPT,
    bare_python,
    run_pods,
    trace_script,
    write_script,
)
from tests.workflow_checks import check_workflow

KEY_DIR = os.path.dirname(POD_KEY_FILE)


def compiled(tmp_path: Path) -> list[dict]:
    spec = trace_script(write_script(tmp_path, SCRIPT, "pods.py"))
    docs = compile_manifests(spec, {"n": "4"}, CompileOptions(marshal_key_secret="run-key"))
    check_workflow(docs[-1])
    return docs


def metadata(tmp_path: Path) -> list[dict]:
    folder = tmp_path / "marshal" / "uid" / ".kale" / "values"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def test_pods_sign_their_values_with_the_mounted_run_key(tmp_path: Path) -> None:
    python = bare_python()
    manifest = compiled(tmp_path)
    key_dir = tmp_path / "secret"
    key_dir.mkdir()
    (key_dir / os.path.basename(POD_KEY_FILE)).write_bytes(os.urandom(32))
    procs = run_pods(manifest, tmp_path, python, {KEY_DIR: str(key_dir)})
    assert "summary sum: 12.0" in procs[-1].stdout
    metas = metadata(tmp_path)
    assert metas and all(m.get("run") == "uid" and m.get("hmac") for m in metas)


def only_last_task(docs: list[dict]) -> list[dict]:
    """The documents with the Workflow's DAG cut down to the last task (to run that pod again)."""
    copy = json.loads(json.dumps(docs))
    for template in copy[-1]["spec"]["templates"]:
        if "dag" in template:
            template["dag"]["tasks"] = template["dag"]["tasks"][-1:]
    return copy


def test_a_pod_refuses_values_signed_with_another_key(tmp_path: Path) -> None:
    python = bare_python()
    manifest = compiled(tmp_path)
    key_dir = tmp_path / "secret"
    key_dir.mkdir()
    key = key_dir / os.path.basename(POD_KEY_FILE)
    key.write_bytes(b"k" * 32)
    run_pods(manifest, tmp_path, python, {KEY_DIR: str(key_dir)})
    key.write_bytes(b"x" * 32)  # the consumer holds another key: what it finds was not signed by its run
    again_root = tmp_path / "again"
    again_root.mkdir()
    mounts = {KEY_DIR: str(key_dir), "/mnt/marshal": str(tmp_path / "marshal")}
    [again] = run_pods(only_last_task(manifest), again_root, python, mounts, check=False)
    assert again.returncode != 0
    assert "tag" in (again.stdout + again.stderr).lower()
