"""Pipelines written in notebook cells, executed headless by a real Jupyter kernel (nbclient).

One kernel runs the notebook's cells (imports, a magic and a shell escape, helpers, constants,
steps and pipelines spread over cells) and then the Python API: ``.run()`` and ``.load()``, a
redefined step, ``.compile()`` (whose Workflow is checked and whose step commands run under a bare
Python with only the shipped code), ``.submit()`` to the fake Argo Server; a second kernel
reattaches with ``kale_argo.get_run()``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes.argo_server import FakeArgoServer
from tests.integration.test_compile_pods import bare_python, run_pods
from tests.integration.test_warm_starts import ORDER_HOOK
from tests.workflow_checks import check_workflow

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

CELLS = [
    "from dataclasses import dataclass\n\nimport numpy as np\nimport pandas as pd\n"
    "from kale_argo import pipeline, step",
    "%env KALE_NB_DEMO=1\n!echo shell escapes are not python",
    """SCALE = 3
CALLS = []


def helper(x):
    return int(x) * SCALE


@dataclass
class Summary:
    total: int""",
    """@step(name='make')
def make(n):
    CALLS.append(n)
    print(f'making {n} numbers, call {len(CALLS)}')
    return np.arange(n)""",
    """@step(name='frame')
def frame(xs):
    return pd.DataFrame({'x': xs, 'y': [helper(v) for v in xs]})


@step(name='summarise')
def summarise(df):
    return Summary(int(df['y'].sum()))""",
    "explore = pd.DataFrame({'a': [1, 2]})\nexplore.describe()",
    "@pipeline(name='nb-demo')\ndef nb_demo(n=4):\n    xs = make(n)\n    df = frame(xs)\n"
    "    summary = summarise(df)",
    """@step(name='count')
def count(n):
    return sum(range(n))


@step(name='show')
def show(total, label):
    print(f'{label}: {total}')
    return {'label': label, 'total': total}


@pipeline(name='nb-pure', marshal_path='/mnt/marshal')
def nb_pure(n=5, label='sum'):
    total = count(n)
    show(total, label)""",
    "run = nb_demo.run(n=5)\nrun",
    "df = run.load('df')\nprint(df['y'].tolist(), run.load('summary'))",
]


def write_notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbformat.write(nb, str(path))
    return path


class Kernel:
    """A live kernel in ``folder``; :meth:`cell` executes one more cell of its notebook."""

    def __init__(self, folder: Path, specs: Path) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        self.nb = nbformat.v4.new_notebook()
        specs_here = KernelSpecManager(kernel_dirs=[str(specs)])
        km = KernelManager(kernel_name="kale-test", kernel_spec_manager=specs_here)
        self.client = nbclient.NotebookClient(self.nb, km=km, timeout=120, kernel_name="kale-test",
                                              resources={"metadata": {"path": str(folder)}})

    def cell(self, source: str) -> tuple[str, list[dict[str, Any]]]:
        """Run ``source``: its stdout and stderr text, and its display outputs (a failing cell raises)."""
        cell = nbformat.v4.new_code_cell(source)
        self.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        text = "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")
        return text, [o for o in cell.outputs if o["output_type"] in ("execute_result", "display_data")]


def kernel_specs(root: Path) -> Path:
    """A kernel spec for this interpreter (a system-wide ``python3`` spec may be another Python)."""
    spec = root / "kernels" / "kale-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "kale-test", "language": "python"}))
    return root / "kernels"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("notebook")


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kernel_specs(tmp_path_factory.mktemp("specs"))


@pytest.fixture(scope="module")
def kernel(folder: Path, specs: Path) -> Iterator[Kernel]:
    k = Kernel(folder, specs)
    with k.client.setup_kernel():
        yield k


@pytest.fixture(scope="module")
def notebook(kernel: Kernel) -> dict[int, tuple[str, list[dict[str, Any]]]]:
    """The notebook's cells, run once in order in the shared kernel."""
    return {i: kernel.cell(c) for i, c in enumerate(CELLS)}


def html_of(outputs: list[dict[str, Any]]) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in outputs)


Cells = dict[int, tuple[str, list[dict[str, Any]]]]


