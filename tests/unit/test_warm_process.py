"""A forked step as the executor sees it: its pid read when needed, then its exit code (``=N``, from
the step and from the server that reaps it: the first counts), and what the fork server loads once
for all its steps."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from kale_argo.local.scheduler import _signal_group
from kale_argo.local.warm import WarmProcess, WarmStarts


def _process(*lines: bytes, close: bool = True, read: bytes = b"") -> tuple[WarmProcess, int]:
    status_r, status_w = os.pipe()
    out_r, out_w = os.pipe()
    os.close(out_w)
    for line in lines:
        os.write(status_w, line)
    if close:
        os.close(status_w)
    proc = WarmProcess(os.fdopen(out_r, "rb"), os.fdopen(status_r, "rb", buffering=0), ["step"], read)
    return proc, status_w


def test_the_pid_then_the_exit_code_come_on_the_status_pipe():
    proc, _ = _process(b"4242\n", b"=-9\n")
    assert proc.pid == 4242
    assert proc.wait() == -9
    assert proc.returncode == -9


def test_wait_reads_the_pid_first_when_nobody_asked_for_it():
    proc, _ = _process(b"17\n=3\n")
    assert proc.wait() == 3
    assert proc.pid == 17


def test_the_first_of_the_steps_and_the_servers_exit_codes_counts():
    proc, _ = _process(b"17\n=0\n=0\n")
    assert (proc.wait(), proc.pid) == (0, 17)


def test_a_step_that_ends_without_a_pid_is_a_failure_and_no_process_to_signal():
    proc, _ = _process()
    assert proc.pid == 0
    assert proc.wait() == 1


@pytest.mark.parametrize("code", [b"=1\n", b"=0\n"])
def test_an_exit_code_before_any_pid_is_never_taken_for_a_pid(code):
    proc, _ = _process(code)  # the server reaped a step killed before it said its pid
    assert proc.pid == 0
    assert proc.wait() == 1


def test_a_status_line_that_is_not_an_exit_code_is_a_failure():
    proc, _ = _process(b"17\n", b"3\n")
    assert proc.pid == 17
    assert proc.wait() == 1


def test_the_exit_code_is_waited_for_with_a_timeout():
    proc, status_w = _process(b"99\n", close=False)
    assert proc.pid == 99
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=0.05)
    threading.Timer(0.05, lambda: (os.write(status_w, b"=0\n"), os.close(status_w))).start()
    assert proc.wait(timeout=5) == 0


def test_a_step_without_a_pid_never_signals_the_executors_own_process_group():
    got: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: got.append(signum))
    try:
        proc, _ = _process()
        _signal_group(proc, signal.SIGUSR1)  # os.killpg(0, ...) would be this process's group
        time.sleep(0.05)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert got == []


def test_the_fork_server_loads_once_what_every_step_would_load_again():
    code = ("import sys; from kale_argo.local import forkserver; forkserver._warm_runtime(False);"
            "from kale_argo.runtime import contract, supervise;"
            "print(all(m in sys.modules for m in ('ctypes', 'locale', 'argparse', 'blake3')),"
            " supervise.libc.cache_info().currsize, contract._parser.cache_info().currsize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # blake3: a dependency, as local steps' checksum; the step command's parser, built
    assert out.stdout.split() == ["True", "1", "1"]


def test_killing_the_tree_of_no_process_kills_nothing():
    code = "from kale_argo.runtime.supervise import kill_tree; kill_tree(0); print('alive')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         start_new_session=True, timeout=60)  # its own group: os.killpg(0) hits only it
    assert (out.returncode, out.stdout.strip()) == (0, "alive")


@pytest.mark.parametrize(("read", "status"), [
    (b"", b"17\n+=3\n"),  # the server's "+" after the step's pid
    (b"", b"17\n=3\n+"),  # ... after the step's exit code too
    (b"1", b"7\n=3\n"),  # the step's pid came first, its first byte read by the executor
])
def test_the_servers_taken_on_byte_may_come_in_any_order_with_the_steps_lines(read, status):
    proc, _ = _process(status, read=read)
    assert (proc.pid, proc.wait()) == (17, 3)


def test_a_step_whose_pid_comes_before_the_servers_taken_on_byte_is_started():
    warm = WarmStarts([], "script.py", io.StringIO())
    ours, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    warm.sock = ours

    def serve() -> None:  # the fork server, as the step's pid beats its "+" to the pipe
        _, fds, _, _ = socket.recv_fds(server, 1 << 20, 2)
        out, status = fds
        os.write(status, b"4242\n")
        os.write(status, b"+")
        os.write(status, b"=0\n")
        os.close(status)
        os.close(out)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        proc = warm._fork(["step"], {})
    finally:
        thread.join()
        server.close()
        ours.close()  # a stopped WarmStarts closed it already: closing again is harmless
    assert warm.stopped is None and proc is not None
    assert (proc.pid, proc.wait()) == (4242, 0)
