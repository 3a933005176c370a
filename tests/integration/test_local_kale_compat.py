"""A Kale SDK script runs with only its import changed from kale.sdk to kale_argo."""

from __future__ import annotations

# The shape of Kale's own SDK skeleton (examples/sdk/skeleton.py in kubeflow-kale/kale), written
# against Kale's API; the test changes nothing but the import line.
KALE_SCRIPT = '''
from kale.sdk import pipeline, step


@step(name="my_step")
def foo(a):
    import sys
    sys.stdout.write(a)
    # return multiple values. These could be used by different subsequent pipeline steps.
    return "Some", "Data"


@step(name="second_step")
def foo2(b, c):
    print(b + c)


@step(name="third_step")
def foo3(b, c):
    print(b + c)


@pipeline(name="my-beautiful-pipeline",
          experiment="learning-the-kale-sdk")
def my_pipeline(parameter="input"):
    data1, data2 = foo(parameter)
    foo2(data1, parameter)
    foo3(data2, parameter)


if __name__ == "__main__":
    my_pipeline(parameter="test")
'''


def test_kale_skeleton_runs_unchanged(make_script, run_python, run_cli):
    text = KALE_SCRIPT.replace("from kale.sdk import pipeline, step", "from kale_argo import pipeline, step")
    assert text.count("\n") == KALE_SCRIPT.count("\n") and text != KALE_SCRIPT
    script = make_script(text, "skeleton.py")
    proc = run_python(script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in ("[my_step] test", "[second_step] Sometest", "[third_step] Datatest"):
        assert line in proc.stdout.splitlines()
    proc = run_cli("run", script, "-p", "parameter=cli")
    assert proc.returncode == 0 and "[third_step] Datacli" in proc.stdout.splitlines()
