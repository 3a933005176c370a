"""Step environments off-notebook: packages installed once per run by a first DAG task, shared
through the marshal volume; the warning for steps on the default image that import undeclared
packages; the local importability check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kale_argo.argo import CompileOptions, compile_dict
from kale_argo.argo.workflow import compile_notes
from kale_argo.errors import ConfigError
from kale_argo.local.packages import check_packages
from tests.unit.test_argo_compile import task_template, template
from tests.unit.test_argo_pipelines import HEADER, tasks, trace_script, write_script
from tests.workflow_checks import check_workflow

PACKAGED = HEADER + '''
@step(name="load")
def load(n):
    import numpy as np
    return np.arange(n)


@step(name="train", packages=["xgboost==2.1.1"])
def train(x):
    import xgboost
    return float(x.sum())


@step(name="report")
def report(score):
    print(score)


@pipeline(name="packaged", {options})
def packaged(n=3):
    report(train(load(n)))
'''


def compiled(tmp_path: Path, options: str, **kw: Any) -> dict[str, Any]:
    spec = trace_script(write_script(tmp_path, PACKAGED.replace("{options}", options)))
    return compile_dict(spec, {}, CompileOptions(**kw))


def env(tmpl: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in tmpl["container"]["env"]}


def test_packages_install_once_per_run_before_the_steps(tmp_path: Path) -> None:
    manifest = compiled(tmp_path, 'packages=["numpy>=1.26", "scikit-learn"], '
                                  'pip_index_urls=["https://pypi.example/simple", "https://extra.example/simple"]')
    check_workflow(manifest)
    dag = {t["name"]: t for t in tasks(manifest)}
    assert list(dag)[:2] == ["kale-packages", "kale-packages-2"]
    assert dag["load"]["depends"] == "kale-packages" and dag["report"]["depends"] == "kale-packages && train"
    assert dag["train"]["depends"] == "kale-packages-2 && load"  # its own install: theirs and its own
    shared, own = template(manifest, "kale-packages"), template(manifest, "kale-packages-2")
    argv = shared["container"]["command"]
    assert argv[:4] == ["python", "-m", "pip", "install"]
    assert argv[-2:] == ["numpy>=1.26", "scikit-learn"]
    assert own["container"]["command"][-3:] == ["numpy>=1.26", "scikit-learn", "xgboost==2.1.1"]
    assert argv[argv.index("--index-url") + 1] == "https://pypi.example/simple"
    assert argv[argv.index("--extra-index-url") + 1] == "https://extra.example/simple"
    target = argv[argv.index("--target") + 1]
    assert target.startswith("/marshal/{{workflow.uid}}/.kale-packages/")
    assert env(task_template(manifest, "load"))["PYTHONPATH"].split(":")[-1] == target
    assert env(task_template(manifest, "report"))["PYTHONPATH"].split(":")[-1] == target
    own_target = own["container"]["command"][own["container"]["command"].index("--target") + 1]
    assert own_target != target and env(task_template(manifest, "train"))["PYTHONPATH"].endswith(own_target)
    assert {"name": "kale-marshal", "mountPath": "/marshal"} in shared["container"]["volumeMounts"]
    assert shared["retryStrategy"]["limit"] == "2"


def test_kfps_packages_to_install_is_accepted(tmp_path: Path) -> None:
    manifest = compiled(tmp_path, 'packages_to_install=["numpy"]')
    assert template(manifest, "kale-packages")["container"]["command"][-1] == "numpy"


def test_only_steps_with_packages_wait_for_an_install(tmp_path: Path) -> None:
    manifest = compiled(tmp_path, 'experiment="x"')
    check_workflow(manifest)
    dag = {t["name"]: t for t in tasks(manifest)}
    assert list(dag) == ["kale-packages", "load", "train", "report"]
    assert "depends" not in dag["load"] and "PYTHONPATH" in env(task_template(manifest, "load"))
    assert env(task_template(manifest, "load"))["PYTHONPATH"] == "/kale-code/code.zip/lib"


def test_steps_on_different_images_install_separately(tmp_path: Path) -> None:
    script = HEADER + '''
@step(name="a", image="python:3.12-slim")
def a():
    return 1


@step(name="b")
def b(x):
    return x


@pipeline(name="images", packages=["requests"])
def images():
    b(a())
'''
    manifest = compile_dict(trace_script(write_script(tmp_path, script)), {})
    check_workflow(manifest)
    assert template(manifest, "kale-packages")["container"]["image"] == "python:3.12-slim"
    assert template(manifest, "kale-packages-2")["container"]["image"] == "python:3.11-slim"


def note(tmp_path: Path, options: str, **kw: Any) -> str | None:
    spec = trace_script(write_script(tmp_path, PACKAGED.replace("{options}", options)))
    notes = [n for n in compile_notes(spec, CompileOptions(**kw)) if "lacks" in n]
    return notes[0] if notes else None


def test_steps_on_the_default_image_importing_undeclared_packages_are_warned_about(tmp_path: Path) -> None:
    line = note(tmp_path, 'experiment="x"')
    assert line is not None and "\n" not in line
    # report imports nothing but loads train's float: fine; train loads load's numpy array
    assert line.startswith("steps load, train run on the default image python:3.11-slim, which lacks numpy")
    assert "@pipeline(packages=['numpy'])" in line
    assert "--image or docker_image" in line and "submit from a notebook" in line and "Dockerfile" in line


def test_the_warning_goes_when_packages_or_an_image_provide(tmp_path: Path) -> None:
    assert note(tmp_path, 'packages=["numpy"]') is None
    assert note(tmp_path, 'experiment="x"', image="ghcr.io/me/steps:1") is None
    assert note(tmp_path, 'docker_image="ghcr.io/me/steps:1"') is None
    assert note(tmp_path, 'experiment="x"', default_image="nb@sha256:" + "0" * 64) is None


def test_a_distribution_imported_under_another_name_and_guarded_imports(tmp_path: Path) -> None:
    script = HEADER + '''
import json
try:
    import ujson
except ImportError:
    ujson = None
from helpers_mod import twice


@step(name="fit")
def fit():
    from sklearn.linear_model import LogisticRegression
    import yaml
    return twice(1)


@pipeline(name="names", packages=["scikit-learn"])
def names():
    fit()
'''
    (tmp_path / "helpers_mod.py").write_text("def twice(x):\n    return 2 * x\n")
    spec = trace_script(write_script(tmp_path, script))
    (line,) = [n for n in compile_notes(spec) if "lacks" in n]
    assert line.startswith("step fit runs on the default image python:3.11-slim, which lacks yaml ")
    assert "packages=['pyyaml']" in line


def test_the_local_executor_names_declared_packages_that_are_missing(tmp_path: Path) -> None:
    script = HEADER + '''
@step(name="one", packages=["pydantic>=2", "kale-surely-absent-pkg==1.0"])
def one():
    return 1


@pipeline(name="local", packages=["PyYAML", "another-absent-pkg", "git+https://example.com/x.git"])
def local():
    one()
'''
    spec = trace_script(write_script(tmp_path, script))
    with pytest.raises(ConfigError) as info:
        check_packages(spec)
    line = info.value.one_line()
    assert "not installed here: another-absent-pkg, kale-surely-absent-pkg==1.0" in line
    assert "pip install 'another-absent-pkg' 'kale-surely-absent-pkg==1.0'" in line
    assert "pydantic" not in line and "PyYAML" not in line and "\n" not in line


def test_a_local_run_with_missing_packages_starts_nothing(tmp_path: Path) -> None:
    from kale_argo.local.executor import run_local

    script = HEADER + '''
@step(name="one")
def one():
    return 1


@pipeline(name="absent", packages=["kale-surely-absent-pkg"])
def absent():
    one()
'''
    spec = trace_script(write_script(tmp_path, script))
    with pytest.raises(ConfigError, match="kale-surely-absent-pkg"):
        run_local(spec, marshal_dir=str(tmp_path / "runs"))
    assert not (tmp_path / "runs").exists()