def test_cells_run_and_load_with_their_helpers(notebook: Cells, kernel: Kernel, folder: Path) -> None:
    text, outputs = notebook[8]
    assert "[make] making 5 numbers, call 1" in text  # streamed with its prefix, as in the terminal
    shipped = next(line for line in text.splitlines() if "shipping the kernel's code" in line)
    assert "In[3] (SCALE, CALLS, helper, Summary)" in shipped and "In[7] (nb_demo)" in shipped
    module = (folder / ".kale_nb_demo.py").read_text()
    assert "explore" not in module and "nb_demo.run" not in module and "nb_pure" not in module
    assert "<table" in html_of(outputs) and "Succeeded" in html_of(outputs)
    assert notebook[9][0] == "[0, 3, 6, 9, 12] Summary(total=30)\n"  # a class defined in a cell

    text, _ = kernel.cell("print([(s.name, s.phase, s.output_bytes > 0) for s in run.steps])\n"
                          "try:\n    run.load('nope')\nexcept Exception as exc:\n    print(exc)")
    assert str([(name, "Succeeded", True) for name in ("make", "frame", "summarise")]) in text
    assert "has no value 'nope' (hint: its values: xs, df, summary)" in text

    _, outputs = kernel.cell("nb_demo")
    assert "<svg" in html_of(outputs) or "<pre" in html_of(outputs)
    text, _ = kernel.cell("print(repr(run))")
    assert text.startswith(f"local run {run_dir(folder)} of pipeline 'nb-demo': Succeeded\nSTEP ")


def run_dir(folder: Path) -> str:
    (only,) = (folder / ".kale-runs").glob("[!.]*")
    return str(only)


def test_errors_in_a_kernel_are_one_line_and_a_call_runs(notebook: Cells, kernel: Kernel) -> None:
    with pytest.raises(nbclient.exceptions.CellExecutionError):
        kernel.cell("nb_demo.run(n='many')")
    (error,) = [o for o in kernel.nb.cells[-1].outputs if o["output_type"] == "error"]
    number = kernel.nb.cells[-1].execution_count
    assert error["traceback"] == [f"kale-argo: error: In[{number}]:1: parameter 'n' expects int, got 'many' "
                                  "(hint: pass a valid int)"]
    with pytest.raises(nbclient.exceptions.CellExecutionError):
        kernel.cell("first = 1\nnb_demo(n='x')")  # calling the pipeline is .run(): the caller's line
    number = kernel.nb.cells[-1].execution_count
    assert kernel.nb.cells[-1].outputs[-1]["traceback"][0].startswith(f"kale-argo: error: In[{number}]:2: ")
    text, _ = kernel.cell("called = nb_pure(n=2)\nprint(type(called).__name__)")
    assert "[show] sum: 1\n" in text and "LocalRunHandle" in text


def test_a_redefined_step_replaces_the_old_one_and_runs_do_not_leak(notebook: Cells, kernel: Kernel) -> None:
    kernel.cell("before = nb_pure.run(n=3)")
    kernel.cell("@step(name='count')\ndef count(n):\n    CALLS.append(n)\n"
                "    print(f'count call {len(CALLS)}')\n    return -sum(range(n))")
    text, _ = kernel.cell("after = nb_pure.run(n=3)\nagain = nb_pure.run(n=3, cache=False)\n"
                          "print(before.load('total'), after.load('total'), "
                          "again.marshal_dir != after.marshal_dir)")
    assert text.count("[count] count call 1\n") == 2  # each step its own process: CALLS starts empty
    assert text.endswith("\n3 -3 True\n")  # the first run's values are still its own
    kernel.cell("@step(name='count')\ndef count(n):\n    return sum(range(n))")


def test_compiled_cells_run_under_a_bare_python(notebook: Cells, kernel: Kernel, folder: Path,
                                                tmp_path: Path) -> None:
    text, _ = kernel.cell("wf = nb_pure.compile(path='pure.yaml', n=4, label='total')\n"
                          "print(type(wf).__name__, wf['kind'])")
    assert "dict Workflow" in text
    docs = list(yaml.safe_load_all((folder / "pure.yaml").read_text()))
    check_workflow(docs[-1])
    procs = run_pods(docs, tmp_path, bare_python())
    assert "total: 6" in procs[-1].stdout
    shipped = (tmp_path / "code" / "script" / ".kale_nb_pure.py").read_text()
    assert "def count" in shipped and "numpy" not in shipped and "nb_demo" not in shipped


