"""Every example's compiled Workflow equals its committed golden file, byte for byte.

A compiler change shows as a reviewable diff of tests/golden/*.yaml: regenerate with the command
named in the failure (``make golden``), read the diff, commit it.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml

from tests.golden.update import COMMAND, EXAMPLES, GOLDEN, compile_example, golden_path
from tests.workflow_checks import check_workflow


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_compiles_to_its_golden_file(example: Path) -> None:
    golden = golden_path(example)
    assert golden.is_file(), f"no golden file {golden.name} for examples/{example.name}: run `{COMMAND}`"
    expected = golden.read_bytes()
    actual = compile_example(example).encode()
    if actual != expected:
        diff = difflib.unified_diff(expected.decode().splitlines(keepends=True),
                                    actual.decode().splitlines(keepends=True),
                                    f"tests/golden/{golden.name}", "compiled now", n=2)
        pytest.fail(f"examples/{example.name} no longer compiles to tests/golden/{golden.name}; if the "
                    f"change is intended, run `{COMMAND}` and commit the diff:\n"
                    + "\n".join(_short(line.rstrip("\n")) for line in list(diff)[:60]), pytrace=False)


def _short(line: str, width: int = 160) -> str:
    """A diff line cut to ``width`` (the embedded code bundle is one long base64 line)."""
    return line if len(line) <= width else f"{line[:width]}... ({len(line)} characters)"


@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("*.yaml")), ids=lambda p: p.stem)
def test_golden_file_is_a_valid_workflow(golden: Path) -> None:
    *code, workflow = yaml.safe_load_all(golden.read_text())  # the code ConfigMap, then the Workflow
    check_workflow(workflow)
    assert [c["kind"] for c in code] == ["ConfigMap"]


def test_every_golden_file_has_its_example() -> None:
    assert {p.stem for p in GOLDEN.glob("*.yaml")} == {p.stem for p in EXAMPLES}, f"run `{COMMAND}`"
