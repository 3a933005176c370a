"""The step cache in local runs: unchanged steps reuse their outputs, any change reruns them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kale_argo.argo import CompileOptions, compile_manifests
from kale_argo.argo.volumes import CACHE_PATH, CACHE_VOLUME
from kale_argo.runtime import cache
from kale_argo.runtime.marshal.binding import POD_KEY_FILE
from tests.integration.test_compile_pods import bare_python, run_pods
from tests.unit.test_argo_pipelines import HEADER, trace_script, write_script
from tests.workflow_checks import check_workflow

Cli = Callable[..., subprocess.CompletedProcess[str]]

HELPERS = """
def scale(x):
    return x * 2
"""

SCRIPT = """
from kale_argo import pipeline, step
from stepcache_helpers import scale

COUNTER = {counter!r}
OUT = {out!r}


@step
def long(n: int):
    with open(COUNTER, "a") as fh:
        fh.write("x")
    return scale(n)


@step{finish_options}
def finish(v):
    {finish_body}
    with open(OUT, "w") as fh:
        fh.write(str(v + 1))
    return v + 1


@pipeline(name="cached")
def cached(n: int = 3):
    v = long(n)
    w = finish(v)  # noqa: F841


if __name__ == "__main__":
    cached()
"""


@pytest.fixture
def pipe(tmp_path: Path, make_script: Callable[..., Path]) -> Callable[..., Path]:
    make_script(HELPERS, "stepcache_helpers.py")

    def write(finish_body: str = "pass", finish_options: str = "") -> Path:
        return make_script(SCRIPT.format(counter=str(tmp_path / "counter"), out=str(tmp_path / "out"),
                                         finish_body=finish_body, finish_options=finish_options))
    return write


def runs_of_long(tmp_path: Path) -> int:
    counter = tmp_path / "counter"
    return len(counter.read_text()) if counter.exists() else 0


def entries(tmp_path: Path) -> list[Path]:
    root = tmp_path / ".kale-runs" / ".cache" / "cached"
    return sorted(p for p in root.iterdir() if (p / cache.ENTRY_FILE).is_file())


def test_a_fixed_failure_reruns_only_the_failed_step(tmp_path: Path, pipe: Callable[..., Path],
                                                     call_cli: Cli) -> None:
    script = pipe("raise RuntimeError('not yet')")
    assert call_cli("run", script).returncode == 1
    assert runs_of_long(tmp_path) == 1
    pipe("pass")  # the fix: another step's code changed, not long's
    result = call_cli("run", script)
    assert result.returncode == 0, result.stderr
    assert runs_of_long(tmp_path) == 1
    assert (tmp_path / "out").read_text() == "7"
    assert re.search(r"^long +succeeded \(cached, saved \d+\.\d\ds\)", result.stdout, re.M)
    assert not re.search(r"^finish .*cached", result.stdout, re.M)
    assert "1 from the step cache" in result.stdout
    assert len(entries(tmp_path)) == 2  # the failed run of finish published nothing


def test_helper_parameter_and_switches_invalidate(tmp_path: Path, pipe: Callable[..., Path],
                                                  call_cli: Cli) -> None:
    script = pipe()
    assert call_cli("run", script).returncode == 0
    assert call_cli("run", script).returncode == 0
    assert runs_of_long(tmp_path) == 1
    (tmp_path / "stepcache_helpers.py").write_text("def scale(x):\n    return x * 3\n")
    assert call_cli("run", script).returncode == 0
    assert runs_of_long(tmp_path) == 2
    assert (tmp_path / "out").read_text() == "10"
    assert call_cli("run", script, "-p", "n=4").returncode == 0
    assert runs_of_long(tmp_path) == 3
    assert (tmp_path / "out").read_text() == "13"
    assert call_cli("run", script, "-p", "n=4", "--no-cache").returncode == 0
    assert runs_of_long(tmp_path) == 4
    assert call_cli("run", script, "-p", "n=4").returncode == 0
    assert runs_of_long(tmp_path) == 4


def test_step_cache_false_always_runs(tmp_path: Path, make_script: Callable[..., Path],
                                      call_cli: Cli) -> None:
    make_script(HELPERS, "stepcache_helpers.py")
    text = SCRIPT.format(counter=str(tmp_path / "counter"), out=str(tmp_path / "out"),
                         finish_body="pass", finish_options="")
    script = make_script(text.replace("@step\ndef long", "@step(cache=False)\ndef long"))
    for _ in range(2):
        assert call_cli("run", script).returncode == 0
    assert runs_of_long(tmp_path) == 2


def test_a_corrupt_entry_is_a_miss_and_is_replaced(tmp_path: Path, pipe: Callable[..., Path],
                                                   call_cli: Cli) -> None:
    script = pipe()
    assert call_cli("run", script).returncode == 0
    for entry in entries(tmp_path):
        meta = json.loads((entry / cache.ENTRY_FILE).read_text())
        for value in meta["values"].values():
            data = entry / value["file"]
            data.unlink()  # break the link with the run's copy, then write different bytes
            data.write_bytes(b"\x80\x04K\x63." + b"\0" * (int(value["bytes"]) - 5))
    result = call_cli("run", script)
    assert result.returncode == 0, result.stderr
    assert runs_of_long(tmp_path) == 2
    assert (tmp_path / "out").read_text() == "7"
    assert call_cli("run", script).returncode == 0
    assert runs_of_long(tmp_path) == 2


def test_the_size_bound_evicts_least_recently_used(tmp_path: Path, pipe: Callable[..., Path],
                                                   call_cli: Cli,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    script = pipe()
    assert call_cli("run", script, "-p", "n=1").returncode == 0
    first = entries(tmp_path)
    size = sum(f.stat().st_size for e in first for f in e.iterdir())
    monkeypatch.setenv(cache.SIZE_ENV, str(size + 10))  # room for about one run's entries
    assert call_cli("run", script, "-p", "n=2").returncode == 0
    assert not set(first) & set(entries(tmp_path))  # n=1's entries were evicted
    assert call_cli("run", script, "-p", "n=2").returncode == 0
    assert runs_of_long(tmp_path) == 2  # n=2's are kept and reused
    assert call_cli("run", script, "-p", "n=1").returncode == 0
    assert runs_of_long(tmp_path) == 3


def test_concurrent_runs_share_the_cache_correctly(tmp_path: Path, pipe: Callable[..., Path],
                                                   subprocess_env: dict[str, str]) -> None:
    script = pipe()
    procs = [subprocess.Popen([sys.executable, "-m", "kale_argo.cli.main", "run", str(script),
                               "--no-warm-start"], cwd=tmp_path, env=subprocess_env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
    assert (tmp_path / "out").read_text() == "7"
    assert len(entries(tmp_path)) == 2
    assert not [p for p in entries(tmp_path)[0].parent.iterdir() if p.name.startswith(".tmp-")]
    runs = runs_of_long(tmp_path)
    again = subprocess.run([sys.executable, "-m", "kale_argo.cli.main", "run", str(script)],
                           cwd=tmp_path, env=subprocess_env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert runs_of_long(tmp_path) == runs
    assert (tmp_path / "out").read_text() == "7"


POD_SCRIPT = HEADER + '''
COUNTER = {counter!r}


@step
def long(n):
    with open(COUNTER, "a") as fh:
        fh.write("x")
    return n * 2


@step
def report(v):
    print("report", v + 1)


@pipeline(name="podcache", cache_volume="kale-step-cache")
def podcache(n=3):
    report(long(n))
'''


def test_pods_skip_unchanged_steps_through_the_cache_volume(tmp_path: Path) -> None:
    python = bare_python()
    script = write_script(tmp_path, POD_SCRIPT.format(counter=str(tmp_path / "counter")), "pc.py")
    docs = compile_manifests(trace_script(script), {}, CompileOptions(marshal_key_secret="run-key"))
    manifest = docs[-1]
    check_workflow(manifest)
    (claim,) = [v for v in manifest["spec"]["volumes"] if v["name"] == CACHE_VOLUME]
    assert claim["persistentVolumeClaim"]["claimName"] == "kale-step-cache"
    key_dir = tmp_path / "secret"
    key_dir.mkdir()
    mounts = {os.path.dirname(POD_KEY_FILE): str(key_dir), CACHE_PATH: str(tmp_path / "volume")}
    for attempt in ("first", "second"):
        (key_dir / os.path.basename(POD_KEY_FILE)).write_bytes(os.urandom(32))  # each run its key
        root = tmp_path / attempt
        root.mkdir()
        procs = run_pods(docs, root, python, mounts)
        assert "report 7" in procs[-1].stdout
    assert runs_of_long(tmp_path) == 1
    assert "reused from the step cache" in procs[0].stderr
