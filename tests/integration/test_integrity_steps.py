"""A step's own failures reported in one line with a record: a full disk, BaseException; and the
executor's output filtered of terminal escapes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kale_argo.local import run_local
from kale_argo.local.executor import step_commands
from kale_argo.sdk.loader import load_pipeline

BIG = '''
from kale_argo import pipeline, step

@step(name="fill")
def fill(n):
    return b"x" * n

@step(name="stop")
def stop():
    raise KeyboardInterrupt

@step(name="loud")
def loud():
    print("\\x1b[31mred\\x1b[0m \\x1b]0;retitled\\x07done\\x1b[2J")

@pipeline(name="big")
def big(n=4000000):
    data = fill(n)
'''


@contextlib.contextmanager
def small_tmpfs(path: Path) -> Iterator[Path]:
    path.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _argv(make_script, name: str, marshal_dir: Path) -> list[str]:
    spec = load_pipeline(str(make_script(BIG, "big.py"))).trace()
    step = spec.step("fill")
    argv = step_commands(spec, spec.resolve_parameters({}), str(marshal_dir))["fill"]
    if name != "fill":
        call = {"step": name, "function": name, "args": [], "kwargs": {}, "outputs": []}
        argv[argv.index("--call") + 1] = json.dumps(call)
        argv = argv[:argv.index("--param")] if "--param" in argv else argv
    assert step.name == "fill"
    return argv


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0,
                    reason="needs root on Linux to mount a tmpfs")
def test_a_full_disk_gives_one_line_and_leaves_no_partial_files(make_script, tmp_path):
    with small_tmpfs(tmp_path / "small") as folder:
        env = {**os.environ, "KALE_ARGO_RUN_ID": uuid.uuid4().hex}
        proc = subprocess.run(_argv(make_script, "fill", folder), capture_output=True, text=True,
                              env=env, timeout=60)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("kale-argo: step 'fill', variable 'data', file ")
        assert "No space left on device" in lines[0] and " free there" in lines[0]
        leftovers = [str(p) for p in folder.rglob("*") if p.is_file() and (
            p.name.endswith(".tmp") or p.name.startswith("data"))]
        assert leftovers == []


def test_a_step_raising_keyboardinterrupt_gives_one_line_and_a_record(make_script, tmp_path):
    folder = tmp_path / "m"
    proc = subprocess.run(_argv(make_script, "stop", folder), capture_output=True, text=True,
                          env={**os.environ, "KALE_ARGO_RUN_ID": "r1"}, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "kale-argo: step 'stop' raised KeyboardInterrupt"
    assert "kale_argo/runtime" not in proc.stderr  # the user's frames only
    record = json.loads((folder / ".kale" / "steps" / "stop.json").read_text())
    assert record["status"] == "failed" and record["run"] == "r1"


def test_terminal_escapes_from_a_step_are_filtered(make_script, tmp_path):
    script = make_script(BIG.replace("data = fill(n)", "loud()"), "loud.py")
    out = io.StringIO()
    run_local(load_pipeline(str(script)).trace(), marshal_dir=str(tmp_path / "m"), stream=out)
    assert "[loud] red done\n" in out.getvalue()
    assert "\x1b" not in out.getvalue() and "\x07" not in out.getvalue()


def test_a_record_that_cannot_be_written_does_not_fail_a_completed_step(make_script, tmp_path):
    folder = tmp_path / "m"
    (folder / ".kale" / "steps" / "fill.json").mkdir(parents=True)  # the record cannot replace it
    argv = _argv(make_script, "fill", folder)
    argv[argv.index("--param") + 1] = "n=10"
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KALE_ARGO_RUN_ID": "r1"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("kale-argo: warning: step 'fill': cannot write its record")
    assert "its outputs are saved" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    from kale_argo.runtime import marshal

    assert marshal.load(str(folder), "data") == b"x" * 10