@pytest.fixture(scope="module")
def argo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeArgoServer]:
    fake = FakeArgoServer(tmp_path_factory.mktemp("argo"))
    yield fake
    fake.close()


def test_submit_then_reattach_from_a_second_kernel(notebook: Cells, kernel: Kernel, argo: FakeArgoServer,
                                                   folder: Path, specs: Path) -> None:
    connect = f"argo_server={argo.url!r}, token={argo.token!r}, namespace='argo'"
    text, outputs = kernel.cell(f"handle = nb_pure.submit({connect}, n=3)\n"
                                "print('NAME', handle.name)\nhandle")
    name = text.split("NAME ", 1)[1].split()[0]
    (stored,) = argo.workflows("argo")
    assert stored["metadata"]["name"] == name
    check_workflow(stored)
    assert "Argo UI" in html_of(outputs)

    argo.advance(name, "Succeeded", {"count": "Succeeded", "show": "Succeeded"})
    first_run, _ = kernel.cell("print(run.marshal_dir, end='')")
    second = Kernel(folder, specs)
    with second.client.setup_kernel():
        text, outputs = second.cell(f"import kale_argo\nrun = kale_argo.get_run({name!r}, {connect})\n"
                                    "run.wait(timeout=30)\nprint(run.status(), [s.phase for s in run.steps])")
        local, _ = second.cell(f"old = kale_argo.get_run({first_run!r})\n"
                               "print(old.status(), old.load('summary'), [s.phase for s in old.steps])")
    assert "Succeeded ['Succeeded', 'Succeeded']" in text
    live = html_of(outputs)  # wait() showed the run in one display, updated in place
    assert "<table" in live and "count" in live and "Succeeded" in live
    assert local == "Succeeded Summary(total=30) ['Succeeded', 'Succeeded', 'Succeeded']\n"


def test_submit_and_watch_updates_one_display(notebook: Cells, kernel: Kernel, argo: FakeArgoServer) -> None:
    before = {w["metadata"]["name"] for w in argo.workflows("argo")}

    def controller() -> None:  # the workflow controller: run the new workflow's steps
        while not (new := [w for w in argo.workflows("argo") if w["metadata"]["name"] not in before]):
            time.sleep(0.05)
        name = new[0]["metadata"]["name"]
        for phases in ({"count": "Running"}, {"count": "Succeeded", "show": "Running"}):
            argo.advance(name, "Running", phases)
            time.sleep(0.2)
        argo.advance(name, "Succeeded", {"count": "Succeeded", "show": "Succeeded"})

    thread = threading.Thread(target=controller, daemon=True)
    thread.start()
    connect = f"argo_server={argo.url!r}, token={argo.token!r}, namespace='argo'"
    text, outputs = kernel.cell(f"watched = nb_pure.submit({connect}, watch=True, timeout=60)\n"
                                "print(watched.status())")
    thread.join(timeout=10)
    assert text.endswith("Succeeded\n")
    (display,) = [o for o in outputs if o["output_type"] == "display_data"]  # one display, updated in place
    shown = display["data"]["text/html"]
    assert shown.count("Succeeded") == 3 and "Running" not in shown


def test_a_kernels_first_run_starts_its_fork_server_before_it_imports_the_ir(specs: Path,
                                                                              tmp_path: Path) -> None:
    # as the command line does: the server imports the cells' libraries while the kernel imports
    # the IR and traces; started for the module the cells make before it is written, and used
    folder = tmp_path / "nb"
    folder.mkdir()
    kernel = Kernel(folder, specs)
    with kernel.client.setup_kernel():
        kernel.cell(ORDER_HOOK)
        kernel.cell("import json\nfrom kale_argo import pipeline, step")
        kernel.cell("@step(name='dump')\ndef dump(n):\n    return json.dumps(list(range(n)))\n\n\n"
                    "@pipeline(name='nb-order')\ndef nb_order(n=3):\n    out = dump(n)")
        text, _ = kernel.cell("first = nb_order.run(cache=False)\nprint('ORDER', seen)")
        assert "ORDER ['server', 'pydantic']" in text, text
        assert (folder / ".kale_nb_order.py").is_file()
        text, _ = kernel.cell("second = nb_order.run(cache=False)\n"
                              "print('ORDER', seen, second.load('out'))")
        assert "ORDER ['server', 'pydantic'] [0, 1, 2]" in text, text  # the kept server served it
