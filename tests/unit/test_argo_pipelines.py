"""Generated pipelines of 1 to 1,000 steps (chain, fan-out, diamond) compile to Workflows Argo accepts.

Also home of the small helpers other compiler tests import: ``trace_script`` and ``generated``.
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

import pytest

from kale_argo.argo import compile_dict
from kale_argo.sdk.loader import load_pipeline
from kale_argo.spec import PipelineSpec
from tests.workflow_checks import check_workflow

HEADER = "from kale_argo import pipeline, step\n\n"

BODIES = {
    # n steps in a line: each reads the previous one's value.
    "chain": '''
@step(name="work_step")
def work(x):
    return x + 1

@pipeline(name="chain-{n}")
def generated(start=1):
    v = work(start)
    for _ in range({n} - 1):
        v = work(v)
''',
    # one source, n - 1 independent readers.
    "fanout": '''
@step(name="source")
def source(x):
    return x

@step(name="leaf")
def leaf(x):
    return x * 2

@pipeline(name="fanout-{n}")
def generated(start=1):
    v = source(start)
    for _ in range({n} - 1):
        leaf(v)
''',
    # diamonds in a row: split -> left, right -> join; 1 + 3k steps.
    "diamond": '''
@step(name="split")
def split(x):
    return x

@step(name="left")
def left(x):
    return x + 1

@step(name="right")
def right(x):
    return x - 1

@step(name="join")
def join(a, b):
    return a + b

@pipeline(name="diamond-{n}")
def generated(start=1):
    v = split(start)
    for _ in range(({n} - 1) // 3):
        v = join(left(v), right(v))
''',
}


def trace_script(path: Path) -> PipelineSpec:
    """The traced pipeline of the script at ``path``."""
    return load_pipeline(str(path)).trace()


def write_script(folder: Path, text: str, name: str = "pipe.py") -> Path:
    """Write dedented ``text`` to ``folder/name``."""
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def generated(folder: Path, shape: str, n: int) -> PipelineSpec:
    """A traced pipeline of ``shape`` with ``n`` steps (diamonds: the largest 1 + 3k <= n)."""
    path = write_script(folder, HEADER + BODIES[shape].format(n=n), f"{shape}_{n}.py")
    return trace_script(path)


def tasks(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The DAG tasks of a compiled Workflow."""
    main = next(t for t in manifest["spec"]["templates"] if t["name"] == manifest["spec"]["entrypoint"])
    return main["dag"]["tasks"]


CASES = [(shape, n) for shape in ("chain", "fanout") for n in (1, 2, 10, 100, 1000)]
CASES += [("diamond", n) for n in (1, 4, 100, 1000)]


@pytest.mark.parametrize(("shape", "n"), CASES)
def test_generated_pipelines_pass_argo_checks(tmp_path: Path, shape: str, n: int) -> None:
    spec = generated(tmp_path, shape, n)
    manifest = compile_dict(spec)
    check_workflow(manifest)
    dag = tasks(manifest)
    assert len(dag) == len(spec.steps)
    by_task = {t["name"]: t for t in dag}
    names = [t["name"] for t in dag]
    if shape == "chain":
        assert all(by_task[b].get("depends") == a for a, b in itertools.pairwise(names))
    if shape == "fanout":
        assert all(t.get("depends") == names[0] for t in dag[1:])
    if shape == "diamond" and n >= 4:
        joins = [t for t in dag if t["template"] == "join"]
        assert len(joins) == (n - 1) // 3
        assert all(" && " in t["depends"] for t in joins)
    # calls of one @step (same options and parameters) share a template, not one per call
    kinds = {(s.step, tuple(s.parameters_used())) for s in spec.steps}
    assert len(manifest["spec"]["templates"]) == 1 + len(kinds)
