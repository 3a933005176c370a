"""The local executor: scheduling, streaming, failures, Ctrl-C, and real runs through the step
runtime (parameters of each type, tuple returns, the same step twice, independent steps)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from kale_argo.errors import RunFailed, UserError
from kale_argo.local import run_local
from kale_argo.local.executor import step_commands
from kale_argo.local.scheduler import Scheduler
from kale_argo.runtime import marshal
from kale_argo.runtime.contract import parse_argv, step_argv
from kale_argo.sdk.loader import load_pipeline

DIAMOND = '''
from kale_argo import pipeline, step

@step(name="top")
def top(n):
    return n

@step(name="left")
def left(x):
    return x

@step(name="right")
def right(x):
    return x

@step(name="bottom")
def bottom(a, b):
    return a

@pipeline(name="diamond")
def diamond(n=1):
    x = top(n)
    a = left(x)
    b = right(x)
    bottom(a, b)
'''

# A fake step: marks itself running in DIR, records how many steps run at once, optionally waits
# for another step's marker (proves concurrency) or fails.
FAKE = r'''
import os, sys, time
d, name, wait_for, fail = sys.argv[1:5]
open(os.path.join(d, "running-" + name), "w").close()
running = [f for f in os.listdir(d) if f.startswith("running-")]
with open(os.path.join(d, "seen-" + name), "w") as fh:
    fh.write(str(len(running)))
print("start", name, flush=True)
if wait_for:
    deadline = time.time() + 20
    while not os.path.exists(os.path.join(d, "seen-" + wait_for)):
        if time.time() > deadline:
            sys.exit("timed out waiting for " + wait_for)
        time.sleep(0.01)
time.sleep(0.05)
os.unlink(os.path.join(d, "running-" + name))
print("end", name)
if fail:
    print("Traceback (most recent call last):\nValueError: " + name + " broke", file=sys.stderr)
    sys.exit(1)
'''


@pytest.fixture
def diamond_spec(make_script):
    return load_pipeline(str(make_script(DIAMOND, "diamond_pipe.py"))).trace()


def fake_commands(spec, tmp_path, wait=None, fail=()):
    wait = wait or {}
    return {s.name: [sys.executable, "-c", FAKE, str(tmp_path), s.name, wait.get(s.name, ""),
                     "1" if s.name in fail else ""] for s in spec.steps}


def seen(tmp_path, name) -> int:
    return int((tmp_path / f"seen-{name}").read_text())


def test_independent_steps_run_concurrently(diamond_spec, tmp_path):
    # left waits until right has started, and right until left has: only concurrency ends it
    commands = fake_commands(diamond_spec, tmp_path, wait={"left": "right", "right": "left"})
    scheduler = Scheduler(diamond_spec, commands, 2, io.StringIO())
    scheduler.run()
    assert {r.status for r in scheduler.results.values()} == {"succeeded"}
    assert seen(tmp_path, "top") == 1 and seen(tmp_path, "bottom") == 1


def test_jobs_caps_concurrency_and_order_follows_dependencies(diamond_spec, tmp_path):
    out = io.StringIO()
    scheduler = Scheduler(diamond_spec, fake_commands(diamond_spec, tmp_path), 1, out)
    scheduler.run()
    assert all(seen(tmp_path, s.name) == 1 for s in diamond_spec.steps)
    starts = [line.split()[-1] for line in out.getvalue().splitlines() if " start " in line]
    assert starts[0] == "top" and starts[-1] == "bottom" and set(starts[1:3]) == {"left", "right"}


def test_output_is_prefixed_line_by_line(diamond_spec, tmp_path):
    out = io.StringIO()
    Scheduler(diamond_spec, fake_commands(diamond_spec, tmp_path), 2, out).run()
    lines = out.getvalue().splitlines()
    for name in ("top", "left", "right", "bottom"):
        assert f"[{name}] start {name}" in lines and f"[{name}] end {name}" in lines


def test_output_is_streamed_while_the_step_runs(make_script, tmp_path):
    # the step waits for a file that the test creates only once it has seen the step's first line
    go = tmp_path / "go"
    script = make_script(f'''
        import os, time
        from kale_argo import pipeline, step

        @step(name="talk")
        def talk():
            print("first", flush=True)
            deadline = time.time() + 20
            while not os.path.exists({str(go)!r}):
                assert time.time() < deadline, "output was not streamed"
                time.sleep(0.01)
            print("second")

        @pipeline(name="talk")
        def talk_pipe():
            talk()
        ''', "talk_pipe.py")

    class Watcher(io.StringIO):
        def write(self, text: str) -> int:
            if "[talk] first" in text:
                go.touch()
            return super().write(text)

    out = Watcher()
    run = run_local(load_pipeline(str(script)).trace(), marshal_dir=str(tmp_path / "m"), stream=out)
    assert run.succeeded
    assert "[talk] first\n[talk] second\n" in out.getvalue()


def test_a_failure_skips_dependents_and_lets_running_steps_finish(diamond_spec, tmp_path):
    # left fails after right started; right finishes, bottom never starts
    commands = fake_commands(diamond_spec, tmp_path, wait={"left": "right"}, fail={"left"})
    scheduler = Scheduler(diamond_spec, commands, 2, io.StringIO())
    scheduler.run()
    status = {n: r.status for n, r in scheduler.results.items()}
    assert status == {"top": "succeeded", "left": "failed", "right": "succeeded", "bottom": "skipped"}
    assert scheduler.results["left"].returncode == 1
    assert not (tmp_path / "seen-bottom").exists()


FAILING = '''
from kale_argo import pipeline, step

@step(name="prepare")
def prepare(n):
    return list(range(n))

@step(name="explode")
def explode(values):
    print("about to fail")
    return values[len(values) + 5]

@step(name="after")
def after(x):
    open("AFTER_RAN", "w").close()

@pipeline(name="failing")
def failing(n=3):
    boom = explode(prepare(n))
    after(boom)

if __name__ == "__main__":
    failing()
'''


def test_failed_run_prints_traceback_and_exits_1(make_script, run_cli, run_python, tmp_path):
    script = make_script(FAILING)
    for proc in (run_cli("run", script), run_python(script)):
        assert proc.returncode == 1, proc.stderr
        out = proc.stdout
        assert "[explode] about to fail" in out
        streamed, report = out.split("---- step 'explode' failed (exit code 1) ----")
        assert out.count("Traceback (most recent call last)") == 1  # the traceback, once
        assert "[explode] Traceback (most recent call last)" in streamed and "IndexError" in report
        line = script.read_text().splitlines().index("    return values[len(values) + 5]") + 1
        assert f'{script}", line {line}' in streamed
        assert "the traceback is above, prefixed [explode]" in report
        rows = {line.split()[0]: line.split()[1] for line in out.splitlines()
                if line.split() and line.split()[0] in ("prepare", "explode", "after")}
        assert rows == {"prepare": "succeeded", "explode": "failed", "after": "skipped"}
        assert "kale-argo: error:" in proc.stderr and "'explode' failed" in proc.stderr
        assert not (tmp_path / "AFTER_RAN").exists()


def test_run_failed_carries_the_run(make_script, tmp_path):
    spec = load_pipeline(str(make_script(FAILING, "failing_pipe.py"))).trace()
    with pytest.raises(RunFailed) as info:
        run_local(spec, marshal_dir=str(tmp_path / "m"), stream=io.StringIO())
    run = info.value.run
    assert [s.status for s in run.steps.values()] == ["succeeded", "failed", "skipped"]
    assert run.load("prepare_output") == [0, 1, 2]


def test_ctrl_c_terminates_the_steps(make_script, tmp_path):
    script = make_script('''
        import os, time
        from kale_argo import pipeline, step

        @step(name="slow")
        def slow():
            print("pid", os.getpid(), flush=True)
            time.sleep(60)

        @pipeline(name="slow")
        def slow_pipe():
            slow()
        ''')
    proc = subprocess.Popen([sys.executable, "-m", "kale_argo.cli.main", "run", str(script)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        child = None
        for line in proc.stdout:
            if line.startswith("[slow] pid "):
                child = int(line.split()[-1])
                break
        assert child is not None
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "cancelled" in rest
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


PARAMS = '''
from kale_argo import pipeline, step

@step(name="show")
def show(i, f, s, b):
    return {"i": i, "f": f, "s": s, "b": b, "types": [type(v).__name__ for v in (i, f, s, b)]}

@step(name="split")
def split(values):
    return values[:2], values[2:], len(values)

@step(name="add")
def add(x, y=0):
    return sum(x) + y

@pipeline(name="params")
def params(i=1, f=0.5, s="text", b=False, n=5):
    shown = show(i, f, s=s, b=b)
    head, tail, count = split(make(n))
    first = add(head)
    second = add(tail, y=i)

@step(name="make")
def make(n):
    return list(range(n))

if __name__ == "__main__":
    params(i=7, b=True, s="from-call")
'''


def test_parameters_overridden_from_the_cli(make_script, run_cli, tmp_path):
    script = make_script(PARAMS)
    proc = run_cli("run", script, "-p", "i=3", "-p", "f=2.5", "-p", "s=a b=c", "-p", "b=true",
                   "-p", "n=6", "--marshal-dir", tmp_path / "m", "--jobs", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = str(tmp_path / "m")
    from kale_argo.runtime import marshal

    assert marshal.load(run_dir, "shown") == {"i": 3, "f": 2.5, "s": "a b=c", "b": True,
                                              "types": ["int", "float", "str", "bool"]}
    assert marshal.load(run_dir, "head") == [0, 1] and marshal.load(run_dir, "count") == 6
    assert marshal.load(run_dir, "first") == 1 and marshal.load(run_dir, "second") == 2 + 3 + 4 + 5 + 3
    assert f"marshal dir: {run_dir}" in proc.stdout


def test_parameters_overridden_by_keyword_call(make_script, run_python, tmp_path):
    script = make_script(PARAMS)
    proc = run_python(script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = list((tmp_path / ".kale-runs").glob("[!.]*"))
    assert len(runs) == 1 and runs[0].name.startswith("params-")
    from kale_argo.runtime import marshal

    shown = marshal.load(str(runs[0]), "shown")
    assert shown == {"i": 7, "f": 0.5, "s": "from-call", "b": True,
                     "types": ["int", "float", "str", "bool"]}


def test_same_step_twice_and_independent_steps(make_script):
    spec = load_pipeline(str(make_script(PARAMS, "params_pipe.py"))).trace()
    steps = {s.name: s for s in spec.steps}
    assert [s.name for s in spec.steps] == ["show", "make", "split", "add", "add_2"]
    assert steps["show"].depends == [] and steps["make"].depends == []
    assert steps["add"].depends == ["split"] and steps["add_2"].depends == ["split"]
    assert steps["split"].outputs == ["head", "tail", "count"] and steps["split"].unpack


def test_python_m_kale_argo(make_script, run_python, tmp_path):
    script = make_script(PARAMS)
    proc = run_python("-m", "kale_argo", script, "-p", "i=5", "--pipeline", "params")
    assert proc.returncode == 0, proc.stderr
    from kale_argo.runtime import marshal

    run_dir = next((tmp_path / ".kale-runs").glob("[!.]*"))
    assert marshal.load(str(run_dir), "shown")["i"] == 5  # the __main__ call did not run


def test_local_argv_is_the_step_contract(diamond_spec, tmp_path):
    commands = step_commands(diamond_spec, {"n": 4}, str(tmp_path))
    for s in diamond_spec.steps:
        call = s.runtime_call(diamond_spec.param_types())
        params = {"n": "4"} if s.name == "top" else {}
        assert commands[s.name] == step_argv(python=sys.executable, script=diamond_spec.script.path,
                                             marshal_dir=str(tmp_path), call=call, params=params)
        assert parse_argv(commands[s.name][3:]).call == json.loads(json.dumps(call))


def test_summary_has_status_duration_and_sizes(diamond_spec, tmp_path):
    out = io.StringIO()
    run = run_local(diamond_spec, {"n": "7"}, jobs=2, marshal_dir=str(tmp_path / "m"), stream=out)
    assert run.succeeded and run.params == {"n": 7} and run.load("a") == 7
    table = out.getvalue()[out.getvalue().index("step "):]
    for name in ("top", "left", "right", "bottom"):
        row = next(line for line in table.splitlines() if line.startswith(name + " "))
        assert " succeeded " in row and row.split()[2].endswith("s")
    assert run.steps["top"].outputs["x"]["bytes"] > 0
    assert "x " in next(line for line in table.splitlines() if line.startswith("top "))
    assert (tmp_path / "m" / ".kale" / "pipeline.json").is_file()


def test_sigterm_handler_is_restored(diamond_spec, tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    run_local(diamond_spec, marshal_dir=str(tmp_path / "m"), stream=io.StringIO())
    assert signal.getsignal(signal.SIGTERM) is before


def test_run_from_a_thread(diamond_spec, tmp_path):
    result = {}
    thread = threading.Thread(target=lambda: result.update(run=run_local(
        diamond_spec, marshal_dir=str(tmp_path / "m"), stream=io.StringIO())))
    thread.start()
    thread.join(120)
    assert result["run"].succeeded


def test_default_marshal_dirs_are_fresh(diamond_spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = run_local(diamond_spec, stream=io.StringIO()).marshal_dir
    second = run_local(diamond_spec, stream=io.StringIO()).marshal_dir
    assert first != second
    for path in (first, second):
        assert os.path.dirname(path) == str(tmp_path / ".kale-runs")
        assert os.path.basename(path).startswith("diamond-" + time.strftime("%Y", time.gmtime()))


def test_a_step_killed_by_a_signal(make_script, tmp_path):
    script = make_script('''
        import os, signal
        from kale_argo import pipeline, step

        @step(name="victim")
        def victim():
            print("dying", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        @pipeline(name="killed")
        def killed():
            victim()
        ''', "killed_pipe.py")
    out = io.StringIO()
    with pytest.raises(RunFailed, match="'victim' failed"):
        run_local(load_pipeline(str(script)).trace(), marshal_dir=str(tmp_path / "m"), stream=out)
    assert "---- step 'victim' failed (killed by signal 9) ----\n[victim] dying" not in out.getvalue()
    assert "---- step 'victim' failed (killed by signal 9) ----\ndying" in out.getvalue()


def test_calling_the_pipeline_from_python_runs_it_locally(make_script, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    pipe = load_pipeline(str(make_script(PARAMS, "library_pipe.py")), "params")
    run = pipe(i=4, s="lib")  # not in __main__: runs locally and returns the run
    assert run.succeeded and run.load("shown")["i"] == 4 and run.load("shown")["s"] == "lib"
    run = pipe.run(jobs=1, marshal_dir=str(tmp_path / "m"), b=True)
    assert run.marshal_dir == str(tmp_path / "m") and run.load("shown")["b"] is True
    assert "pipeline 'params': 5 succeeded" in capsys.readouterr().out


def test_steps_imported_from_a_helper_module(make_script, run_python, tmp_path):
    make_script('''
        from kale_argo import step

        @step(name="double")
        def double(x):
            return 2 * x
        ''', "helpers_mod.py")
    for header, call in (("from helpers_mod import double", "double"),
                         ("import helpers_mod as hm", "hm.double")):
        script = make_script(f'''
            from kale_argo import pipeline, step
            {header}

            @step(name="show")
            def show(v):
                print("value", v)

            @pipeline(name="helped")
            def helped(x=4):
                y = {call}(x)
                show(y)

            if __name__ == "__main__":
                helped(x=5)
            ''', "helped.py")
        proc = run_python(script)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "[show] value 10" in proc.stdout.splitlines()


TIMEOUTS = '''
import time
from kale_argo import pipeline, step

@step(name="stuck", timeout="1s")
def stuck():
    print("sleeping", flush=True)
    time.sleep(120)

@step(name="after")
def after(x):
    pass

@pipeline(name="timeouts")
def timeouts():
    x = stuck()
    after(x)
'''


def test_a_step_past_its_timeout_is_killed(make_script, tmp_path):
    spec = load_pipeline(str(make_script(TIMEOUTS, "timeouts_pipe.py"))).trace()
    out = io.StringIO()
    with pytest.raises(RunFailed, match="'stuck' failed"):
        run_local(spec, marshal_dir=str(tmp_path / "m"), stream=out)
    text = out.getvalue()
    assert "[stuck] step 'stuck' timed out after 1s (its timeout): killed" in text
    assert "---- step 'stuck' failed (killed by signal 9) ----" in text
    rows = {line.split()[0]: line.split()[1] for line in text.splitlines()
            if line.split() and line.split()[0] in ("stuck", "after")}
    assert rows == {"stuck": "failed", "after": "skipped"}


def test_the_pipeline_timeout_stops_everything(make_script, tmp_path):
    text = TIMEOUTS.replace('timeout="1s"', 'timeout="1h"').replace(
        '@pipeline(name="timeouts")', '@pipeline(name="timeouts", timeout=1)')
    spec = load_pipeline(str(make_script(text, "pipeline_timeout_pipe.py"))).trace()
    with pytest.raises(RunFailed) as info:
        run_local(spec, marshal_dir=str(tmp_path / "m"), stream=io.StringIO())
    steps = info.value.run.steps
    assert steps["stuck"].status == "failed" and "pipeline timed out after 1s" in steps["stuck"].error
    assert steps["after"].status == "skipped"


FLAKY = '''
import os
from kale_argo import pipeline, step

@step(name="flaky", retry_count=RETRIES, retry_interval="0.1s", retry_factor=2)
def flaky(path):
    tries = int(open(path).read()) if os.path.exists(path) else 0
    open(path, "w").write(str(tries + 1))
    if tries < 2:
        raise RuntimeError(f"attempt {tries + 1} fails")
    return tries + 1

@step(name="after")
def after(x):
    return x

@pipeline(name="flaky")
def flaky_pipe(path="COUNTER"):
    x = flaky(path)
    y = after(x)
'''


def test_retries_follow_retry_count(make_script, tmp_path):
    spec = load_pipeline(str(make_script(FLAKY.replace("RETRIES", "2"), "flaky_ok.py"))).trace()
    out = io.StringIO()
    run = run_local(spec, {"path": str(tmp_path / "c1")}, marshal_dir=str(tmp_path / "m1"), stream=out)
    assert run.load("y") == 3 and run.steps["flaky"].attempts == 3
    text = out.getvalue()
    assert "[flaky] failed (exit code 1); retry 1 of 2 in 0.1s" in text
    assert "[flaky] failed (exit code 1); retry 2 of 2 in 0.2s" in text
    assert "succeeded (3 tries)" in text

    spec = load_pipeline(str(make_script(FLAKY.replace("RETRIES", "1"), "flaky_ko.py"))).trace()
    with pytest.raises(RunFailed) as info:
        run_local(spec, {"path": str(tmp_path / "c2")}, marshal_dir=str(tmp_path / "m2"),
                  stream=io.StringIO())
    steps = info.value.run.steps
    assert steps["flaky"].status == "failed" and steps["flaky"].attempts == 2
    assert steps["after"].status == "skipped" and (tmp_path / "c2").read_text() == "2"


def test_no_retries(make_script, run_cli, tmp_path):
    script = make_script(FLAKY.replace("RETRIES", "2"), "flaky_none.py")
    proc = run_cli("run", script, "--no-retries", "-p", f"path={tmp_path / 'c'}")
    assert proc.returncode == 1 and "retry" not in proc.stdout
    assert (tmp_path / "c").read_text() == "1"


def test_an_unguarded_pipeline_call_runs_once(make_script, run_python, run_cli, tmp_path):
    script = make_script('''
        from kale_argo import pipeline, step

        @step(name="one")
        def one():
            print("step ran")

        @pipeline(name="unguarded")
        def unguarded():
            one()

        unguarded()  # no __main__ guard: importing the script must not start runs
        ''', "unguarded.py")
    for proc in (run_python(script), run_cli("run", script)):
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.count("[one] step ran") == 1
    assert len(list((tmp_path / ".kale-runs").glob("[!.]*"))) == 2


LITERALS = '''
from kale_argo import pipeline, step

@step(name="show")
def show(shape, table, tags, raw, plain):
    print(repr(shape), repr(table), repr(tags), repr(raw), repr(plain))
    assert type(shape) is tuple and 1 in table and type(table[2]) is tuple and type(tags) is set

@pipeline(name="literals")
def literals():
    show((3, 4), {1: "one", 2: (0.5, None)}, {"a"}, b"\\x00z", plain={"k": [1, "x"]})
'''


def test_literals_in_the_pipeline_body_reach_the_step_unchanged(make_script, tmp_path):
    """Tuples, sets, bytes and dicts with int keys are not turned into lists or string keys."""
    spec = load_pipeline(str(make_script(LITERALS, "literals.py"))).trace()
    out = io.StringIO()
    run_local(spec, {}, jobs=1, marshal_dir=str(tmp_path / "m"), stream=out)
    assert ("[show] (3, 4) {1: 'one', 2: (0.5, None)} {'a'} b'\\x00z' {'k': [1, 'x']}"
            in out.getvalue().splitlines())
    plain = spec.steps[0].kwargs["plain"]
    assert plain.runtime_input() == {"kind": "const", "value": {"k": [1, "x"]}}  # JSON stays JSON


def test_loading_a_value_the_run_does_not_have_names_the_ones_it_has(make_script, tmp_path):
    spec = load_pipeline(str(make_script(FAILING, "failing_pipe.py"))).trace()
    with pytest.raises(RunFailed) as info:
        run_local(spec, marshal_dir=str(tmp_path / "m"), stream=io.StringIO())
    stored = sorted(v["key"] for v in marshal.list_values(str(tmp_path / "m")))
    assert stored
    with pytest.raises(UserError, match="has no value 'nope'") as missing:
        info.value.run.load("nope")
    assert all(name in missing.value.one_line() for name in stored)


def test_a_failed_pipeline_run_gives_the_handle_of_what_finished(make_script, tmp_path):
    script = make_script('''
        from kale_argo import pipeline, step

        @step(name="make")
        def make(n):
            return list(range(n))

        @step(name="boom")
        def boom(xs):
            raise ValueError("bad batch")

        @pipeline(name="half_done")
        def half_done(n=3):
            xs = make(n)
            boom(xs)
        ''', "half_done_pipe.py")
    pipe = load_pipeline(str(script), "half_done")
    with pytest.raises(RunFailed, match="'boom' failed") as info:
        pipe.run(marshal_dir=str(tmp_path / "m"), n=4)
    handle = info.value.handle
    assert handle is not None and handle.status() == "Failed"
    assert {row.name: row.phase for row in handle.steps} == {"make": "Succeeded", "boom": "Failed"}
    assert handle.load("xs") == [0, 1, 2, 3]
