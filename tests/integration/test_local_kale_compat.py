"""A Kale SDK script runs with only its import changed from kale.sdk to kale_argo."""

from __future__ import annotations


def test_kale_skeleton_runs_unchanged(kale_skeleton, make_script, run_python, run_cli):
    script = make_script(kale_skeleton, "skeleton.py")
    proc = run_python(script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in ("[my_step] test", "[second_step] Sometest", "[third_step] Datatest"):
        assert line in proc.stdout.splitlines()
    proc = run_cli("run", script, "-p", "parameter=cli")
    assert proc.returncode == 0 and "[third_step] Datacli" in proc.stdout.splitlines()
