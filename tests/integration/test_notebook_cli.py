"""``kale-argo run|compile|graph NOTEBOOK.ipynb``, and pipelines whose source cannot be read back."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.integration.test_notebook import CELLS, write_notebook
from tests.workflow_checks import check_workflow

pytest.importorskip("nbformat")

Cli = Callable[..., subprocess.CompletedProcess[str]]
MORE = [
    "%%bash\necho a cell magic",
    "%%time\nwarm = helper(2)",
    "files = !ls\nnp.mean?",
    "print(run.steps, df.shape)",
]


def test_run_compile_and_graph_a_notebook(call_cli: Cli, tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "demo.ipynb", CELLS + MORE)
    done = call_cli("run", nb, "--pipeline", "nb-pure", "-p", "n=3")
    assert done.returncode == 0, done.stderr
    assert "[show] sum: 3\n" in done.stdout
    assert "cell 2 line 1: skipped '%env KALE_NB_DEMO=1'" in done.stderr
    assert "cell 2 line 2: skipped '!echo shell escapes are not python'" in done.stderr
    assert "cell 11: skipped the cell (cell magic %%bash)" in done.stderr
    assert "not run (the pipeline does not use them): cell 6, cell 9, cell 10, cell 12, cell 14" \
        in done.stderr

    done = call_cli("compile", nb, "--pipeline", "nb-pure", "-o", tmp_path / "pure.yaml", "-p", "label=x")
    assert done.returncode == 0, done.stderr
    check_workflow(list(yaml.safe_load_all((tmp_path / "pure.yaml").read_text()))[-1])

    done = call_cli("graph", nb, "--pipeline", "nb-demo")
    assert done.returncode == 0 and "└── frame  <- xs" in done.stdout


def test_every_cell_is_the_script_without_a_pipeline_decorator(call_cli: Cli, tmp_path: Path) -> None:
    cells = ["import kale_argo\n%load_ext autoreload", "@kale_argo.step\ndef one():\n    print('one ran')",
             "display('only in a kernel')\nmake = kale_argo.pipeline(name='plain')\n"
             "def plain():\n    one()\n\n\nplain = make(plain)"]
    done = call_cli("run", write_notebook(tmp_path / "plain.ipynb", cells))
    assert done.returncode == 0, done.stderr
    assert "[one] one ran" in done.stdout


def test_a_cell_that_does_not_parse_is_one_line(call_cli: Cli, tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "broken.ipynb", [CELLS[0], "def oops(:\n    pass"])
    done = call_cli("run", nb)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(f"kale-argo: error: {nb} cell 2 line 1: cell 2 of "
                                                          "the notebook does not parse")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("how", ["-c", "-"])
def test_a_pipeline_typed_into_python_is_one_line(how: str, tmp_path: Path,
                                                  subprocess_env: dict[str, str]) -> None:
    code = ("from kale_argo import pipeline, step\n@step\ndef a():\n    return 1\n"
            "@pipeline(name='typed')\ndef typed():\n    a()\ntyped.run()\n")
    args, stdin = ([sys.executable, "-c", code], None) if how == "-c" else ([sys.executable, "-"], code)
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, cwd=tmp_path, env=subprocess_env,
                          timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    where = "python -c" if how == "-c" else "standard input"
    assert done.stderr == (f"kale-argo: error: pipeline 'typed' was defined in {where}, whose source "
                           "cannot be read back to ship to the steps (hint: save it in a .py file (or a "
                           "notebook) and run `python FILE` or `kale-argo run FILE`)\n")
