"""e2e: a step that outlives the test, to check terminate."""

from kale_argo import pipeline, step


@step(name="nap")
def nap(seconds):
    import time

    print("napping", flush=True)
    time.sleep(seconds)


@pipeline(name="e2e-sleep", experiment="kale-e2e", marshal_volume_size="64Mi", volume_access_mode="rwo")
def e2e_sleep(seconds=900):
    nap(seconds)


if __name__ == "__main__":
    e2e_sleep(seconds=1)
