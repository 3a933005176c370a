"""Ctrl-C as the CLI and ``python SCRIPT`` report it: one line, exit 130, whatever code it landed in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Runs report_errors on an action named by argv[1], as the CLI's main does, and exits with its code;
# run with ``python -m`` as ``python -m kale_argo.cli.main`` and ``python -m kale_argo SCRIPT`` are
# (where CPython checks its flag that the program ended on Ctrl-C after a SystemExit too).
REPORTED = '''
import sys
from kale_argo.app.report import report_errors

def in_exec():  # Ctrl-C while a string is exec'd: a dataclass's or a namedtuple's generated code
    exec("raise KeyboardInterrupt")

def in_set_name():  # Ctrl-C in a class body's __set_name__: Python makes it a RuntimeError
    class Field:
        def __set_name__(self, owner, name):
            raise KeyboardInterrupt

    class Selection:
        cells = Field()

def other():
    raise RuntimeError("a bug, not an interrupt")

sys.exit(report_errors({"in_exec": in_exec, "in_set_name": in_set_name, "other": other}[sys.argv[1]],
                       False))
'''


def reported(action: str, tmp_path: Path, subprocess_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "reported.py").write_text(REPORTED)
    return subprocess.run([sys.executable, "-m", "reported", action], capture_output=True, text=True,
                          env=subprocess_env, cwd=tmp_path, timeout=60)


@pytest.mark.parametrize("action", ["in_exec", "in_set_name"])
def test_ctrl_c_is_one_line_and_exit_130_wherever_it_lands(action, tmp_path, subprocess_env):
    # an interrupt ending a string's exec left CPython's "ended on Ctrl-C" flag set: the process
    # killed itself by SIGINT (-2) after saying "interrupted"; in __set_name__ it was a traceback
    proc = reported(action, tmp_path, subprocess_env)
    assert (proc.returncode, proc.stderr) == (130, "kale-argo: interrupted\n")


def test_an_error_not_caused_by_ctrl_c_keeps_its_traceback(tmp_path, subprocess_env):
    proc = reported("other", tmp_path, subprocess_env)
    assert proc.returncode == 1
    assert "RuntimeError: a bug, not an interrupt" in proc.stderr and "interrupted" not in proc.stderr
