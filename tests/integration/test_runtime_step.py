"""The step runtime end to end: ``python -m kale_argo.runtime`` in a subprocess, as executors run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from kale_argo.runtime import marshal
from kale_argo.runtime.contract import step_argv
from kale_argo.runtime.record import read_record

SCRIPT = '''
import dataclasses

import numpy as np
import pandas as pd

from kale_argo import pipeline, step


@dataclasses.dataclass
class Model:
    w: float

    def predict(self, x):
        return x * self.w


@step
def make(n, scale, label, flag):
    assert (type(n), type(scale), type(label), type(flag)) == (int, float, str, bool)
    x = np.arange(n) * scale
    return x, pd.DataFrame({"x": x}), f"{label}:{flag}"


@step(name="fit")
def fit(x, frame, offset):
    assert type(x) is np.ndarray and isinstance(frame, pd.DataFrame)
    return Model(float(frame["x"].sum()) + offset), (lambda v: v + 1)


@step
def use(model, fn, x, tag=None):
    print("using", type(model).__name__, tag)
    return float(model.predict(x).sum()) + fn(0)


@step
def boom(x):
    return helper(x)


def helper(x):
    raise ValueError(f"bad data: {len(x)} rows")


@step
def two():
    return 1, 2, 3


@step
def generator():
    return (i for i in range(3))


@pipeline(name="flow")
def flow(n=4, scale=0.5, label="a", flag=False):
    x, frame, text = make(n, scale, label, flag)
    model, fn = fit(x, frame, 1)
    use(model, fn, x, tag="t")


if __name__ == "__main__":
    raise SystemExit("the __main__ block must not run in a step")
'''


def value(key, producer="p"):
    return {"kind": "value", "key": key, "producer": producer}


def param(name):
    return {"kind": "param", "name": name}


def const(v):
    return {"kind": "const", "value": v}


def call(step, function, args=(), kwargs=None, outputs=(), unpack=False, params=None):
    return {"step": step, "function": function, "args": list(args), "kwargs": kwargs or {},
            "outputs": list(outputs), "unpack": unpack, "params": params or {}}


def run_step(script, marshal_dir, c, params=None, extra=()):
    argv = step_argv(python=sys.executable, script=str(script), marshal_dir=str(marshal_dir),
                     call=c, params=params or {})
    return subprocess.run([*argv, *extra], capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(script))


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    """The script, and a marshal dir in which make, fit and use ran."""
    root = tmp_path_factory.mktemp("flow")
    script = root / "flow.py"
    script.write_text(SCRIPT)
    data = root / "marshal" / "run1"  # created by the runtime
    results = [
        run_step(script, data, call("make", "make", [param("n"), param("scale"), param("label"),
                                                      param("flag")], outputs=["x", "frame", "text"],
                                    unpack=True, params={"n": "int", "scale": "float", "label": "str",
                                                         "flag": "bool"}),
                 {"n": "05", "scale": "0.5", "label": "lbl", "flag": "yes"}),
        run_step(script, data, call("fit", "fit", [value("x"), value("frame")],
                                    {"offset": const(1)}, outputs=["model", "fn"], unpack=True)),
        run_step(script, data, call("use", "use", [value("model"), value("fn"), value("x")],
                                    {"tag": const("t")}, outputs=["score"])),
    ]
    return script, data, results


def test_steps_pass_numpy_pandas_objects_and_lambdas(flow):
    _, data, results = flow
    for r in results:
        assert r.returncode == 0, r.stderr
    assert "using Model t" in results[2].stdout
    codecs = {m["key"]: m["codec"] for m in marshal.list_values(str(data))}
    assert codecs == {"x": "numpy", "frame": "arrow", "text": "pickle", "model": "pickle",
                        "fn": "dill", "score": "pickle"}
    assert marshal.load(str(data), "text") == "lbl:True"
    # x = [0, .5, 1, 1.5, 2]; w = 5 + 1 = 6; sum(x * w) = 30; + fn(0) = 1
    assert marshal.load(str(data), "score") == 31.0


def test_step_records(flow):
    _, data, _ = flow
    record = read_record(str(data), "make")
    assert record is not None
    assert record["status"] == "succeeded" and record["error"] is None
    assert record["started"] <= record["finished"]
    assert set(record["outputs"]) == {"x", "frame", "text"}
    assert record["outputs"]["x"]["codec"] == "numpy"
    assert record["outputs"]["x"]["bytes"] == marshal.describe(str(data), "x")["bytes"]
    assert read_record(str(data), "use")["outputs"]["score"]["type"] == "float"


def test_user_exception_exits_1_with_trimmed_traceback(flow):
    script, data, _ = flow
    r = run_step(script, data, call("boom", "boom", [value("x")], outputs=["y"]))
    assert r.returncode == 1
    assert "ValueError: bad data: 5 rows" in r.stderr
    assert "in helper" in r.stderr and "in boom" in r.stderr
    assert "kale_argo" not in r.stderr
    record = read_record(str(data), "boom")
    assert record["status"] == "failed" and "ValueError" in record["error"]
    assert marshal.describe(str(data), "y") is None


@pytest.mark.parametrize("case", [
    "missing-input", "unpack-count", "unserialisable", "bad-param", "missing-param", "no-function",
])
def test_bad_input_exits_2_with_one_line(flow, case):
    script, data, _ = flow
    c, params, expect = {
        "missing-input": (call("s1", "boom", [value("nope")]), {}, "variable 'nope'"),
        "unpack-count": (call("s2", "two", outputs=["a", "b"], unpack=True), {},
                         "returned 3 values, the pipeline unpacks 2 (a, b)"),
        "unserialisable": (call("s3", "generator", outputs=["g"]), {},
                           "step 's3', variable 'g'"),
        "bad-param": (call("s4", "make", [param("n")], params={"n": "int"}), {"n": "ten"},
                      "parameter 'n' expects int"),
        "missing-param": (call("s5", "make", [param("n")], params={"n": "int"}), {},
                          "parameter 'n' was not passed"),
        "no-function": (call("s6", "nothere"), {}, "function 'nothere' not found"),
    }[case]
    r = run_step(script, data, c, params)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0] and c["step"] in lines[0], r.stderr
    assert read_record(str(data), c["step"])["status"] == "failed"
    assert not [n for n in os.listdir(data) if n.endswith(".tmp") or n.startswith("g.")]


def test_corrupt_input_exits_2_naming_file(flow, tmp_path):
    script, _, _ = flow
    copy = tmp_path / "m"
    meta = marshal.save(str(copy), "text", "hello", step="make")
    path = copy / meta["file"]
    path.write_bytes(path.read_bytes()[:-3] + b"xyz")
    r = run_step(script, copy, call("u", "use", [value("text")]))
    assert r.returncode == 2 and f"file {path}" in r.stderr and "variable 'text'" in r.stderr


def test_bad_command_exits_2(flow, tmp_path):
    script, _, _ = flow
    base = [sys.executable, "-m", "kale_argo.runtime", "--script", str(script), "--marshal-dir",
            str(tmp_path)]
    for extra in (["--call", "{not json"], ["--call", "[]"], []):
        r = subprocess.run([*base, *extra], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and r.stderr.strip(), extra
    r = run_step(tmp_path / "missing.py", tmp_path, call("s", "f"))
    assert r.returncode == 2 and "does not exist" in r.stderr


def test_traced_pipeline_runs_through_the_contract(tmp_path):
    """The spec's runtime_call and step_argv drive the runtime, step by step in DAG order."""
    from kale_argo.sdk.loader import load_pipeline
    from kale_argo.spec import topological_order

    script = tmp_path / "flow.py"
    script.write_text(SCRIPT)
    spec = load_pipeline(str(script)).trace()
    params = {p.name: str(p.default) for p in spec.parameters}
    for name in topological_order(spec.steps):
        s = spec.step(name)
        r = run_step(script, tmp_path / "m", s.runtime_call(spec.param_types()),
                     {p: params[p] for p in s.parameters_used()})
        assert r.returncode == 0, r.stderr
    assert marshal.load(str(tmp_path / "m"), "text") == "a:False"


