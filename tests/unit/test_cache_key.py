"""What counts as a step's code for the step cache."""

from __future__ import annotations

from pathlib import Path

from kale_argo.runtime.cache import code_digest

SCRIPT = '''
import os
from kale_argo import step

RATE = {rate}


def _helper(x):
    return x * RATE


@step
def train(x):
    return _helper(x)


@step
def other(x):
    return x{other}
'''


def digest(tmp_path: Path, function: str, rate: str = "2", other: str = "") -> str:
    path = tmp_path / "s.py"
    path.write_text(SCRIPT.format(rate=rate, other=other))
    return code_digest(str(path), function)


def test_a_step_s_code_is_its_function_and_what_it_uses(tmp_path: Path) -> None:
    base = digest(tmp_path, "train")
    assert digest(tmp_path, "train", other=" + 1") == base  # another step changed
    assert digest(tmp_path, "train", rate="3") != base  # a constant its helper reads changed
    assert digest(tmp_path, "other", rate="3") == digest(tmp_path, "other")
    assert digest(tmp_path, "other", other=" + 1") != digest(tmp_path, "other")


def test_an_imported_module_beside_the_script_counts(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("def f():\n    return 1\n")
    path = tmp_path / "s.py"
    path.write_text("from helpers import f\n\ndef train():\n    return f()\n")
    before = code_digest(str(path), "train")
    (tmp_path / "helpers.py").write_text("def f():\n    return 2\n")
    assert code_digest(str(path), "train") != before


def test_the_values_format_is_part_of_the_key(tmp_path: Path, monkeypatch) -> None:
    """An entry written in a newer layout is never offered to a version that cannot read it."""
    from kale_argo.runtime import marshal
    from kale_argo.runtime.cache import step_key
    from kale_argo.runtime.marshal import RunBinding

    script = tmp_path / "s.py"
    script.write_text("def use(x):\n    return x\n")
    folder = str(tmp_path / "values")
    marshal.save(folder, "x", 1)
    call = {"step": "use", "function": "use", "args": [{"kind": "value", "key": "x"}],
            "outputs": ["y"]}

    def key() -> str:
        return step_key(str(script), call, {}, folder, RunBinding())

    first = key()
    assert key() == first
    monkeypatch.setattr(marshal, "FORMAT", marshal.FORMAT + 1)
    assert key() != first
