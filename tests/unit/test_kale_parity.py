"""Kale 0.7.0 parity: @artifact, Kale's keywords and volume dict, strict types, numpy dtypes, migrate."""

from __future__ import annotations

import json

import pytest

from kale_argo.errors import PipelineError
from kale_argo.sdk.loader import load_pipeline


@pytest.fixture
def trace(make_script):
    counter = iter(range(1000))

    def run(text: str):
        return load_pipeline(str(make_script(text, f"parity_{next(counter)}.py"))).trace()
    return run

HEAD = "from kale_argo import pipeline, step, artifact\n\n@step(name='a')\ndef a():\n    return 1\n\n"


def _pipe(trace, options: str):
    return trace(HEAD + f"@pipeline(name='p', {options})\ndef p():\n    a()\n")


def test_kale_raw_keywords_are_synonyms(trace):
    spec = trace(HEAD + "@pipeline(pipeline_name='q', experiment_name='e', pipeline_description='d', "
                        "kfp_host='http://h:2746', abs_working_dir='/w', katib_run=False)\n"
                        "def p():\n    a()\n")
    assert (spec.name, spec.experiment, spec.description, spec.kfp_host, spec.working_dir) == (
        "q", "e", "d", "http://h:2746", "/w")


@pytest.mark.parametrize("options, words", [
    ("marshal_volume='false'", "marshal_volume must be True or False"),
    ("autosnapshot=1", "autosnapshot must be True or False"),
    ("storage_class_name='Bad_Name'", "is not a valid Kubernetes name"),
    ("timeout='30'", "is a number in a string"),
    ("volumes=[{'type': 'new_pvc', 'name': 'n', 'mount_point': '/n'}]", "needs a size"),
    ("volumes=[{'type': 'bogus', 'name': 'n', 'mount_point': '/n'}]", "is not one of"),
])
def test_wrong_types_fail_with_file_line(trace, options, words):
    with pytest.raises(PipelineError) as info:
        _pipe(trace, options)
    line = info.value.one_line()
    assert words in line and ".py:7:" in line and "validation error" not in line


@pytest.mark.parametrize("option, words", [
    ("retry_count='3'", "retry_count must be a whole number"),
    ("limits={'cpu': 1}", "must be a string"),
    ("labels={'team': 5}", "must be a string"),
    ("labels={'team': 'a b'}", "not a valid label value"),
])
def test_step_types_are_strict(trace, option, words):
    with pytest.raises(PipelineError) as info:
        trace(HEAD.replace("@step(name='a')", f"@step(name='a', {option})")
              + "@pipeline(name='p')\ndef p():\n    a()\n")
    assert words in info.value.one_line() and ".py:3:" in info.value.one_line()


def test_retry_intervals_take_kale_digit_strings_as_seconds(trace):
    # Kale typed retry_interval/retry_max_interval str; its own examples write retry_interval="60"
    spec = trace(HEAD.replace("@step(name='a')", "@step(name='a', retry_count=5, retry_interval='60', "
                                                 "retry_max_interval='120')")
                 + "@pipeline(name='p')\ndef p():\n    a()\n")
    (step,) = spec.steps
    assert (step.options.retry_interval, step.options.retry_max_interval) == (60.0, 120.0)