PROBE = textwrap.dedent('''
    import json, sys
    out, argv = sys.argv[1], sys.argv[2:]
    import kale_argo.runtime.supervise  # what the supervising parent imports, too
    from kale_argo.runtime.__main__ import main
    code = main(argv, fork=False)  # the step in this process, so its imports are seen
    with open(out, "w") as fh:
        json.dump({"code": code, "modules": sorted(sys.modules)}, fh)
''')

LIGHT = '''
from kale_argo import pipeline, step

@step
def first(n):
    return {"n": n}, [n] * 3

@step
def second(d, xs):
    return d["n"] + sum(xs)
'''


def probe(tmp_path, script, c, params=None):
    argv = step_argv(python=sys.executable, script=str(script), marshal_dir=str(tmp_path / "m"),
                     call=c, params=params or {})
    out = tmp_path / "modules.json"
    r = subprocess.run([sys.executable, "-c", PROBE, str(out), *argv[3:]], capture_output=True,
                       text=True, timeout=60)
    result = json.loads(out.read_text())
    assert result["code"] == 0, r.stderr
    return {m.split(".")[0] for m in result["modules"]} | set(result["modules"])


def test_runtime_never_imports_heavy_modules(tmp_path):
    script = tmp_path / "light.py"
    script.write_text(LIGHT)
    c1 = call("first", "first", [param("n")], outputs=["d", "xs"], unpack=True, params={"n": "int"})
    c2 = call("second", "second", [value("d"), value("xs")], outputs=["total"])
    for c, params in ((c1, {"n": "2"}), (c2, {})):
        top = probe(tmp_path, script, c, params)
        assert "kale_argo" in top and "light" in top  # the probe really ran the step
        assert not top & {"hera", "kubernetes", "pydantic", "yaml", "numpy", "pandas", "pyarrow",
                          "dill", "importlib.metadata"}
    assert marshal.load(str(tmp_path / "m"), "total") == 8


