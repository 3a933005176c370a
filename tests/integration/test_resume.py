"""Resuming a local run: only the steps that failed or never ran run again, after the values the
earlier run kept pass verification."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.test_step_cache import HELPERS, SCRIPT, runs_of_long

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def failed_run(tmp_path: Path, make_script: Callable[..., Path], call_cli: Cli) -> tuple[Path, Path]:
    """A run whose long step succeeded and whose last step failed; returns (script, run folder)."""
    make_script(HELPERS, "stepcache_helpers.py")
    script = make_script(SCRIPT.format(counter=str(tmp_path / "counter"), out=str(tmp_path / "out"),
                                       finish_body="raise RuntimeError('not yet')", finish_options=""))
    result = call_cli("run", script, "--no-cache")
    assert result.returncode == 1
    (folder,) = re.findall(r"marshal dir: (\S+)\)", result.stderr)
    script.write_text(script.read_text().replace("raise RuntimeError('not yet')", "pass"))
    return script, Path(folder)


def test_resume_reruns_only_the_failed_step(tmp_path: Path, failed_run: tuple[Path, Path],
                                            call_cli: Cli) -> None:
    script, folder = failed_run
    result = call_cli("run", script, "--no-cache", "--resume", folder)
    assert result.returncode == 0, result.stderr
    assert runs_of_long(tmp_path) == 1
    assert (tmp_path / "out").read_text() == "7"
    assert re.search(r"^long +succeeded \(kept\)", result.stdout, re.M)
    assert f"marshal dir: {folder}" in result.stdout


def test_a_kept_value_that_fails_verification_reruns_its_producer(
        tmp_path: Path, failed_run: tuple[Path, Path], call_cli: Cli) -> None:
    script, folder = failed_run
    meta = json.loads((folder / ".kale" / "values" / "v.json").read_text())
    data = folder / meta["file"]
    data.write_bytes(data.read_bytes()[:-1] + b"\0")  # same size, one byte changed
    result = call_cli("run", script, "--no-cache", "--resume", folder)
    assert result.returncode == 0, result.stderr
    assert runs_of_long(tmp_path) == 2
    assert (tmp_path / "out").read_text() == "7"


def test_a_changed_parameter_reruns_the_steps_reading_it(
        tmp_path: Path, failed_run: tuple[Path, Path], call_cli: Cli) -> None:
    script, folder = failed_run
    assert call_cli("run", script, "--no-cache", "--resume", folder, "-p", "n=4").returncode == 0
    assert runs_of_long(tmp_path) == 2
    assert (tmp_path / "out").read_text() == "9"


def test_python_api_and_script_flags_resume(tmp_path: Path, failed_run: tuple[Path, Path],
                                            run_python: Cli) -> None:
    script, folder = failed_run
    result = run_python(script, "--no-cache", "--resume", str(folder))
    assert result.returncode == 0, result.stdout + result.stderr
    assert runs_of_long(tmp_path) == 1
    api = tmp_path / "api.py"
    api.write_text(f"import pipe\nrun = pipe.cached.run(resume={str(folder)!r}, cache=False)\n"
                   "print('loaded', run.load('w'))\n")
    result = run_python(api)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loaded 7" in result.stdout
    assert runs_of_long(tmp_path) == 1


def test_resume_of_a_folder_without_a_run_is_a_user_error(tmp_path: Path, failed_run: tuple[Path, Path],
                                                          call_cli: Cli) -> None:
    script, _folder = failed_run
    (tmp_path / "empty").mkdir()
    result = call_cli("run", script, "--resume", tmp_path / "empty")
    assert result.returncode == 2
    assert "holds no run to resume" in result.stderr and "--resume" in result.stderr
    assert not list((tmp_path / "empty").iterdir())


def test_resume_into_another_marshal_dir_is_refused(tmp_path: Path, failed_run: tuple[Path, Path],
                                                    call_cli: Cli) -> None:
    script, folder = failed_run
    other = tmp_path / "elsewhere"
    result = call_cli("run", script, "--resume", folder, "--marshal-dir", other)
    assert result.returncode == 2
    assert "--marshal-dir" in result.stderr and "different folders" in result.stderr
    assert not other.exists() and runs_of_long(tmp_path) == 1
