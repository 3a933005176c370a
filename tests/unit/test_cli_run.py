"""kale-argo run's arguments, Kale's script flags, python -m kale_argo, the summary table."""

from __future__ import annotations

import argparse
import os

import pytest

from kale_argo.__main__ import build_parser as module_parser
from kale_argo.app.compiling import compiled_path, write_atomic
from kale_argo.app.script import dispatch, script_mode
from kale_argo.cli.common import positive_int
from kale_argo.cli.main import build_parser
from kale_argo.errors import ConfigError
from kale_argo.local.result import LocalRun, StepResult
from kale_argo.local.rundir import create_marshal_dir
from kale_argo.local.summary import format_summary, human_bytes
from kale_argo.params import parameter_text


def test_run_arguments():
    args = build_parser().parse_args(["run", "s.py", "-p", "a=1", "--param", "b=x=y", "-j", "3",
                                      "--marshal-dir", "m", "--pipeline", "p"])
    assert (args.script, args.params, args.jobs, args.marshal_dir, args.pipeline) == (
        "s.py", ["a=1", "b=x=y"], 3, "m", "p")
    assert args.handler.__module__ == "kale_argo.cli.run" and args.retries is True
    assert build_parser().parse_args(["run", "s.py", "--no-retries"]).retries is False


@pytest.mark.parametrize("text", ["0", "-2", "two"])
def test_jobs_must_be_positive(text):
    with pytest.raises(argparse.ArgumentTypeError):
        positive_int(text)


@pytest.mark.parametrize("argv, mode", [
    ([], "run"), (["--kfp"], "submit"), (["-K"], "submit"), (["--argo"], "submit"),
    (["--dry-run"], "run"), (["--kfp", "--dry-run"], "compile"), (["-K", "-D"], "compile"),
])
def test_kale_script_flags(argv, mode):
    assert script_mode(argv) == (mode, False)
    assert script_mode([*argv, "--debug"]) == (mode, True)


def test_python_m_kale_argo_arguments():
    args = module_parser().parse_args(["s.py", "--kfp", "--dry-run", "-p", "n=2", "--debug"])
    assert args.kfp and args.dry_run and args.debug and args.params == ["n=2"]


def test_compiled_path_and_atomic_write(tmp_path):
    script = tmp_path / "my_pipe.py"
    assert compiled_path(str(script)) == str(tmp_path / "my_pipe.yaml")
    write_atomic(str(tmp_path / "out.yaml"), "a: 1\n")
    write_atomic(str(tmp_path / "out.yaml"), "a: 2\n")
    assert (tmp_path / "out.yaml").read_text() == "a: 2\n"
    assert os.listdir(tmp_path) == ["out.yaml"]


def test_dispatch_rejects_an_unknown_mode():
    with pytest.raises(ConfigError):
        dispatch(object(), {}, "deploy")


def test_param_text():
    assert [parameter_text(v) for v in (True, False, 3, 0.25, "a b")] == ["true", "false", "3", "0.25", "a b"]


def test_marshal_dir_creation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = create_marshal_dir("My Pipeline")
    second = create_marshal_dir("My Pipeline")
    assert first != second and os.path.basename(first).startswith("my-pipeline-")
    assert os.path.isdir(first) and os.path.dirname(first) == str(tmp_path / ".kale-runs")
    assert create_marshal_dir("p", "given") == str(tmp_path / "given")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="--marshal-dir"):
        create_marshal_dir("p", str(tmp_path / "file" / "sub"))


def test_summary_table():
    steps = {
        "load": StepResult("load", "succeeded", 1.234, 0, {"data": {"bytes": 2048}, "n": {"bytes": 5}}),
        "train": StepResult("train", "failed", 0.5, 1),
        "evaluate": StepResult("evaluate", "skipped"),
    }
    run = LocalRun("p", "/runs/p-1", {}, steps, duration=2.0)
    lines = format_summary(run).splitlines()
    assert lines[0].split() == ["step", "status", "duration", "outputs"]
    assert lines[1].split() == ["load", "succeeded", "1.23s", "data", "2.0", "KiB,", "n", "5", "B"]
    assert lines[2].split() == ["train", "failed", "0.50s", "-"]
    assert lines[3].split() == ["evaluate", "skipped", "-", "-"]
    assert lines[4] == "pipeline 'p': 1 succeeded, 1 failed, 1 skipped in 2.00s"
    assert lines[5] == "marshal dir: /runs/p-1"
    assert not run.succeeded and [s.name for s in run.failed_steps()] == ["train"]
    assert steps["load"].output_bytes == 2053


def test_human_bytes():
    assert [human_bytes(n) for n in (0, 1023, 1024, 5 * 2**20, 3 * 2**40)] == [
        "0 B", "1023 B", "1.0 KiB", "5.0 MiB", "3.0 TiB"]


def test_a_local_run_says_when_each_step_starts_and_finishes(call_cli, tmp_path):
    from tests.fakes.pipelines import demo_script

    proc = call_cli("run", demo_script(tmp_path), "--marshal-dir", str(tmp_path / "m"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    order = [next(i for i, line in enumerate(lines) if line.startswith(text))
             for text in ("[load] started", "[load] succeeded in ", "[train] started",
                          "[train] succeeded in ")]
    assert order == sorted(order), proc.stdout


def test_global_flags_in_any_position():
    for argv in (["-n", "ns1", "--debug", "get", "r"], ["get", "r", "-n", "ns1", "--debug"],
                 ["-v", "get", "-n", "ns1", "r", "--debug"]):
        args = build_parser().parse_args(argv)
        assert (args.namespace, args.debug, args.run) == ("ns1", True, "r"), argv
    args = build_parser().parse_args(["compile", "s.py", "-n", "kubeflow", "-q"])
    assert (args.namespace, args.quiet) == ("kubeflow", 1)
