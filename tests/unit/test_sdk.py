"""The SDK: Kale's decorators and keywords, tracing into the IR (outputs named after variables,
tuple unpacking, repeated steps, data-flow dependencies, parameters)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kale_argo import PipelineError, pipeline, step
from kale_argo.sdk.loader import load_pipeline

SEED = '''
from kale_argo import pipeline, step

@step(name="load")
def load(n):
    return list(range(n))

@step(name="split")
def split(data):
    return data[:1], data[1:]

@step(name="train", limits={"cpu": "1", "memory": "512Mi"}, retry_count=2, retry_interval="30s")
def train(x, lr):
    return sum(x) * lr

@step(name="evaluate")
def evaluate(m1, m2):
    print(m1, m2)

@pipeline(name="binary-classification", experiment="kale-sdk", marshal_volume=True,
          marshal_volume_size="10Gi", marshal_path="/data/marshal")
def my_pipeline(n=10, lr=0.1, tag="x", verbose=False):
    data = load(n)
    a, b = split(data)
    m1 = train(a, lr)
    m2 = train(b, lr=lr)
    evaluate(m1, m2)
'''


@pytest.fixture
def trace(make_script):
    counter = iter(range(1000))

    def run(text: str):
        return load_pipeline(str(make_script(text, f"sdk_case_{next(counter)}.py"))).trace()
    return run


def test_seed_keywords(trace):
    spec = trace(SEED)
    assert spec.name == "binary-classification" and spec.experiment == "kale-sdk"
    assert spec.marshal.volume is True and spec.marshal.size == "10Gi"
    assert spec.marshal.path == "/data/marshal" and spec.marshal.access_mode == "rwm"


def test_outputs_follow_variables_and_tuple_unpacking(trace):
    steps = {s.name: s for s in trace(SEED).steps}
    assert steps["load"].outputs == ["data"] and not steps["load"].unpack
    assert steps["split"].outputs == ["a", "b"] and steps["split"].unpack
    assert steps["evaluate"].outputs == []
    assert steps["split"].args[0].model_dump() == {"kind": "value", "key": "data", "producer": "load"}


def test_same_step_twice_and_dependencies(trace):
    spec = trace(SEED)
    assert [s.name for s in spec.steps] == ["load", "split", "train", "train_2", "evaluate"]
    steps = {s.name: s for s in spec.steps}
    assert steps["train"].step == steps["train_2"].step == "train"
    assert steps["train"].depends == steps["train_2"].depends == ["split"]
    assert steps["train_2"].kwargs["lr"].model_dump() == {"kind": "param", "name": "lr"}
    assert steps["evaluate"].depends == ["train", "train_2"]
    assert steps["train"].options.limits == {"cpu": "1", "memory": "512Mi"}
    assert steps["train"].options.retry_count == 2 and steps["train"].options.retry_interval == 30


def test_parameters_and_types(trace):
    spec = trace(SEED)
    assert [(p.name, p.type, p.default) for p in spec.parameters] == [
        ("n", "int", 10), ("lr", "float", 0.1), ("tag", "str", "x"), ("verbose", "bool", False)]
    assert spec.resolve_parameters({"n": "7", "lr": 2, "verbose": "yes", "tag": 5}) == {
        "n": 7, "lr": 2.0, "tag": "5", "verbose": True}


def test_independent_steps_are_independent(trace):
    spec = trace('''
        from kale_argo import pipeline, step

        @step(name="a")
        def a():
            return 1

        @step(name="b")
        def b(x):
            return x

        @pipeline(name="p")
        def p():
            x = a()
            y = a()
            b(x)
            b(y)
        ''')
    assert {s.name: s.depends for s in spec.steps} == {"a": [], "a_2": [], "b": ["a"], "b_2": ["a_2"]}
    assert [s.outputs for s in spec.steps] == [["x"], ["y"], [], []]


def test_nested_calls_and_reassigned_variables(trace):
    spec = trace('''
        from kale_argo import pipeline, step

        @step(name="inc")
        def inc(x):
            return x + 1

        @pipeline(name="p")
        def p(start=0):
            x = inc(start)
            x = inc(x)
            inc(inc(x))
        ''')
    steps = [(s.name, s.outputs, [i.model_dump().get("key") for i in s.args]) for s in spec.steps]
    assert steps[0] == ("inc", ["x"], [None])
    assert steps[1] == ("inc_2", ["x_2"], ["x"])
    assert steps[2][1] == ["inc_3_output"] and steps[3][2] == ["inc_3_output"]


def test_every_keyword_of_step_and_pipeline(trace):
    spec = trace('''
        from kale_argo import pipeline, step

        @step(name="s", image="python:3.12", limits={"nvidia.com/gpu": "1"}, labels={"team": "ml"},
              annotations={"note": "x"}, retry_count=3, retry_interval="10s", retry_factor=2,
              retry_max_interval="5m", timeout="1h")
        def s(x):
            return x

        @pipeline(name="p", experiment="e", description="d", marshal_volume=True,
                  marshal_volume_size="2Gi", marshal_path="/m", volume_access_mode="ReadWriteOnce",
                  storage_class_name="fast", volumes=["data:/data"], docker_image="img:1",
                  steps_defaults={"labels": {"env": "dev"}, "retry_count": 1}, autosnapshot=False,
                  timeout=600)
        def p(x=1):
            s(x)
        ''')
    o = spec.steps[0].options
    assert o.image == "python:3.12" and o.limits == {"nvidia.com/gpu": "1"}
    assert o.labels == {"env": "dev", "team": "ml"} and o.annotations == {"note": "x"}
    assert (o.retry_count, o.retry_interval, o.retry_factor, o.retry_max_interval, o.timeout) == (
        3, 10, 2, 300, 3600)
    assert spec.description == "d" and spec.docker_image == "img:1" and spec.autosnapshot is False
    assert spec.marshal.access_mode == "rwo" and spec.marshal.storage_class == "fast"
    assert spec.volumes[0].claim == "data" and spec.volumes[0].mount_path == "/data"
    assert spec.timeout == 600


def test_step_outside_a_pipeline_calls_the_function():
    @step
    def double(x):
        return 2 * x

    @step(name="triple")
    def triple(x):
        return 3 * x

    assert double(4) == 8 and double.name == "double" and triple(2) == 6 and triple.name == "triple"


def test_pipeline_call_outside_a_script_raises_instead_of_exiting():
    @pipeline(name="p")
    def p(n=1):
        pass

    with pytest.raises(PipelineError, match="positional"):
        p(1)


def test_kale_sdk_script_unchanged_but_the_import(trace, kale_skeleton):
    spec = trace(kale_skeleton)
    assert [(s.name, s.depends) for s in spec.steps] == [
        ("my_step", []), ("second_step", ["my_step"]), ("third_step", ["my_step"])]
    assert spec.steps[0].outputs == ["data1", "data2"]


def test_tracing_is_deterministic(trace, make_script):
    path = make_script(SEED, "deterministic.py")
    first = load_pipeline(str(path)).trace().to_json()
    assert load_pipeline(str(path)).trace().to_json() == first


@pytest.mark.parametrize("body, words", [
    ("x = load(n)\n    y = x + 1", "the + operator"),
    ("x = load(n)\n    x[0]", "indexing"),
    ("x = load(n)\n    a, b = x", "unpack at the call"),
    ("first, *rest = split(load(n))", "starred target"),
    ("load(str(n))", "str()"),
    ("load(object())", "cannot be passed from the pipeline body"),
    ("load([load(n)])", "nests a step output"),
    ("load(1, 2)", "bad arguments"),
])
def test_misuse_in_the_pipeline_body(trace, body, words):
    text = SEED.split("@pipeline")[0] + f'@pipeline(name="p")\ndef p(n=1):\n    {body}\n'
    with pytest.raises(PipelineError) as info:
        trace(text)
    assert words in str(info.value) and ".py:" in str(info.value)


def test_import_stays_light():
    code = ("import sys, kale_argo; from kale_argo import pipeline, step; "
            "print(sorted(m for m in ('pydantic', 'hera', 'kubernetes', 'yaml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("options, words", [
    ('labels="team"', "labels must be a dict, got str"),
    ('limits=["cpu"]', "limits must be a dict, got list"),
    ("annotations=5", "annotations must be a dict, got int"),
    ('retry_count="x"', "hint: a whole number of retries"),
    ("retry_factor=0", "hint: a number greater than 0"),
    ('image=""', "(it is empty)"),
])
def test_step_options_of_the_wrong_kind_name_the_decorator(trace, options, words):
    """Wrong option types point at the @step line with a hint, not at a tracing failure."""
    text = ("from kale_argo import pipeline, step\n\n"
            f"@step(name='a', {options})\ndef a():\n    return 1\n\n"
            "@pipeline(name='p')\ndef p():\n    a()\n")
    with pytest.raises(PipelineError) as info:
        trace(text)
    line = info.value.one_line()
    assert words in line and ".py:3:" in line and "hint:" in line and "tracing" not in line
