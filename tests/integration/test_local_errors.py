"""Invalid pipelines fail before any step runs: one line with file:line, a hint, exit 2, no
traceback unless --debug. Checked through ``kale-argo run`` and ``python script.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

STEP = '''
from kale_argo import pipeline, step

@step(name="a")
def a(x=1):
    open("STEP_RAN", "w").close()
    return x
'''

# name -> (script body after STEP, text of the line the error names, words the message must contain)
CASES = {
    "undefined_variable": ('''
@pipeline(name="p")
def p(n=1):
    y = a(n)
    a(z)
''', '    a(z)', ["'z'", "used before any step produced it", "hint:"]),
    "no_default": ('''
@pipeline(name="p")
def p(n):
    a(n)
''', '@pipeline', ["parameter 'n' has no default", "hint:"]),
    "unsupported_type": ('''
@pipeline(name="p")
def p(n=None):
    a(n)
''', '@pipeline', ["parameter 'n'", "NoneType", "int, float, str or bool"]),
    "duplicate_step_name": ('''
@step(name="a")
def b(x):
    return x

@pipeline(name="p")
def p(n=1):
    x = a(n)
    b(x)
''', '    b(x)', ["two different steps are named 'a'", "rename one", ":3"]),
    "bad_step_name": ('''
@step(name="train/model")
def b(x):
    return x

@pipeline(name="p")
def p(n=1):
    b(n)
''', '@step(name="train/model")', ["step name 'train/model'", "Kubernetes/Argo name", "hint:"]),
    "bad_pipeline_name": ('''
@pipeline(name="???")
def p(n=1):
    a(n)
''', '@pipeline', ["pipeline name '???'", "Kubernetes/Argo name", "hint:"]),
    "size_not_quantity": ('''
@pipeline(name="p", marshal_volume_size="10GB")
def p(n=1):
    a(n)
''', '@pipeline', ["'10GB' is not a Kubernetes quantity", "did you mean 10G or 10Gi?"]),
    "limit_not_quantity": ('''
@step(name="b", limits={"memory": "2GB"})
def b(x):
    return x

@pipeline(name="p")
def p(n=1):
    b(n)
''', '@step(name="b"', ["step 'b'", "'2GB'", "did you mean 2G or 2Gi?"]),
    "unknown_pipeline_keyword": ('''
@pipeline(name="p", experimnt="x")
def p(n=1):
    a(n)
''', '@pipeline', ["unknown keyword 'experimnt'", "did you mean 'experiment'?"]),
    "unknown_step_keyword": ('''
@step(name="b", retry_cont=2)
def b(x):
    return x

@pipeline(name="p")
def p(n=1):
    b(n)
''', '@step(name="b"', ["unknown keyword 'retry_cont'", "did you mean 'retry_count'?"]),
    "output_in_if": ('''
@pipeline(name="p")
def p(n=1):
    x = a(n)
    if x:
        a(n)
''', '    if x:', ["cannot be used with 'if'", "hint:"]),
}

MAIN = '''

if __name__ == "__main__":
    p()
'''


def line_of(script, marker: str) -> int:
    """The 1-based number of the first line of ``script`` starting with ``marker``."""
    lines = script.read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.startswith(marker))


def _check_one_line(proc, script, marker: str, words: list[str]) -> None:
    line = line_of(script, marker)
    assert proc.returncode == 2, proc.stderr + proc.stdout
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in proc.stderr + proc.stdout
    assert err.startswith("kale-argo: error: ")
    assert f"{script}:{line}:" in err
    for word in words:
        assert word in err, (word, err)
    assert not (script.parent / "STEP_RAN").exists()
    assert not (script.parent / ".kale-runs").exists()


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_through_cli(case, make_script, run_cli):
    body, marker, words = CASES[case]
    script = make_script(STEP + body + MAIN, f"{case}.py")
    _check_one_line(run_cli("run", script), script, marker, words)


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_through_python_script(case, make_script, run_python):
    body, marker, words = CASES[case]
    script = make_script(STEP + body + MAIN, f"{case}.py")
    _check_one_line(run_python(script), script, marker, words)


def test_debug_shows_the_traceback(make_script, run_cli, run_python):
    body, _, _ = CASES["size_not_quantity"]
    script = make_script(STEP + body + MAIN)
    for proc in (run_cli("--debug", "run", script), run_cli("run", script, "--debug"),
                 run_python(script, "--debug")):
        assert proc.returncode != 0
        assert "Traceback" in proc.stderr and "10GB" in proc.stderr


def test_positional_pipeline_call(make_script, run_python):
    script = make_script(STEP + '''
@pipeline(name="p")
def p(n=1):
    a(n)

if __name__ == "__main__":
    p(3)
''')
    proc = run_python(script)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{script}:{line_of(script, '    p(3)')}:" in proc.stderr
    assert "positional" in proc.stderr and "p(name=value)" in proc.stderr


def test_unknown_parameter_override(make_script, run_cli, run_python):
    script = make_script(STEP + '''
@pipeline(name="p")
def p(count=1):
    a(count)

if __name__ == "__main__":
    p(cuont=3)
''')
    for proc in (run_python(script), run_cli("run", script, "-p", "cuont=3")):
        assert proc.returncode == 2, proc.stderr
        assert "no parameter 'cuont'" in proc.stderr and "did you mean 'count'?" in proc.stderr
        assert not (script.parent / "STEP_RAN").exists()


def test_bad_parameter_value(make_script, run_cli):
    script = make_script(STEP + '''
@pipeline(name="p")
def p(count=1, flag=False):
    a(count)
''')
    for item, words in (("count=abc", "expects int"), ("flag=maybe", "true/false"),
                        ("count", "NAME=VALUE")):
        proc = run_cli("run", script, "-p", item)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_script(run_cli, tmp_path):
    proc = run_cli("run", tmp_path / "nope.py")
    assert proc.returncode == 2
    assert "nope.py" in proc.stderr and "does not exist" in proc.stderr and "hint:" in proc.stderr


def test_script_without_pipeline(make_script, run_cli):
    script = make_script(STEP)
    proc = run_cli("run", script)
    assert proc.returncode == 2 and "defines no @pipeline" in proc.stderr and "Traceback" not in proc.stderr


def test_script_that_fails_to_import(make_script, run_cli):
    script = make_script("import os\nraise RuntimeError('boom')\n")
    proc = run_cli("run", script)
    assert proc.returncode == 2 and f"{script}:2:" in proc.stderr and "boom" in proc.stderr


def test_two_pipelines_need_a_choice(make_script, run_cli):
    script = make_script(STEP + '''
@pipeline(name="one")
def one(n=1):
    a(n)

@pipeline(name="two")
def two(n=2):
    a(n)
''')
    proc = run_cli("run", script)
    assert proc.returncode == 2 and "--pipeline" in proc.stderr
    proc = run_cli("run", script, "--pipeline", "too")
    assert proc.returncode == 2 and "did you mean 'two'?" in proc.stderr


def test_bad_keyword_call_of_the_pipeline_names_the_call(make_script, run_python):
    """A keyword call's unknown or ill-typed parameter is reported at the call, not as '-p NAME'."""
    for call in ("p(cuont=3)", "p(count='many')"):
        script = make_script(STEP + f'''
@pipeline(name="p")
def p(count=1):
    a(count)

if __name__ == "__main__":
    {call}
''')
        proc = run_python(script)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert f"{script}:{line_of(script, '    ' + call)}:" in proc.stderr
        assert "-p " not in proc.stderr and "hint:" in proc.stderr
        assert not (script.parent / "STEP_RAN").exists()


@pytest.mark.parametrize("how", ["cli", "python"])
def test_output_piped_into_a_reader_that_quits(how, make_script, tmp_path):
    """``kale-argo run x.py | head -1``: exit 1 without a traceback once the reader is gone."""
    script = make_script('''
import time
from kale_argo import pipeline, step

@step(name="first")
def first():
    time.sleep(0.5)
    for i in range(1000):
        print("line", i)

@pipeline(name="p")
def p():
    first()

if __name__ == "__main__":
    p()
''')
    argv = [sys.executable, *(["-m", "kale_argo.cli.main", "run"] if how == "cli" else []), str(script)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith("running pipeline 'p'")
    proc.stdout.close()  # the reader quits
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 1
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
