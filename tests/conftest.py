"""Shared fixtures: write a pipeline script, run the CLI or a script in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `from tests.workflow_checks import ...` also under a bare `pytest`
    sys.path.insert(0, str(REPO))


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return env


@pytest.fixture(autouse=True)
def _no_kept_fork_server() -> Iterator[None]:
    """A local run keeps its fork server for the process's next run: each test starts without one."""
    yield
    warm = sys.modules.get("kale_argo.local.warm")
    if warm is not None:
        warm.end_kept_server()


@pytest.fixture(scope="session")
def subprocess_env() -> dict[str, str]:
    """The environment the subprocess fixtures use: this checkout first on PYTHONPATH."""
    return _env()


@pytest.fixture
def make_script(tmp_path: Path) -> Callable[..., Path]:
    """``make_script(text, name="pipe.py")`` writes dedented ``text`` under tmp_path."""
    def write(text: str, name: str = "pipe.py") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path
    return write


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_cli(*args, cwd=tmp_path, timeout=120)``: ``kale-argo ARGS`` in a subprocess."""
    def run(*args: str | Path, cwd: Path | None = None, timeout: float = 120,
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kale_argo.cli.main", *map(str, args)],
                              cwd=cwd or tmp_path, env=_env(), capture_output=True, text=True,
                              timeout=timeout)
    return run


@pytest.fixture
def call_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
             ) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``call_cli(*args, cwd=tmp_path)``: ``kale-argo ARGS`` in-process through
    ``kale_argo.cli.main.main(argv)``, captured as a CompletedProcess (argparse's exits included)."""
    from kale_argo.cli.main import main

    def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        argv = list(map(str, args))
        monkeypatch.chdir(cwd or tmp_path)
        capsys.readouterr()  # what came before is not this command's output
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(["kale-argo", *argv], code, captured.out, captured.err)
    return run


@pytest.fixture
def run_python(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_python(*args, cwd=tmp_path)``: ``python ARGS`` (e.g. a script) in a subprocess."""
    def run(*args: str | Path, cwd: Path | None = None, timeout: float = 120,
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, *map(str, args)], cwd=cwd or tmp_path, env=_env(),
                              capture_output=True, text=True, timeout=timeout)
    return run


# The shape of Kale's own SDK skeleton (examples/sdk/skeleton.py in kubeflow-kale/kale), written
# against Kale's API; the test changes nothing but the import line.
KALE_SCRIPT = '''
from kale.sdk import pipeline, step


@step(name="my_step")
def foo(a):
    import sys
    sys.stdout.write(a)
    # return multiple values. These could be used by different subsequent pipeline steps.
    return "Some", "Data"


@step(name="second_step")
def foo2(b, c):
    print(b + c)


@step(name="third_step")
def foo3(b, c):
    print(b + c)


@pipeline(name="my-beautiful-pipeline",
          experiment="learning-the-kale-sdk")
def my_pipeline(parameter="input"):
    data1, data2 = foo(parameter)
    foo2(data1, parameter)
    foo3(data2, parameter)


if __name__ == "__main__":
    my_pipeline(parameter="test")
'''


@pytest.fixture
def kale_skeleton() -> str:
    """Kale's SDK skeleton with its import changed from kale.sdk to kale_argo, and nothing else."""
    text = KALE_SCRIPT.replace("from kale.sdk import pipeline, step", "from kale_argo import pipeline, step")
    assert text != KALE_SCRIPT and text.count("\n") == KALE_SCRIPT.count("\n")
    return text
