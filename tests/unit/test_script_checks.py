"""Mistakes in what is given as the pipeline's script, caught before anything runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kale_argo.errors import PipelineError, ScriptError
from kale_argo.sdk.loader import load_pipeline

NESTED = '''
from kale_argo import pipeline, step

def make():
    @step(name="inner")
    def inner(x):
        return x + 1
    return inner

{assign}

@pipeline(name="nested")
def nested(n=1):
    {call}(n)
'''


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "nested_pipe.py"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_a_directory_is_not_a_script(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="is a directory, not a Python file"):
        load_pipeline(str(tmp_path))


def test_a_step_only_reachable_inside_a_function_is_refused_when_traced(tmp_path: Path) -> None:
    pipe = load_pipeline(write(tmp_path, NESTED.format(assign="", call="make()")))
    with pytest.raises(PipelineError, match=r"defined inside the function make\(\)") as info:
        pipe.trace()
    assert info.value.where and info.value.where.endswith("nested_pipe.py:5")


def test_a_nested_step_held_by_a_module_level_name_is_found_by_that_name(tmp_path: Path) -> None:
    spec = load_pipeline(write(tmp_path, NESTED.format(assign="inner = make()", call="inner"))).trace()
    assert [s.function for s in spec.steps] == ["inner"]
