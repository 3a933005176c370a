"""Lazy packages and whole imports: Ctrl-C during a heavy import is raised once the import is done.

pydantic-core turns an interrupt that lands while it builds a model's validator into a SchemaError
(or the process dies by SIGINT at exit): `kale-argo run` interrupted while its fork server imported
a library (and the command the IR) exited 1 with a traceback or by SIGINT in 6 of 80 tries, and
with 130 in 70 of 70 once the IR's import was whole. Each case runs in a fresh interpreter, whose
SIGINT handler is Python's own.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

# A module that interrupts itself halfway through its own import.
SELF_INTERRUPTING = '''
import os, signal
os.kill(os.getpid(), signal.SIGINT)
for _ in range(1000):  # the interrupt is due here, at the first bytecode boundary
    pass
DONE = True
'''

PROGRAM = '''
import signal, sys
sys.path.insert(0, sys.argv[1])
from kale_argo.lazy import import_whole, lazy_names
how = sys.argv[2]
try:
    if how == "whole":
        import_whole("selfint")
    else:  # a name of a lazy package, loaded from its submodule
        import lazypkg
        lazypkg.DONE
    print("no interrupt")
except KeyboardInterrupt:
    module = sys.modules.get("selfint") or sys.modules.get("lazypkg.selfint")
    print("interrupted after the import:", getattr(module, "DONE", False))
print("handler restored:", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
'''


def run(tmp_path: Path, how: str, subprocess_env: dict[str, str]) -> list[str]:
    (tmp_path / "selfint.py").write_text(SELF_INTERRUPTING)
    package = tmp_path / "lazypkg"
    package.mkdir(exist_ok=True)
    (package / "selfint.py").write_text(SELF_INTERRUPTING)
    (package / "__init__.py").write_text(textwrap.dedent('''
        from kale_argo.lazy import lazy_names
        __getattr__, __dir__ = lazy_names(__name__, {"selfint": ("DONE",)})
        '''))
    proc = subprocess.run([sys.executable, "-c", PROGRAM, str(tmp_path), how], capture_output=True,
                          text=True, env=subprocess_env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_ctrl_c_during_a_whole_import_is_raised_once_the_import_is_done(tmp_path, subprocess_env):
    assert run(tmp_path, "whole", subprocess_env) == [
        "interrupted after the import: True", "handler restored: True"]


def test_a_lazy_package_loads_its_names_whole(tmp_path, subprocess_env):
    assert run(tmp_path, "lazy", subprocess_env) == [
        "interrupted after the import: True", "handler restored: True"]
