"""Warm starts: steps forked from a per-run server that imported their libraries once.

The libraries here are modules in a folder on PYTHONPATH (not beside the script, whose modules are
never preloaded). ``statelib`` records the pid that imported it: a step that sees another pid than
its own was forked from the server; one that sees its own imported it itself (a new process).
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kale_argo.errors import ConfigError, RunFailed
from kale_argo.local import run_local
from kale_argo.local.executor import step_commands
from kale_argo.local.forkserver import accepts
from kale_argo.local.warm import end_kept_server, preload_list, warm_start_wanted, warm_starts
from kale_argo.sdk.loader import load_pipeline

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="warm starts need Linux")

STATELIB = '''
import os
IMPORTED_BY = os.getpid()
SEEN = os.environ.get("STATELIB_SEEN")
STATE = []
print("statelib imported")
'''

# Holds its lock nearly all the time, from a thread started at import: a process forked after it
# would inherit the lock held by a thread it does not have.
THREADLIB = '''
import threading, time
LOCK = threading.Lock()

def _hold():
    while True:
        with LOCK:
            time.sleep(0.05)

threading.Thread(target=_hold, name="holder", daemon=True).start()
time.sleep(0.01)
'''

# Runs an OpenMP region at import (scikit-learn's k-means): libgomp keeps its pool's threads, and
# a child forked after that hangs in its next parallel region.
OMPLIB = '''
import numpy as np
from sklearn.cluster import KMeans

KMeans(n_clusters=3, n_init=1, random_state=0).fit(np.random.default_rng(0).random((4000, 4)))
'''


@pytest.fixture
def libs(tmp_path, monkeypatch):
    """A folder of libraries on PYTHONPATH (the server and the steps inherit it)."""
    folder = tmp_path / "site"
    folder.mkdir()
    for name, text in (("statelib", STATELIB), ("threadlib", THREADLIB), ("omplib", OMPLIB)):
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    paths = [str(folder), os.environ.get("PYTHONPATH")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, paths)))
    monkeypatch.delenv("KALE_ARGO_WARM_START", raising=False)
    return folder


def pipeline_file(tmp_path: Path, text: str, name: str = "pipe.py") -> Path:
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def run(path: Path, tmp_path: Path, **kwargs):
    """Run ``path`` locally; its steps report the processes they ran in, so they always run."""
    out = io.StringIO()
    result = run_local(load_pipeline(str(path)).trace(), marshal_dir=str(tmp_path / "m"), stream=out,
                       cache=False, **kwargs)
    return result, out.getvalue()


COUNTING = '''
import os
from kale_argo import pipeline, step

@step(name="first")
def first():
    import statelib
    statelib.STATE.append("first")
    print("imported by", statelib.IMPORTED_BY, "in", os.getpid())
    return statelib.IMPORTED_BY, os.getpid(), list(statelib.STATE)

@step(name="second")
def second(before):
    import statelib
    statelib.STATE.append("second")
    return statelib.IMPORTED_BY, os.getpid(), list(statelib.STATE)

@pipeline(name="counting")
def counting():
    a = first()
    b = second(a)
'''


def test_steps_are_forked_from_one_server_and_start_from_the_libraries_fresh_state(libs, tmp_path):
    result, text = run(pipeline_file(tmp_path, COUNTING), tmp_path)
    first, second = result.load("a"), result.load("b")
    server = first[0]
    assert server not in (first[1], second[1]), "the steps imported statelib themselves"
    assert second[0] == server and first[1] != second[1]  # one server, a process per step
    assert first[2] == ["first"] and second[2] == ["second"]  # the first step's change is not seen
    assert "[first] started" in text and "[second] succeeded" in text
    # what a preloaded library prints when imported is shown once, before the steps
    assert text.count("statelib imported") == 1 and "(warm start) statelib imported\n" in text
    os.kill(server, 0)  # kept for this process's next run ...
    end_kept_server()
    assert _gone(server)  # ... until ended


@pytest.mark.parametrize("how", ["option", "environment", "cli"])
def test_warm_starts_can_be_turned_off(libs, tmp_path, monkeypatch, run_cli, how):
    path = pipeline_file(tmp_path, COUNTING)
    if how == "cli":
        proc = run_cli("run", path, "--no-warm-start", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        text = proc.stdout
    else:
        if how == "environment":
            monkeypatch.setenv("KALE_ARGO_WARM_START", "0")
        _, text = run(path, tmp_path, **({"warm_start": False} if how == "option" else {}))
    line = next(line for line in text.splitlines() if line.startswith("[first] imported by "))
    assert line.split()[3] == line.split()[5]  # the step's own process imported statelib


def test_a_bad_warm_start_setting_is_one_line_and_changes_nothing(libs, tmp_path, monkeypatch):
    monkeypatch.setenv("KALE_ARGO_WARM_START", "sometimes")
    with pytest.raises(ConfigError, match=r"'sometimes' is neither on nor off") as info:
        run(pipeline_file(tmp_path, COUNTING), tmp_path)
    assert info.value.exit_code == 2 and not (tmp_path / "m").exists()
    assert warm_start_wanted(None, {"KALE_ARGO_WARM_START": "off"}) is False
    assert warm_start_wanted(None, {}) is True


def test_where_fork_is_not_safe_steps_start_as_new_processes(libs, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")  # macOS: system frameworks do not survive a fork
    result, _ = run(pipeline_file(tmp_path, COUNTING), tmp_path)
    first = result.load("a")
    assert first[0] == first[1]


RANDOM = '''
import sys
from kale_argo import pipeline, step

PRELOADED = "numpy.random" in sys.modules  # before this script imports it

@step(name="draw_a")
def draw_a():
    import numpy as np
    from numpy import random
    drawn = float(random.rand())
    m = np.arange(4096.0).reshape(64, 64)
    (m @ m).sum()  # OpenBLAS's pool (started when numpy was imported, before the fork) works
    return PRELOADED, drawn

@step(name="draw_b")
def draw_b():
    from numpy import random
    return PRELOADED, float(random.rand())

@pipeline(name="draws")
def draws():
    a = draw_a()
    b = draw_b()
'''


def test_numpy_is_preloaded_and_each_step_draws_fresh_random_numbers(libs, tmp_path):
    pytest.importorskip("numpy")
    result, text = run(pipeline_file(tmp_path, RANDOM), tmp_path, jobs=1)
    (preloaded_a, a), (preloaded_b, b) = result.load("a"), result.load("b")
    assert preloaded_a and preloaded_b  # numpy.random came from the server (its OpenBLAS threads passed)
    assert a != b  # numpy's global generator is reseeded in each step, as a new process's would be
    assert "not preloaded" not in text


THREADED = '''
import os
from kale_argo import pipeline, step

@step(name="locked", timeout=60)
def locked():
    import statelib
    import threadlib
    if not threadlib.LOCK.acquire(timeout=20):
        raise RuntimeError("threadlib's lock is held by a thread this process does not have")
    return statelib.IMPORTED_BY != os.getpid()

@pipeline(name="threaded")
def threaded():
    ok = locked()
'''


def test_a_library_that_starts_a_thread_at_import_is_left_out_of_the_preload(libs, tmp_path):
    result, text = run(pipeline_file(tmp_path, THREADED), tmp_path)
    assert result.load("ok") is True  # statelib still came from the server
    assert "not preloaded for warm starts" in text
    assert "threadlib (it started a Python thread 'holder': forking after that is unsafe)" in text


OPENMP = '''
import os
from kale_argo import pipeline, step

@step(name="cluster", timeout=60)
def cluster():
    import numpy as np
    import statelib
    import omplib
    from sklearn.cluster import KMeans
    KMeans(n_clusters=2, n_init=1, random_state=0).fit(np.random.default_rng(1).random((4000, 4)))
    return statelib.IMPORTED_BY != os.getpid()

@pipeline(name="openmp")
def openmp():
    ok = cluster()
'''


def test_a_library_that_ran_an_openmp_pool_at_import_is_left_out(libs, tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # a pool of threads even on one CPU
    result, text = run(pipeline_file(tmp_path, OPENMP), tmp_path)
    assert result.load("ok") is True
    assert "omplib (it started a native thread" in text and "forking after that is unsafe" in text


KILLER = '''
import os, signal
from kale_argo import pipeline, step

@step(name="killer")
def killer():
    import statelib
    os.kill(statelib.IMPORTED_BY, signal.SIGKILL)  # the server
    return statelib.IMPORTED_BY

@step(name="after")
def after(server):
    import statelib
    return server, statelib.IMPORTED_BY, os.getpid()

@pipeline(name="killer")
def killer_pipe():
    server = killer()
    seen = after(server)
'''


def test_a_step_that_kills_the_server_reports_and_later_steps_start_cold(libs, tmp_path):
    result, text = run(pipeline_file(tmp_path, KILLER), tmp_path)
    server, imported_by, pid = result.load("seen")
    assert result.steps["killer"].returncode == 0  # its exit code still reached the executor
    assert imported_by == pid != server  # the next step started as a new process
    assert "steps start as new processes from now on" in text


DESCRIPTORS = '''
import os, time
from kale_argo import pipeline, step

def _held(pid):
    """What each descriptor ``pid`` holds is (the one that listed them was closed meanwhile)."""
    held = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            held[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            pass
    return held

@step(name="held")
def held(i):
    import statelib
    time.sleep(0.3)  # the other step runs meanwhile: the server holds both status pipes
    return statelib.IMPORTED_BY, sorted(_held(os.getpid())), _held(os.getppid())

@pipeline(name="descriptors")
def descriptors():
    a = held(1)
    b = held(2)
'''


def test_a_forked_step_holds_no_descriptor_of_the_servers_or_of_other_steps(libs, tmp_path):
    result, _ = run(pipeline_file(tmp_path, DESCRIPTORS), tmp_path, jobs=2)
    for name in ("a", "b"):
        server, worker, supervisor = result.load(name)
        assert server != os.getpid()  # forked from the server
        assert worker == [0, 1, 2]  # as in a new process: stdin, stdout, stderr
        extra = {fd: what for fd, what in supervisor.items() if fd > 2}
        assert len(extra) == 1 and next(iter(extra.values())).startswith("pipe:")  # its status pipe


SLOW = '''
import os, subprocess, sys, time
from kale_argo import pipeline, step

@step(name="slow", timeout=TIMEOUT)
def slow():
    import statelib
    detached = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                                start_new_session=True, stdout=subprocess.DEVNULL)
    print("pids", statelib.IMPORTED_BY, os.getpid(), detached.pid, flush=True)
    time.sleep(120)

@pipeline(name="slow")
def slow_pipe():
    slow()
'''


def _pids(text: str) -> list[int]:
    line = next(line for line in text.splitlines() if line.startswith("[slow] pids "))
    return [int(p) for p in line.split()[2:]]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is gone too
        return fh.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_timeout_kills_a_forked_step_and_what_it_detached(libs, tmp_path):
    out = io.StringIO()
    spec = load_pipeline(str(pipeline_file(tmp_path, SLOW.replace("TIMEOUT", "1")))).trace()
    with pytest.raises(RunFailed):
        run_local(spec, marshal_dir=str(tmp_path / "m"), stream=out)
    server, step_pid, detached = _pids(out.getvalue())
    assert server != step_pid  # forked
    assert "[slow] step 'slow' timed out after 1s (its timeout): killed" in out.getvalue()
    for pid in (step_pid, detached):
        assert _gone(pid), pid
    assert not _gone(server)  # kept for the next run: the step's timeout is not the server's


def test_ctrl_c_ends_forked_steps_what_they_detached_and_the_server(libs, tmp_path, subprocess_env):
    path = pipeline_file(tmp_path, SLOW.replace("TIMEOUT", "600"))
    env = {**subprocess_env,
           "PYTHONPATH": os.pathsep.join([os.environ["PYTHONPATH"], subprocess_env["PYTHONPATH"]])}
    proc = subprocess.Popen([sys.executable, "-m", "kale_argo.cli.main", "run", str(path)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = next(line for line in proc.stdout if line.startswith("[slow] pids "))
        server, step_pid, detached = (int(p) for p in line.split()[2:])
        assert server != step_pid  # forked
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    for pid in (step_pid, detached, server):
        assert _gone(pid), pid


def test_only_step_runtime_commands_are_forked():
    argv = step_commands(load_pipeline(str(Path(__file__).resolve().parents[2] / "examples" /
                                           "binary_classification.py")).trace(), {
        "n_samples": 10, "n_features": 4, "test_size": 0.5, "C": 1.0, "seed": 1}, "/m")["load_data"]
    assert accepts(argv, sys.executable)
    assert not accepts([sys.executable, "-c", "print(1)", "--script", "x"], sys.executable)
    assert not accepts(["/other/python", *argv[1:]], sys.executable)


def test_the_preload_is_the_libraries_the_script_and_its_modules_import(tmp_path):
    path = pipeline_file(tmp_path, '''
        from __future__ import annotations
        import json, os.path
        from typing import TYPE_CHECKING
        from kale_argo import pipeline, step
        from helpers import clean
        if TYPE_CHECKING:
            import pandas

        def unused():
            from . import sibling

        @step(name="s")
        def s():
            from sklearn.datasets import make_classification, load_iris
            from sklearn import metrics
            return clean(1)

        @pipeline(name="pre")
        def pre():
            s()
        ''')
    (path.parent / "helpers.py").write_text("import numpy\n\ndef clean(x):\n    return x\n")
    spec = load_pipeline(str(path)).trace()
    assert preload_list(spec) == [
        ["json", []], ["os.path", []], ["typing", ["TYPE_CHECKING"]],
        ["sklearn.datasets", ["make_classification", "load_iris"]], ["sklearn", ["metrics"]],
        ["numpy", []]]


SLOWLIB = '''
import os, time
with open(os.environ["SLOWLIB_PIDFILE"], "w") as fh:
    fh.write(str(os.getpid()))
time.sleep(120)
'''


def test_ctrl_c_while_the_server_imports_leaves_no_server(libs, tmp_path, subprocess_env):
    (libs / "slowlib.py").write_text(SLOWLIB)
    path = pipeline_file(tmp_path, '''
        from kale_argo import pipeline, step

        @step(name="uses")
        def uses():
            import slowlib

        @pipeline(name="slow-import")
        def slow_import():
            uses()
        ''')
    pidfile = tmp_path / "server.pid"
    env = {**subprocess_env, "SLOWLIB_PIDFILE": str(pidfile),
           "PYTHONPATH": os.pathsep.join([os.environ["PYTHONPATH"], subprocess_env["PYTHONPATH"]])}
    proc = subprocess.Popen([sys.executable, "-m", "kale_argo.cli.main", "run", str(path)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        while not pidfile.exists() or not pidfile.read_text():
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        server = int(pidfile.read_text())
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in out + err and "[uses] started" not in out
    assert _gone(server)


def test_after_its_restarts_the_server_keeps_what_passed_and_preloads_nothing_after(libs, tmp_path):
    for name in ("threads_a", "threads_b", "threads_c"):
        (libs / f"{name}.py").write_text(textwrap.dedent(THREADLIB))
    (libs / "laterlib.py").write_text(textwrap.dedent(STATELIB))
    path = pipeline_file(tmp_path, '''
        import os
        from kale_argo import pipeline, step

        @step(name="uses", timeout=60)
        def uses():
            import statelib
            import threads_a
            import threads_b
            import threads_c
            import laterlib
            for lib in (threads_a, threads_b, threads_c):
                if not lib.LOCK.acquire(timeout=20):
                    raise RuntimeError(f"{lib.__name__}'s lock is held by a thread this process lacks")
            return statelib.IMPORTED_BY != os.getpid(), laterlib.IMPORTED_BY != os.getpid()

        @pipeline(name="restarts")
        def restarts():
            preloaded = uses()
        ''')
    result, text = run(path, tmp_path)
    assert tuple(result.load("preloaded")) == (True, False)  # statelib from the server, laterlib not
    note = next(line for line in text.splitlines() if "not preloaded for warm starts" in line)
    assert all(f"{name} (it started a Python thread 'holder'" in note
               for name in ("threads_a", "threads_b", "threads_c"))


def test_a_step_that_crashes_leaves_the_server_serving_its_retry(libs, tmp_path):
    counter = tmp_path / "attempts"
    path = pipeline_file(tmp_path, f'''
        import os, signal
        from kale_argo import pipeline, step

        @step(name="crashes", retry_count=1)
        def crashes():
            import statelib
            attempts = int(open({str(counter)!r}).read()) if os.path.exists({str(counter)!r}) else 0
            open({str(counter)!r}, "w").write(str(attempts + 1))
            print("server", statelib.IMPORTED_BY, flush=True)
            if not attempts:
                os.kill(os.getpid(), signal.SIGSEGV)
            return statelib.IMPORTED_BY, os.getpid()

        @pipeline(name="crash")
        def crash():
            seen = crashes()
        ''')
    result, text = run(path, tmp_path)
    server, pid = result.load("seen")
    assert "[crashes] failed (killed by signal 11); retry 1 of 1" in text  # as a new process ends
    assert server != pid and text.count(f"[crashes] server {server}\n") == 2  # both forked, one server


def test_a_step_the_server_is_too_slow_to_take_on_runs_once_as_a_new_process(libs, tmp_path, monkeypatch):
    from kale_argo.local import warm

    monkeypatch.setattr(warm, "REPLY_TIMEOUT", 0.0)  # the executor stops waiting at once
    ran = tmp_path / "ran"
    path = pipeline_file(tmp_path, f'''
        import os
        from kale_argo import pipeline, step

        @step(name="once")
        def once():
            with open({str(ran)!r}, "a") as fh:
                fh.write(f"{{os.getpid()}}\\n")
            return 1

        @pipeline(name="once")
        def once_pipe():
            x = once()
        ''')
    result, _ = run(path, tmp_path)
    time.sleep(0.5)  # a step the executor gave up on would run about now
    assert result.load("x") == 1 and len(ran.read_text().split()) == 1


# Records each process that imports it in $ENVLIB_LOG, sets a variable as scikit-learn does
# (KMP_INIT_AT_FORK), and keeps what $SCRIPT_SETS was when it was imported.
ENVLIB = '''
import os
with open(os.environ["ENVLIB_LOG"], "a") as fh:
    fh.write(f"{os.getpid()}\\n")
os.environ["ENVLIB_SET"] = "1"
IMPORTED_BY = os.getpid()
SEEN = os.environ.get("SCRIPT_SETS")
'''

PRESTARTED = '''
import os, time
{before}
import envlib
from kale_argo import pipeline, step

# Traced by `kale-argo run`: wait until another process (the fork server) imported envlib too.
deadline = time.time() + 20
while True:
    pids = open(os.environ["ENVLIB_LOG"]).read().split()
    if any(pid != str(os.getpid()) for pid in pids):
        break
    if time.time() > deadline:
        raise SystemExit("nothing else imported envlib while the script was traced")
    time.sleep(0.05)
{after}

@step(name="report")
def report():
    print("envlib", envlib.IMPORTED_BY, os.getpid(), envlib.SEEN)

@pipeline(name="prestarted")
def prestarted():
    report()
'''


@pytest.fixture
def envlib(libs, tmp_path, monkeypatch):
    (libs / "envlib.py").write_text(ENVLIB)
    log = tmp_path / "envlib.log"
    log.write_text("")
    monkeypatch.setenv("ENVLIB_LOG", str(log))
    return log


def _reported(stdout: str) -> list[str]:
    return next(line for line in stdout.splitlines() if line.startswith("[report] envlib ")).split()[2:]


def test_the_cli_starts_the_fork_server_while_it_traces_the_script(envlib, tmp_path, run_cli):
    path = pipeline_file(tmp_path, PRESTARTED.format(before="", after=""))
    proc = run_cli("run", path, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported_by, pid, seen = _reported(proc.stdout)
    assert imported_by != pid and seen == "None"  # forked: the variable envlib set does not matter
    assert envlib.read_text().split().count(imported_by) == 1  # the server that started first


def test_a_script_that_changes_the_environment_gets_a_server_importing_under_it(envlib, tmp_path,
                                                                                 run_cli):
    path = pipeline_file(tmp_path, PRESTARTED.format(before='os.environ["SCRIPT_SETS"] = "7"', after=""))
    proc = run_cli("run", path, "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported_by, pid, seen = _reported(proc.stdout)
    assert seen == "7", "the step's envlib was imported without the variable the script sets"
    assert imported_by != pid  # still forked, from a server started again under that environment
    assert len(set(envlib.read_text().split())) == 3  # the CLI, the first server, the second


def test_a_script_that_fails_to_trace_leaves_no_fork_server(envlib, tmp_path, run_cli):
    path = pipeline_file(tmp_path, PRESTARTED.format(before="", after='raise ValueError("broken")'))
    proc = run_cli("run", path, cwd=tmp_path)
    assert proc.returncode != 0 and "broken" in proc.stdout + proc.stderr
    pids = [int(p) for p in envlib.read_text().split()]
    assert len(pids) == 2  # the CLI and the server
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


KEPT = '''
import os
from kale_argo import pipeline, step

@step(name="probe")
def probe():
    import statelib
    statelib.STATE.append("probe")
    return (statelib.IMPORTED_BY, os.getpid(), list(statelib.STATE), getattr(statelib, "VERSION", 1),
            statelib.SEEN)

@pipeline(name="kept")
def kept():
    seen = probe()
'''


def kept_runs(tmp_path: Path, between: Callable[[int], object] = lambda server: None
              ) -> tuple[tuple, tuple]:
    """What the step saw in two runs of KEPT in this process; ``between(first run's server)`` is
    called between them."""
    path = pipeline_file(tmp_path, KEPT)
    first = tuple(run(path, tmp_path / "one")[0].load("seen"))
    between(first[0])
    result, text = run(path, tmp_path / "two")
    assert "steps start as new processes" not in text
    return first, tuple(result.load("seen"))


def test_the_next_run_in_the_process_is_forked_from_the_server_the_last_one_kept(libs, tmp_path):
    first, second = kept_runs(tmp_path)
    assert first[0] == second[0] != second[1]  # the same server, forked
    assert first[1] != second[1] and first[2] == second[2] == ["probe"]  # each step fresh
    end_kept_server()
    assert _gone(first[0])


def test_a_library_changed_between_runs_is_imported_again_by_a_new_server(libs, tmp_path):
    def upgrade(server: int) -> None:
        (libs / "statelib.py").write_text(textwrap.dedent(STATELIB) + "VERSION = 2\n")

    first, second = kept_runs(tmp_path, upgrade)
    assert first[3] == 1 and second[3] == 2, "the step ran the library as it was before the upgrade"
    assert second[0] not in (first[0], second[1]) and _gone(first[0])  # a new server, forked


def test_a_script_changed_between_runs_runs_as_changed_in_steps_the_kept_server_forks(
        libs, tmp_path, monkeypatch):
    # no cached bytecode: the steps take the code the server compiled from the script, for the
    # bytes it compiled only
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def edit(server: int) -> None:
        path = tmp_path / "project" / "pipe.py"
        path.write_text(path.read_text().replace('append("probe")', 'append("edited")'))

    first, second = kept_runs(tmp_path, edit)
    assert first[2] == ["probe"] and second[2] == ["edited"], "the step ran the script as it was"
    assert first[0] == second[0] != second[1]  # the same server, forked


PROCESS_STATE = '''
import os, subprocess, sys
from kale_argo import pipeline, step

@step(name="probe")
def probe():
    main = sys.modules["__main__"]
    env = subprocess.run(["env"], capture_output=True, text=True, check=True).stdout.splitlines()
    seen = {"argv0": sys.argv[0], "argv": sys.argv[1:],
            "main": [main.__name__, main.__file__, main.__package__, main.__spec__.name],
            "environ": sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("PROBE_")),
            "environ_c": sorted(line for line in env if line.startswith("PROBE_"))}
    import envlib2, statelib
    return seen, statelib.IMPORTED_BY != os.getpid()

@pipeline(name="state")
def state():
    seen = probe()
'''


def test_a_forked_step_starts_in_the_process_state_of_a_new_step_process(libs, tmp_path, monkeypatch):
    # a library the server preloads changes its environment: the step gets the run's own
    # (PROBE_C through C's setenv, which os.environ does not see)
    (libs / "envlib2.py").write_text('import ctypes, os\nos.environ["PROBE_LIB"] = "lib"\n'
                                     'os.environ["PROBE_CHANGED"] = "lib"\n'
                                     'ctypes.CDLL(None).setenv(b"PROBE_C", b"lib", 1)\n')
    monkeypatch.setenv("PROBE_CHANGED", "user")
    monkeypatch.setenv("PROBE_KEPT", "user")
    monkeypatch.setenv("PROBE_C", "user")
    spec = load_pipeline(str(pipeline_file(tmp_path, PROCESS_STATE))).trace()
    seen = {}
    for warm in (True, False):
        result = run_local(spec, marshal_dir=str(tmp_path / str(warm)), stream=io.StringIO(), cache=False,
                           warm_start=warm)
        seen[warm], forked = result.load("seen")
        assert forked is warm
    end_kept_server()
    assert seen[True] == seen[False]
    assert seen[True]["environ"] == seen[True]["environ_c"] == ["PROBE_C=user", "PROBE_CHANGED=user",
                                                                "PROBE_KEPT=user"]
    assert seen[True]["main"][0] == "__main__"
    assert seen[True]["main"][1].endswith(os.path.join("kale_argo", "runtime", "__main__.py"))


def test_a_kept_server_is_replaced_once_the_step_runtimes_main_changed(libs, tmp_path):
    import kale_argo.runtime

    main = Path(kale_argo.runtime.__file__).with_name("__main__.py")  # the server holds its code
    if not os.access(main, os.W_OK):
        pytest.skip("the installed runtime is read-only here")
    before = main.stat()

    def touch(server: int) -> None:
        os.utime(main, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))

    try:
        first, second = kept_runs(tmp_path, touch)
    finally:
        os.utime(main, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert second[0] not in (first[0], second[1]) and _gone(first[0])  # a new server, forked


def test_a_kept_server_that_died_is_replaced(libs, tmp_path):
    first, second = kept_runs(tmp_path, lambda server: os.kill(server, signal.SIGKILL))
    assert second[0] not in (first[0], second[1])  # a new server, forked


def test_an_environment_changed_between_runs_gets_a_server_importing_under_it(libs, tmp_path,
                                                                             monkeypatch):
    first, second = kept_runs(tmp_path, lambda server: monkeypatch.setenv("STATELIB_SEEN", "x"))
    assert first[4] is None and second[4] == "x"
    assert second[0] not in (first[0], second[1])  # a new server, forked


def test_a_name_the_script_folder_now_holds_is_not_served_by_the_kept_server(libs, tmp_path):
    (libs / "statelib.py").write_text(textwrap.dedent(STATELIB) + "import helperlib\n")
    (libs / "helperlib.py").write_text("WHERE = 'site'\n")

    def shadow(server: int) -> None:  # the script still imports only statelib: the same preload list
        (tmp_path / "project" / "helperlib.py").write_text("WHERE = 'project'\n")

    first, second = kept_runs(tmp_path, shadow)
    assert second[0] != first[0] and _gone(first[0])


def test_a_process_that_ran_a_pipeline_leaves_no_server_when_it_exits(libs, tmp_path, subprocess_env):
    path = pipeline_file(tmp_path, KEPT)
    code = ("import io; from kale_argo.local import run_local; "
            "from kale_argo.sdk.loader import load_pipeline; "
            f"r = run_local(load_pipeline({str(path)!r}).trace(), stream=io.StringIO(), cache=False, "
            f"marshal_dir={str(tmp_path / 'm')!r}); print(r.load('seen')[0], r.load('seen')[1])")
    env = {**subprocess_env,
           "PYTHONPATH": os.pathsep.join([os.environ["PYTHONPATH"], subprocess_env["PYTHONPATH"]])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    server, step = (int(p) for p in done.stdout.split()[-2:])
    assert server != step and _gone(server)


def test_a_process_forked_after_a_run_neither_uses_nor_ends_the_kept_server(libs, tmp_path):
    path = pipeline_file(tmp_path, KEPT)
    first = run(path, tmp_path / "one")[0].load("seen")
    spec = load_pipeline(str(path)).trace()
    child = os.fork()
    if child == 0:  # as a notebook's multiprocessing worker would: it gets a server of its own
        code = 1
        try:
            got = warm_starts(spec, io.StringIO(), None)
            code = 0 if got is not None and not got.ready and got.server is None else 3
            end_kept_server()  # what its exit would do
        finally:
            os._exit(code)
    assert os.waitpid(child, 0)[1] == 0, "the forked process took its parent's server"
    second = run(path, tmp_path / "two")[0].load("seen")
    assert second[0] == first[0] != second[1]  # the parent's server, still kept, still serving


# Runs a front end (argv[1]: cli, script, module or api: the Python API's Pipeline.run() of the
# pipeline ``one`` in the file argv[2]) on the rest of argv, noting in order the fork server's start
# and the first import of pydantic (the IR, the heaviest of the command's imports): ORDER_HOOK.
ORDER_HOOK = '''import sys
seen = []

def hook(event, args):
    if event == "subprocess.Popen" and "SourceFileLoader" in " ".join(map(str, args[1] or ())):
        seen.append("server")
    elif event == "import" and args[0] == "pydantic":
        seen.append("pydantic")

sys.addaudithook(hook)'''
ORDER = ORDER_HOOK + '''
import atexit, runpy
atexit.register(lambda: print("ORDER", seen, file=sys.stderr))
import kale_argo
print(kale_argo.__file__, file=sys.stderr)
how, rest = sys.argv[1], sys.argv[2:]
if how == "cli":
    from kale_argo.cli.main import main
    sys.argv = ["kale-argo", "run", *rest]
    sys.exit(main())
elif how == "script":
    sys.argv = rest
    runpy.run_path(rest[0], run_name="__main__")
elif how == "api":
    one = runpy.run_path(rest[0], run_name="pipe")["one"]
    one.run(marshal_dir=rest[rest.index("--marshal-dir") + 1], cache=False,
            warm_start=False if "--no-warm-start" in rest else None)
else:
    sys.argv = ["kale_argo", *rest]
    runpy.run_module("kale_argo", run_name="__main__", alter_sys=True)
'''

ONE_STEP = '''
from kale_argo import pipeline, step

@step(name="hello")
def hello():
    print("hello from a step")

@pipeline(name="one")
def one():
    hello()

if __name__ == "__main__":
    one()
'''


@pytest.mark.parametrize(("how", "flags", "events"), [
    ("cli", [], ["server", "pydantic"]),
    ("script", [], ["server", "pydantic"]),
    ("module", [], ["server", "pydantic"]),
    ("api", [], ["server", "pydantic"]),
    ("cli", ["--no-warm-start"], ["pydantic"]),
    ("api", ["--no-warm-start"], ["pydantic"]),
    ("script", ["--no-warm-start"], ["pydantic"]),
    ("script", ["--kfp", "--dry-run"], ["pydantic"]),  # compiles: no run, no server
    ("module", ["--kfp", "--dry-run"], ["pydantic"]),
], ids=["cli", "script", "module", "api", "cli-cold", "api-cold", "script-cold", "script-compile",
        "module-compile"])
def test_each_front_end_starts_the_server_before_it_imports_the_ir(libs, tmp_path, run_python,
                                                                   how, flags, events):
    # the server imports the libraries while the command imports pydantic and traces the script
    path = pipeline_file(tmp_path, ONE_STEP)
    proc = run_python("-c", ORDER, how, path, "--no-cache", *flags, "--marshal-dir", tmp_path / "m")
    assert proc.returncode == 0, proc.stderr
    if "--kfp" in flags:
        assert path.with_suffix(".yaml").is_file()
    else:
        assert "hello from a step" in proc.stdout
    assert f"{REPO}/kale_argo" in proc.stderr  # this checkout's
    order = [line for line in proc.stderr.splitlines() if line.startswith("ORDER")]
    assert order == [f"ORDER {events!r}"], proc.stderr


def test_a_script_that_runs_its_pipeline_twice_reuses_the_kept_server(libs, tmp_path, run_python):
    # the second call's run takes the server the first kept; none is started for it
    twice = '\nif __name__ == "__main__":\n    counting()\n    counting()\n'
    proc = run_python(pipeline_file(tmp_path, COUNTING + twice), "--no-cache")
    assert proc.returncode == 0, proc.stderr
    lines = [line.split() for line in proc.stdout.splitlines() if line.startswith("[first] imported by ")]
    assert len(lines) == 2, proc.stdout
    (server1, step1), (server2, step2) = ((int(w[3]), int(w[5])) for w in lines)
    assert server1 != step1 and server2 != step2  # forked
    assert server1 == server2, "the second run started a server of its own"
    assert proc.stdout.count("statelib imported") == 1  # imported once, by the one server