def test_kale_volume_dict_compiles(trace):
    from kale_argo.app.compiling import compile_dict

    spec = _pipe(trace, "volumes=["
                 "{'type': 'new_pvc', 'name': 'fresh', 'mount_point': '/fresh', 'size': 5, "
                 "'size_type': 'Gi', 'annotations': [{'key': 'a/b', 'value': 'c'}]},"
                 "{'type': 'pv', 'name': 'my-pv', 'mount_point': '/pv', 'size': 1, 'size_type': 'Gi',"
                 " 'volume_access_mode': 'rwo'},"
                 "{'type': 'pvc', 'name': 'data', 'mount_point': '/data'},"
                 "{'type': 'clone', 'name': 'home', 'mount_point': '/home', 'size': '2Gi', "
                 "'annotations': {'x': 'y'}, 'storage_class_name': 'fast'}]")
    wf = compile_dict(spec)
    claims = {c["metadata"]["name"]: c for c in wf["spec"]["volumeClaimTemplates"]}
    fresh = claims["kale-new-fresh"]
    assert fresh["metadata"]["annotations"] == {"a/b": "c"}
    assert fresh["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert "dataSource" not in fresh["spec"]
    pv = claims["kale-new-my-pv"]["spec"]
    assert pv["volumeName"] == "my-pv" and pv["accessModes"] == ["ReadWriteOnce"]
    clone = claims["kale-ws-home"]
    assert clone["spec"]["dataSource"]["name"] == "home" and clone["metadata"]["annotations"] == {"x": "y"}
    assert clone["spec"]["storageClassName"] == "fast"
    mounted = [v for v in wf["spec"]["volumes"] if v.get("persistentVolumeClaim")]
    assert mounted[0]["persistentVolumeClaim"]["claimName"] == "data"


def test_artifact_becomes_an_output_artifact(trace):
    from kale_argo.app.compiling import compile_dict

    spec = trace("from kale_argo.api import pipeline, step, artifact\n\n"
                 "@artifact(name='report', path='/tmp/r.html')\n@step(name='a')\ndef a():\n    pass\n\n"
                 "@pipeline(name='p')\ndef p():\n    a()\n")
    assert [(x.name, x.path) for x in spec.steps[0].artifacts] == [("report", "/tmp/r.html")]
    (tpl,) = [t for t in compile_dict(spec)["spec"]["templates"] if "container" in t]
    assert tpl["outputs"]["artifacts"] == [{"name": "report", "path": "/tmp/kale-artifacts/report.html"}]


def test_artifact_on_a_plain_function_is_reported(trace):
    with pytest.raises(PipelineError, match="not a @step"):
        trace("from kale_argo import pipeline, artifact\n\n@artifact(name='r', path='/x')\n"
              "def a():\n    pass\n\n@pipeline(name='p')\ndef p():\n    a()\n")


@pytest.mark.parametrize("make", [
    lambda np: np.array(["2020-01-01", "2021-06-01T12:00"], dtype="datetime64[s]"),
    lambda np: np.arange(5).astype("timedelta64[ms]"),
    lambda np: np.array([(1, 2.5)], dtype=[("a", "i4"), ("b", "f8")]),
    lambda np: np.asfortranarray(np.arange(6).astype("datetime64[D]").reshape(2, 3)),
])
def test_numpy_dtypes_take_the_npy_path(tmp_path, make):
    np = pytest.importorskip("numpy")
    from kale_argo.runtime import marshal

    value = make(np)
    assert marshal.save(str(tmp_path), "v", value, step="s")["codec"] == "numpy"
    out = marshal.load(str(tmp_path), "v")
    assert out.dtype == value.dtype and (out == value).all()


def test_masked_and_object_arrays_round_trip(tmp_path):
    np = pytest.importorskip("numpy")
    from kale_argo.runtime import marshal

    masked = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])
    marshal.save(str(tmp_path), "m", masked, step="s")
    marshal.save(str(tmp_path), "o", np.array([1, "x", None], dtype=object), step="s")
    out = marshal.load(str(tmp_path), "m")
    assert isinstance(out, np.ma.MaskedArray) and list(out.mask) == [False, True, False]
    assert list(marshal.load(str(tmp_path), "o")) == [1, "x", None]


def test_migrate_script_and_notebook(tmp_path, call_cli):
    script = tmp_path / "k.py"
    script.write_text('"""python3 -m kale k.py --kfp"""\nfrom kale.sdk import pipeline, step\n'
                      "from kale.sdk.api import artifact\n")
    shown = call_cli("migrate", script)
    assert shown.returncode == 0 and "+from kale_argo import pipeline, step" in shown.stdout
    assert "kale.sdk" in script.read_text()  # shown only
    assert call_cli("migrate", script, "--write").returncode == 0
    assert script.read_text() == ('"""python3 -m kale_argo k.py --kfp"""\n'
                                  "from kale_argo import pipeline, step\n"
                                  "from kale_argo.api import artifact\n")
    nb = tmp_path / "n.ipynb"
    cells = [{"cell_type": "markdown", "source": ["from kale.sdk import x"]},
             {"cell_type": "code", "source": ["from kale.sdk import step\n", "x = 1"]}]
    nb.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert call_cli("migrate", nb, "--write").returncode == 0
    cells = json.loads(nb.read_text())["cells"]
    assert cells[0]["source"] == ["from kale.sdk import x"]
    assert cells[1]["source"] == ["from kale_argo import step\n", "x = 1"]
