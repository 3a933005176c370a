"""A compiled run's pods, rehearsed as processes: the code ConfigMap's keys are written where the
pods mount them (its volume's ``items``, read-only), then each task's exact argv and environment run
with a Python that does NOT have kale-argo installed. This proves the code reaches the pods through
the compiled objects alone (no image build, no workspace volume, no init container)."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kale_argo.argo import compile_dict, compile_manifests
from kale_argo.argo.bundle import CODE_DIR, CODE_VOLUME
from kale_argo.errors import ScriptError, UserError
from kale_argo.runtime import marshal
from tests.unit.test_argo_compile import pod_argv, task_template
from tests.unit.test_argo_pipelines import HEADER, tasks, trace_script, write_script
from tests.workflow_checks import check_workflow

SCRIPT = HEADER + '''
from dataclasses import dataclass


@dataclass
class Summary:
    total: int
    label: str


@step(name="make_numbers", limits={"cpu": "1"})
def make_numbers(n):
    return list(range(n))


@step(name="split", retry_count=1)
def split(xs):
    half = len(xs) // 2
    return xs[:half], xs[half:]


@step(name="total")
def total(xs, scale):
    return sum(xs) * scale


@step(name="summarise")
def summarise(a, b, label, loud):
    text = label.upper() if loud else label
    print(f"summary {text}: {a + b}")
    return Summary(total=a + b, label=text)


@pipeline(name="pods", marshal_path="/mnt/marshal")
def pods(n=10, scale=2.0, label="sum", loud=False):
    xs = make_numbers(n)
    lo, hi = split(xs)
    a = total(lo, scale)
    b = total(hi, scale=scale)
    summarise(a, b, label=label, loud=loud)
'''


def bare_python() -> str:
    """An interpreter without kale-argo (the venv's base Python), or skip."""
    base = Path(sys.base_prefix) / "bin" / "python3"
    if not base.exists():
        pytest.skip("no base interpreter found")
    probe = subprocess.run([str(base), "-c", "import kale_argo"], capture_output=True, env={}, cwd="/")
    if probe.returncode == 0:
        pytest.skip("the base interpreter has kale-argo installed")
    return str(base)


def mount_code(docs: list[dict[str, Any]], code: Path) -> None:
    """Write the code ConfigMap's keys where the Workflow's ``kale-code`` volume puts them, read-only."""
    *configmaps, manifest = docs
    (volume,) = [v for v in manifest["spec"]["volumes"] if v["name"] == CODE_VOLUME]
    (configmap,) = [c for c in configmaps if c["metadata"]["name"] == volume["configMap"]["name"]]
    assert configmap["kind"] == "ConfigMap" and configmap["immutable"] is True
    for item in volume["configMap"]["items"]:
        key = item["key"]
        data = (configmap.get("data", {})[key].encode() if key in configmap.get("data", {})
                else base64.b64decode(configmap["binaryData"][key]))
        path = code / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(volume["configMap"]["defaultMode"] & (stat.S_IRWXU | stat.S_IRWXG | stat.S_IRWXO))


def run_pods(docs: list[dict[str, Any]], root: Path, python: str, extra: dict[str, str] | None = None,
             *, check: bool = True) -> list[subprocess.CompletedProcess[str]]:
    """Mount the code as the pods do, then run each task's argv in DAG order (``extra``: more pod
    paths -> local paths); with ``check`` every pod must succeed, else it stops at the first that
    fails."""
    manifest = docs[-1]
    code, marshal_root = root / "code", root / "marshal"
    paths = {CODE_DIR: str(code), "/mnt/marshal": str(marshal_root), "{{workflow.uid}}": "uid",
             **(extra or {})}

    def local(text: str) -> str:
        for pod_path, here in paths.items():
            text = text.replace(pod_path, here)
        return text

    mount_code(docs, code)
    results = []
    cwd = root / "cwd"
    cwd.mkdir()
    for task in tasks(manifest):
        tmpl = task_template(manifest, task["name"])
        assert "initContainers" not in tmpl
        container = tmpl["container"]
        env = {e["name"]: local(e["value"]) for e in container["env"]}
        argv = [local(a) for a in pod_argv(manifest, task["name"])]
        assert argv[0] == "python"
        proc = subprocess.run([python, *argv[1:]], env=env, cwd=cwd, capture_output=True, text=True,
                              timeout=120)
        if check:
            assert proc.returncode == 0, f"{task['name']}: {proc.stdout}{proc.stderr}"
        elif proc.returncode != 0:
            results.append(proc)
            break
        results.append(proc)
    return results


def test_pods_run_the_pipeline_from_the_workflow_alone(tmp_path: Path) -> None:
    python = bare_python()
    spec = trace_script(write_script(tmp_path, SCRIPT, "pods.py"))
    docs = compile_manifests(spec, {"n": "6", "loud": "true"})
    check_workflow(docs[-1])
    procs = run_pods(docs, tmp_path, python)
    assert "summary SUM: 30.0" in procs[-1].stdout
    folder = str(tmp_path / "marshal" / "uid")
    assert marshal.load(folder, "xs") == [0, 1, 2, 3, 4, 5]
    assert (marshal.load(folder, "a"), marshal.load(folder, "b")) == (6.0, 24.0)
    # the ConfigMap's zip, not an installed copy, provided kale_argo in the pods
    assert sorted(os.listdir(tmp_path / "code")) == ["code.zip", "script"]
    assert (tmp_path / "code" / "script" / "pods.py").read_text() == Path(spec.script.path).read_text()


HELPER_STEPS = '''
from kale_argo import step
from kale_accept_pkg.maths import double


@step(name="helper_double")
def helper_double(xs):
    return [double(x) for x in xs]
'''

IMPORTING_SCRIPT = HEADER + '''
import json

import kale_accept_pkg
from kale_accept_helper_steps import helper_double


@step(name="numbers")
def numbers(n):
    return list(range(n))


@step(name="report")
def report(ys):
    from kale_accept_lazy import SUFFIX  # imported only when the step runs

    print("report", kale_accept_pkg.LABEL + SUFFIX, json.dumps(ys))


@pipeline(name="importing")
def importing(n=4):
    xs = numbers(n)
    ys = helper_double(xs)
    report(ys)
'''


def test_modules_next_to_the_script_travel_with_it(tmp_path: Path) -> None:
    """Steps and helpers imported from modules beside the script run in the pods too."""
    python = bare_python()
    folder = tmp_path / "my project"
    (folder / "kale_accept_pkg").mkdir(parents=True)
    (folder / "kale_accept_pkg" / "__init__.py").write_text("from ._label import LABEL\n")
    (folder / "kale_accept_pkg" / "_label.py").write_text('LABEL = "doubled"\n')
    (folder / "kale_accept_pkg" / "maths.py").write_text("def double(x):\n    return 2 * x\n")
    (folder / "kale_accept_helper_steps.py").write_text(HELPER_STEPS)
    (folder / "kale_accept_lazy.py").write_text('SUFFIX = "!"\n')
    (folder / "unused.py").write_text("raise RuntimeError('never imported')\n")
    spec = trace_script(write_script(folder, IMPORTING_SCRIPT, "importing.py"))
    assert list(spec.script.modules) == [
        "kale_accept_helper_steps.py", "kale_accept_lazy.py", "kale_accept_pkg/__init__.py",
        "kale_accept_pkg/_label.py", "kale_accept_pkg/maths.py"]
    docs = compile_manifests(spec, {})
    check_workflow(docs[-1])
    procs = run_pods(docs, tmp_path, python)
    assert 'report doubled! [0, 2, 4, 6]' in procs[-1].stdout
    assert compile_manifests(spec, {}) == docs  # deterministic


def test_a_module_changed_after_tracing_is_not_shipped_stale(tmp_path: Path) -> None:
    (tmp_path / "kale_accept_stale.py").write_text("def double(x):\n    return 2 * x\n")
    script = HEADER + """
from kale_accept_stale import double


@step(name="one")
def one(n):
    return double(n)


@pipeline(name="stale")
def stale(n=1):
    one(n)
"""
    spec = trace_script(write_script(tmp_path, script, "stale.py"))
    assert list(spec.script.modules) == ["kale_accept_stale.py"]
    (tmp_path / "kale_accept_stale.py").write_text("def double(x):\n    return 3 * x\n")
    with pytest.raises(ScriptError, match=r"kale_accept_stale\.py.*changed since it was traced"):
        compile_dict(spec, {})


def test_code_too_large_for_a_configmap_names_the_imported_modules(tmp_path: Path) -> None:
    blob = os.urandom(1_200_000).hex()  # 2.4 MB of hex digits, about 1.2 MB zipped
    (tmp_path / "kale_accept_blob.py").write_text(f"BLOB = {blob!r}\n")
    script = HEADER + """
from kale_accept_blob import BLOB


@step(name="one")
def one(n):
    return len(BLOB) + n


@pipeline(name="big")
def big(n=1):
    one(n)
"""
    spec = trace_script(write_script(tmp_path, script, "big.py"))
    with pytest.raises(UserError, match=r"the script, the modules it imports and the runtime take .* "
                       "more than the 1048576 bytes a ConfigMap can hold") as info:
        compile_dict(spec, {})
    assert "workspace volume" in info.value.one_line()


def test_a_script_beside_kale_argos_source_does_not_ship_kale_argo_twice(tmp_path: Path) -> None:
    """A script written in a clone of kale-argo (kale_argo/ next to it) ships only itself."""
    (tmp_path / "kale_argo").symlink_to(Path(__file__).resolve().parents[2] / "kale_argo")
    spec = trace_script(write_script(tmp_path, SCRIPT, "in_clone.py"))
    assert spec.script.modules == {}
    manifest = compile_dict(spec, {})
    check_workflow(manifest)
