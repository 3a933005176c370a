"""Pieces of the step runtime: output unpacking, function lookup, tracebacks, records, params."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from kale_argo import step
from kale_argo.errors import UserError
from kale_argo.params import convert_parameter
from kale_argo.runtime import script
from kale_argo.runtime.contract import parse_argv
from kale_argo.runtime.record import read_record, record_path, write_record
from kale_argo.runtime.script import import_script, precompile
from kale_argo.runtime.step import StepError, _outputs, resolve_function, user_traceback


def test_outputs_single_tuple_and_none():
    assert _outputs((1, 2), {"outputs": ["t"]}, "s") == [("t", (1, 2))]
    assert _outputs([1, 2], {"outputs": ["a", "b"], "unpack": True}, "s") == [("a", 1), ("b", 2)]
    assert _outputs(5, {"outputs": []}, "s") == []


@pytest.mark.parametrize("result, got", [((1, 2, 3), "3 values"), (7, "a int"), ("ab", "a str")])
def test_outputs_unpack_mismatch_names_step_and_count(result, got):
    with pytest.raises(StepError, match=rf"step 'split': returned {got}, the pipeline unpacks 2"):
        _outputs(result, {"outputs": ["a", "b"], "unpack": True}, "split")


def test_resolve_function_unwraps_steps_and_nested_qualnames():
    def plain(x):
        return x

    class Holder:
        @staticmethod
        def method():
            return 1

    module = types.ModuleType("m")
    module.train = step(plain)
    module.Holder = Holder
    assert resolve_function(module, "train", "t") is plain
    assert resolve_function(module, "Holder.method", "t")() == 1
    with pytest.raises(StepError, match="function 'missing' not found"):
        resolve_function(module, "missing", "t")


def test_user_traceback_drops_runtime_frames():
    from kale_argo.runtime import step as runtime_step

    def user():
        raise KeyError("k")

    try:
        runtime_step.resolve_function(types.SimpleNamespace(f=user), "f", "s")()
    except KeyError as exc:
        text = user_traceback(exc)
    assert "in user" in text and "KeyError: 'k'" in text


def test_record_round_trip(tmp_path):
    write_record(str(tmp_path), "train/2", status="failed", started=1.0, finished=2.5,
                 outputs={}, error="boom")
    assert record_path(str(tmp_path), "train/2").endswith("train_2.json")
    assert read_record(str(tmp_path), "train/2") == {
        "step": "train/2", "status": "failed", "started": 1.0, "finished": 2.5, "outputs": {},
        "error": "boom"}
    assert read_record(str(tmp_path), "other") is None


@pytest.mark.parametrize("type_, raw, expected", [
    ("int", "010", 10), ("int", "-1_000", -1000), ("int", " 7 ", 7), ("float", "1e-3", 0.001),
    ("bool", "off", False),
    ("bool", "Yes", True), ("str", "x=y", "x=y"),
])
def test_convert_parameter(type_, raw, expected):
    assert convert_parameter("p", type_, raw) == expected


def test_convert_parameter_rejects_with_hint():
    with pytest.raises(UserError, match=r"-p n: parameter 'n' expects int, got 'ten'"):
        convert_parameter("n", "int", "ten", where="-p n")


def test_spec_shares_the_runtime_implementation():
    from kale_argo import spec

    assert spec.convert_parameter is convert_parameter


def test_package_import_is_light():
    code = ("import sys, kale_argo; from kale_argo import pipeline, step; "
            "print(sorted({m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(eval(out.stdout))
    assert "kale_argo" in loaded
    assert not loaded & {"pydantic", "hera", "kubernetes", "yaml", "numpy", "dill", "pandas"}


@pytest.mark.parametrize("raw", ["0x10", "0o7", "0b1", "1e3", "", "1 2"])
def test_int_parameters_are_decimal_only(raw):
    with pytest.raises(UserError, match="expects int"):
        convert_parameter("n", "int", raw, where="-p n")


def test_a_huge_rejected_value_is_shortened_in_the_error():
    with pytest.raises(UserError) as info:
        convert_parameter("n", "int", "9" * 5000 + "x", where="-p n")
    text = str(info.value)
    assert len(text) < 300 and "5001 characters" in text and "\n" not in text


def test_the_step_command_parser_built_once_keeps_nothing_between_parses():
    base = ["--script", "s.py", "--marshal-dir", ".", "--call", '{"step": "a"}']
    first = parse_argv([*base, "--param", "a=1", "--item", "2", "--cache-dir", "c"])
    assert (first.params, first.item, first.cache_dir) == ({"a": "1"}, 2, "c")
    again = parse_argv(base)
    assert (again.params, again.item, again.cache_dir) == ({}, None, None)


@pytest.fixture
def script_module(tmp_path, monkeypatch):
    """Write a script; its module and folder leave sys.modules and sys.path after the test.
    Bytecode is not cached, so each import compiles the source or takes precompiled code."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "path", list(sys.path))
    names = []

    def write(text: str, name: str = "precompiled_script") -> str:
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        names.append(name)
        return str(path)

    yield write
    for name in names:
        sys.modules.pop(name, None)


def test_a_precompiled_script_is_imported_from_that_code(script_module):
    path = script_module("def f():\n    return 1\n")
    precompile(path)
    module = import_script(path)
    assert module.f() == 1
    assert module.f.__code__ in script._compiled[path][1].co_consts  # not compiled again


def test_a_script_changed_after_it_was_precompiled_is_compiled_again(script_module):
    path = script_module("def f():\n    return 1\n")
    precompile(path)
    with open(path, "w") as fh:
        fh.write("def f():\n    return 2\n")
    assert import_script(path).f() == 2


@pytest.mark.parametrize(("text", "error"), [
    ("def f(:\n", SyntaxError),
    ("x = " + "+".join(["1"] * 100_000) + "\n", RecursionError),  # too deep for the compiler
])
def test_a_script_that_cannot_be_precompiled_is_left_to_the_step(script_module, tmp_path, text, error):
    precompile(str(tmp_path / "missing.py"))  # nothing raised: the step reports it
    path = script_module(text)
    precompile(path)
    assert path not in script._compiled
    with pytest.raises(error):
        import_script(path)


def test_a_script_whose_compiling_warns_is_compiled_by_the_step_which_shows_the_warning(script_module):
    path = script_module("x = 1\ny = x is 1\n")
    precompile(path)
    assert path not in script._compiled
    with pytest.warns(SyntaxWarning):
        import_script(path)
