"""A value slow to save or load gets a progress line (then its size and duration) in the step's
output; quick ones stay quiet."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = '''
import time
from kale_argo import pipeline, step

class Slow:
    """Takes a while to pickle and to unpickle, like a large model."""
    def __init__(self, payload):
        self.payload = payload
    def __getstate__(self):
        time.sleep(1.3)
        return {"payload": self.payload}
    def __setstate__(self, state):
        time.sleep(1.3)
        self.payload = state["payload"]

@step(name="make")
def make():
    return Slow(b"x" * 300_000), 7

@step(name="use")
def use(slow, quick):
    print("payload", len(slow.payload), quick)

@pipeline(name="slow-values")
def slow_values():
    slow, quick = make()
    use(slow, quick)
'''


def test_slow_saves_and_loads_are_reported_with_their_size(tmp_path: Path) -> None:
    script = tmp_path / "slow.py"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, "-m", "kale_argo.cli.main", "run", str(script), "--marshal-dir",
                           str(tmp_path / "runs")], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text
    assert "[make] saving 'slow'...\n" in text
    assert re.search(r"\[make\] saved 'slow' \(29\d\.\d KiB\) in 1\.\ds\n", text), text
    assert "[use] loading 'slow'...\n" in text
    assert re.search(r"\[use\] loaded 'slow' \(29\d\.\d KiB\) in 1\.\ds\n", text), text
    assert "[use] payload 300000 7" in text
    assert "'quick'" not in text  # a quick value is not reported
