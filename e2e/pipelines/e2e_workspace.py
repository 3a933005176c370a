"""e2e: run from a notebook pod's volume; reads a file and imports a module next to the script."""

from pathlib import Path

import e2e_helper

from kale_argo import pipeline, step


@step(name="read_workspace")
def read_workspace():
    import os

    text = (Path(__file__).resolve().parent / "data.txt").read_text().strip()
    print(f"E2E-WORKSPACE={e2e_helper.tag(text)} CWD={os.getcwd()}")


@pipeline(name="e2e-workspace", experiment="kale-e2e", marshal_volume_size="64Mi",
          volume_access_mode="rwo")
def e2e_workspace():
    read_workspace()


if __name__ == "__main__":
    e2e_workspace()
