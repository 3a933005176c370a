"""A step killed (SIGKILL) while writing a value leaves nothing that a later step could load."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from kale_argo.local.rundir import claim_marshal_dir
from kale_argo.runtime import marshal

WRITER = textwrap.dedent('''
    import signal, sys, time
    from kale_argo.runtime import marshal
    from kale_argo.runtime.step import raise_terminated

    signal.signal(signal.SIGTERM, raise_terminated)  # as the step runtime does

    class Slow:
        pass

    class SlowCodec(marshal.Codec):
        name = "slow"
        suffix = ".slow"

        def claims(self, value):
            return isinstance(value, Slow)

        def dump(self, value, out):
            out.write(b"x" * 4096)
            print("writing", flush=True)
            time.sleep(60)

    marshal.register_codec(SlowCodec)
    marshal.save(sys.argv[1], "old", [1, 2, 3])
    marshal.save(sys.argv[1], "v", [1])
    marshal.save(sys.argv[1], "v", Slow(), step="producer")
''')


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_write(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert [m["key"] for m in marshal.list_values(str(tmp_path))] == ["old"]
    with pytest.raises(marshal.MarshalError, match=r"variable 'v'.*no such value"):
        marshal.load(str(tmp_path), "v", step="consumer")
    assert marshal.load(str(tmp_path), "old") == [1, 2, 3]
    # SIGKILL gives the writer no chance to clean up: the next run's start removes its leftovers
    with claim_marshal_dir(str(tmp_path)):
        assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []
    assert marshal.load(str(tmp_path), "old") == [1, 2, 3]


def test_sigterm_mid_write_leaves_no_temp_file(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode != 0
    assert [n for n in os.listdir(tmp_path) if n.endswith(".tmp")] == []
    assert [m["key"] for m in marshal.list_values(str(tmp_path))] == ["old"]
