"""Never a wrong value: stale and shared marshal directories, steps that exit early, timeouts with
detached grandchildren, shadowing files, planted values, a full disk."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from kale_argo.errors import ConfigError, RunFailed
from kale_argo.local import run_local
from kale_argo.local.rundir import claim_marshal_dir
from kale_argo.runtime import marshal
from kale_argo.runtime.marshal.binding import RunBinding
from kale_argo.sdk.loader import load_pipeline

TWO_STEPS = '''
import os
from kale_argo import pipeline, step

@step(name="produce")
def produce(version, quit_early):
    if quit_early:
        os._exit(0)
    return f"value-from-{version}"

@step(name="consume")
def consume(x):
    print("consumed", x)

@pipeline(name="stale")
def stale(version="run1", quit_early=False):
    x = produce(version, quit_early)
    consume(x)
'''


def trace(path: Path):
    return load_pipeline(str(path)).trace()


def test_a_step_exiting_early_fails_and_an_earlier_runs_value_is_never_used(make_script, tmp_path):
    spec = trace(make_script(TWO_STEPS, "stale.py"))
    folder = str(tmp_path / "m")
    first = run_local(spec, {"version": "run1"}, marshal_dir=folder, stream=io.StringIO())
    assert first.load("x") == "value-from-run1"
    out = io.StringIO()
    with pytest.raises(RunFailed, match="'produce' failed"):
        run_local(spec, {"version": "run2", "quit_early": True}, marshal_dir=folder, stream=out)
    text = out.getvalue()
    assert "value-from-run1" not in text and "consumed" not in text
    assert "exited with status 0 before saving x" in text
    assert "1 failed, 1 skipped" in text
    # the earlier value is still on disk but belongs to the other run
    stored = marshal.describe(folder, "x")
    assert stored is not None and stored["run"] == first.run_id
    refused = rf"step 'consume', variable 'x'.*stored by run {first.run_id} \(step 'produce'\), not by"
    with pytest.raises(marshal.MarshalError, match=refused + " this run other"):
        marshal.load(folder, "x", step="consume", binding=RunBinding("other"))


def test_the_runtime_alone_fails_a_step_that_exits_early(make_script, tmp_path):
    """In an Argo pod there is no executor: the step command itself must fail."""
    from kale_argo.local.executor import step_commands

    spec = trace(make_script(TWO_STEPS, "stale.py"))
    folder = tmp_path / "m"
    argv = step_commands(spec, spec.resolve_parameters({"quit_early": True}), str(folder))["produce"]
    env = {**os.environ, "KALE_ARGO_RUN_ID": "uid-1"}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "kale-argo: step 'produce' exited with status 0 before saving x")
    record = json.loads((folder / ".kale" / "steps" / "produce.json").read_text())
    assert record["status"] == "failed" and record["run"] == "uid-1"


def test_a_second_run_into_a_busy_marshal_dir_is_refused(tmp_path):
    folder = str(tmp_path / "m")
    os.makedirs(folder)
    with claim_marshal_dir(folder) as first:
        with pytest.raises(ConfigError, match="in use by another run") as err, claim_marshal_dir(folder):
            pass
        assert "--marshal-dir" in str(err.value)
        assert oct(os.stat(first.key_file).st_mode & 0o777) == "0o600"
    with claim_marshal_dir(folder) as again:  # free again once the first run ended
        assert again.run_id != first.run_id


def test_leftover_temp_files_are_removed_when_a_run_starts(make_script, tmp_path):
    folder = tmp_path / "m"
    (folder / ".kale" / "values").mkdir(parents=True)
    leftovers = [folder / ".x.pkl.0a1b2c.tmp", folder / ".kale" / "values" / ".x.json.0a1b2c.tmp"]
    for path in leftovers:
        path.write_bytes(b"partial")
    run_local(trace(make_script(TWO_STEPS, "stale.py")), marshal_dir=str(folder), stream=io.StringIO())
    assert not any(p.exists() for p in leftovers)


DETACHED = '''
import os, time
from kale_argo import pipeline, step

@step(name="hang", timeout=2)
def hang(marker):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:  # a detached grandchild, holding the step's output pipe
            with open(marker, "w") as fh:
                fh.write(str(os.getpid()))
            time.sleep(300)
        os._exit(0)
    time.sleep(300)

@pipeline(name="detached")
def detached(marker=""):
    hang(marker)
'''


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_timeout_ends_a_detached_grandchild_holding_the_pipe(make_script, tmp_path):
    marker = tmp_path / "grandchild.pid"
    out = io.StringIO()
    with pytest.raises(RunFailed, match="'hang' failed"):
        run_local(trace(make_script(DETACHED, "detached.py")), {"marker": str(marker)},
                  marshal_dir=str(tmp_path / "m"), stream=out)
    assert "timed out after 2s" in out.getvalue()
    pid = int(marker.read_text())
    assert not _alive(pid)


SHADOW = '''
from kale_argo import pipeline, step
from helper import twice

@step(name="one")
def one(n):
    import fractions, json  # fractions: not imported by the runtime before the script
    print("got", json.loads(json.dumps(int(twice(fractions.Fraction(n, 1))))))

@pipeline(name="shadow")
def shadow(n=2):
    one(n)
'''


def test_files_named_like_the_stdlib_or_kale_argo_do_not_shadow_them(make_script, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    for folder in (work, tmp_path):
        for name in ("json", "fractions"):
            (folder / f"{name}.py").write_text(f"raise RuntimeError('shadowed {name} imported')\n")
        (folder / "kale_argo.py").write_text("raise RuntimeError('shadowed kale_argo imported')\n")
    (tmp_path / "helper.py").write_text("def twice(n):\n    return 2 * n\n")
    spec = trace(make_script(SHADOW, "json_pipe.py"))
    cwd = os.getcwd()
    os.chdir(work)
    try:
        out = io.StringIO()
        run = run_local(spec, marshal_dir=str(tmp_path / "m"), stream=out)
    finally:
        os.chdir(cwd)
    assert run.succeeded and "[one] got 4\n" in out.getvalue()


def test_a_planted_pickle_with_a_matching_crc_is_refused_unread(tmp_path):
    folder = str(tmp_path)
    binding = RunBinding("run-a", b"k" * 32)
    marshal.save(folder, "v", {"ok": 1}, step="make", binding=binding)
    marker = tmp_path / "pwned"
    planted = pickle.dumps(eval_on_load(f"open({str(marker)!r}, 'w').close()"), protocol=5)
    data_path = tmp_path / "v.pkl"
    data_path.write_bytes(planted)
    meta_path = Path(marshal.meta_path(folder, "v"))
    meta = json.loads(meta_path.read_text())
    meta.pop("sha256", None)
    meta.pop("hmac", None)
    meta.update(bytes=len(planted), crc32=zlib.crc32(planted))
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(marshal.MarshalError, match=r"variable 'v'.*no authentication tag: refused"):
        marshal.load(folder, "v", step="use", binding=binding)
    meta["hmac"] = "0" * 64
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(marshal.MarshalError, match="a wrong authentication tag"):
        marshal.load(folder, "v", step="use", binding=binding)
    assert not marker.exists()


class eval_on_load:  # a planted object: unpickling it runs code
    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def test_changed_data_under_a_valid_tag_is_refused(tmp_path):
    folder = str(tmp_path)
    binding = RunBinding("run-a", b"k" * 32)
    meta = marshal.save(folder, "v", b"A" * 1000, step="make", binding=binding)
    assert "sha256" in meta and "hmac" in meta
    path = tmp_path / meta["file"]
    path.write_bytes(path.read_bytes().replace(b"AAAA", b"AAAB", 1))
    with pytest.raises(marshal.MarshalError, match="checksum mismatch"):
        marshal.load(folder, "v", step="use", binding=binding)


def test_a_second_cli_run_into_a_busy_marshal_dir_exits_2_with_a_hint(make_script, run_cli, tmp_path):
    script = make_script(TWO_STEPS, "stale.py")
    folder = tmp_path / "m"
    folder.mkdir()
    with claim_marshal_dir(str(folder)):
        proc = run_cli("run", script, "--marshal-dir", folder)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert "in use by another run" in line and "hint:" in line
    assert marshal.list_values(str(folder)) == []  # nothing ran


KILLED_MID_WRITE = '''
import os, time
from kale_argo import pipeline, step

@step(name="slow", timeout=1)
def slow(folder):
    with open(os.path.join(folder, ".x.pkl.0123456789ab.tmp"), "wb") as fh:  # as a save would
        fh.write(b"partial")
    print("writing", flush=True)
    time.sleep(60)
    return 1

@step(name="use")
def use(x):
    print(x)

@pipeline(name="midwrite")
def midwrite(folder=""):
    x = slow(folder)
    use(x)
'''


def test_no_temp_file_survives_a_step_killed_by_its_timeout(make_script, tmp_path):
    folder = tmp_path / "m"
    out = io.StringIO()
    with pytest.raises(RunFailed, match="'slow' failed"):
        run_local(trace(make_script(KILLED_MID_WRITE, "midwrite.py")), {"folder": str(folder)},
                  marshal_dir=str(folder), stream=out)
    assert "[slow] writing" in out.getvalue() and "timed out after 1s" in out.getvalue()
    assert [p.name for p in folder.rglob("*.tmp")] == []


def _checksums(folder: Path) -> set[str]:
    return {algorithm for meta in marshal.list_values(str(folder))
            for algorithm in ("crc32", "sha256", "blake3") if algorithm in meta}


@pytest.mark.parametrize("blake3_installed", [True, False])
def test_local_runs_checksum_with_blake3_when_installed_and_sha256_without(
        make_script, subprocess_env, tmp_path, blake3_installed):
    script = make_script(TWO_STEPS, "pipe.py")
    env = dict(subprocess_env)
    if not blake3_installed:  # every process of the run (CLI, server, steps) fails to import it
        shim = tmp_path / "shim"
        shim.mkdir()
        (shim / "blake3.py").write_text("raise ImportError('blake3 is not installed here')\n")
        env["PYTHONPATH"] = os.pathsep.join([str(shim), env["PYTHONPATH"]])
    folder = tmp_path / "m"
    done = subprocess.run([sys.executable, "-m", "kale_argo.cli.main", "run", str(script),
                           "--marshal-dir", str(folder), "-p", "version=v1"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "consumed value-from-v1" in done.stdout
    assert _checksums(folder) == {"blake3" if blake3_installed else "sha256"}
