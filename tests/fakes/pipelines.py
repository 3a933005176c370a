"""A small pipeline script the cluster tests submit (traced for real, compiled for real)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SCRIPT = '''
from kale_argo import pipeline, step

@step(name="load")
def load(n):
    return list(range(n))

@step(name="train")
def train(data, lr):
    return sum(data) * lr

@pipeline(name="demo-pipe", experiment="exp-one")
def demo(n=4, lr=0.5):
    train(load(n), lr)
'''


def demo_spec(tmp_path: Path) -> Any:
    """The traced PipelineSpec of :data:`SCRIPT` (written under ``tmp_path``)."""
    from kale_argo.sdk.loader import load_pipeline

    script = tmp_path / "demo_pipe.py"
    script.write_text(SCRIPT)
    return load_pipeline(str(script)).trace()


def demo_script(tmp_path: Path) -> str:
    script = tmp_path / "demo_pipe.py"
    script.write_text(SCRIPT)
    return str(script)