def test_numpy_values_do_not_import_pandas(tmp_path):
    script = tmp_path / "arrays.py"
    script.write_text("from kale_argo import step\n\n@step\ndef make():\n"
                      "    import numpy\n    return numpy.ones(3)\n\n@step\ndef use(x):\n"
                      "    return float(x.sum())\n")
    assert "pandas" not in probe(tmp_path, script, call("make", "make", outputs=["x"]))
    top = probe(tmp_path, script, call("use", "use", [value("x")], outputs=["s"]))
    assert "numpy" in top and not top & {"pandas", "pyarrow", "hera", "pydantic", "dill"}


EXITING = '''
import sys
from kale_argo import pipeline, step


@step
def quits(code):
    print("about to exit")
    sys.exit(code)
    return 1


@pipeline(name="exiting")
def exiting():
    quits(0)
'''


@pytest.mark.parametrize(("code", "outputs", "returncode"), [
    (0, ["y"], 1), (None, ["y"], 1), (3, [], 1), (0, [], 0), (None, [], 0),
])
def test_sys_exit_in_a_step(tmp_path, code, outputs, returncode):
    """sys.exit() in a step never 'succeeds' with its outputs missing (the next step would fail
    on a value that was never saved); a step without outputs may end early with sys.exit(0)."""
    script = tmp_path / "exiting.py"
    script.write_text(EXITING)
    data = tmp_path / "marshal"
    r = run_step(script, data, call("quits", "quits", [const(code)], outputs=outputs))
    assert r.returncode == returncode, r.stderr
    assert "about to exit" in r.stdout
    record = read_record(str(data), "quits")
    assert record is not None
    if returncode:
        assert record["status"] == "failed" and f"sys.exit({code!r})" in record["error"]
        assert "SystemExit" in r.stderr and "in quits" in r.stderr
    else:
        assert record["status"] == "succeeded" and r.stderr == ""
