"""e2e: a pipeline whose second step raises, to check the failed step and its log tail."""

from kale_argo import pipeline, step


@step(name="prepare")
def prepare():
    print("prepared")
    return 7


@step(name="explode")
def explode(value):
    print("about to fail")
    raise ValueError(f"E2E-BOOM: cannot use {value}")


@pipeline(name="e2e-fail", experiment="kale-e2e", marshal_volume_size="64Mi", volume_access_mode="rwo")
def e2e_fail():
    explode(prepare())


if __name__ == "__main__":
    e2e_fail()
