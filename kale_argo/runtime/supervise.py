"""The step process supervises its worker: a step that ends early cannot pass for one that finished.

``python -m kale_argo.runtime`` forks: the child runs the step (:func:`kale_argo.runtime.step.run`),
the parent waits for it and then decides. A child that exits 0 without a record saying every
declared output was saved by this run (``os._exit(0)`` in the step, a killed interpreter) fails
the step, naming what is missing, on the local executor and in Argo pods alike. The parent is a
child subreaper (Linux), so processes the step started and detached (``fork`` + ``setsid``) stay
its descendants; they are ended when the step ends, and SIGTERM (a timeout, Ctrl-C, a pod being
deleted) is passed to the step and then ends the whole tree.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import time
from typing import Any

from .contract import StepCommand
from .record import missing_outputs, read_record, write_record

PR_SET_CHILD_SUBREAPER = 36
TERM_GRACE = 3.0  # seconds the step gets after SIGTERM before its tree is killed


@functools.lru_cache(maxsize=1)
def libc() -> Any:
    """The C library through ctypes (loaded once: a warm-start server loads it for its steps),
    or None where it cannot be loaded."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True)
    except (OSError, ImportError):
        return None


def become_subreaper() -> bool:
    """Make orphaned descendants of this process its children (Linux); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process, from /proc (empty where there is no /proc)."""
    parents = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return {}
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1:
            parents[int(name)] = int(fields[1])
    return parents


def descendants(pid: int) -> list[int]:
    """Every living descendant of ``pid`` (children first)."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def kill_tree(pid: int, *, include_self: bool = True, rounds: int = 3) -> None:
    """SIGKILL ``pid``'s process group, ``pid`` and all its descendants (a few sweeps, for
    processes forked while sweeping). A ``pid`` of 0 or less names no process (to the kernel it
    would mean this process's own group): nothing is killed."""
    if pid <= 0:
        return
    for _ in range(rounds):
        victims = descendants(pid)
        if include_self:
            victims.append(pid)
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        if not victims:
            return
        for victim in victims:
            with contextlib.suppress(OSError):
                os.kill(victim, signal.SIGKILL)


def _has_children() -> bool:
    try:
        os.waitpid(-1, os.WNOHANG)  # reaps at most one zombie; the sweep handles the rest
    except ChildProcessError:
        return False
    return True


def _reap_orphans() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def supervise(cmd: StepCommand, step: str, outputs: list[str], run_id: str | None) -> int:
    """Run the step in a forked child; returns the step's exit code after checking its record."""
    from .step import raise_terminated, run

    become_subreaper()
    started = time.time()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the worker
        code = 2
        try:
            signal.signal(signal.SIGTERM, raise_terminated)
            code = run(cmd)
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
    terminated: list[float] = []

    def forward(signum: int, frame: Any) -> None:
        terminated.append(time.monotonic())
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    status = _wait(pid, terminated)
    if _has_children():  # as a subreaper, every leftover descendant hangs below a child of ours
        kill_tree(os.getpid(), include_self=False)  # whatever the step left running ends with it
        _reap_orphans()
    return _outcome(cmd, step, outputs, run_id, status, started, bool(terminated))


def _wait(pid: int, terminated: list[float]) -> int:
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG if terminated else 0)
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
        if done:
            return status
        if terminated and time.monotonic() - terminated[0] > TERM_GRACE:
            kill_tree(pid)
            return os.waitpid(pid, 0)[1]
        time.sleep(0.02)


def _outcome(cmd: StepCommand, step: str, outputs: list[str], run_id: str | None, status: int,
             started: float, terminated: bool) -> int:
    code = os.waitstatus_to_exitcode(status)
    record = read_record(cmd.marshal_dir, step)
    fresh = record is not None and float(record.get("started") or 0) >= started - 1 and (
        run_id is None or record.get("run") == run_id)
    if code == 0:
        missing = missing_outputs(cmd.marshal_dir, outputs, run_id)
        if not missing and not (fresh and record is not None and record.get("status") != "succeeded"):
            return 0  # every output saved (a record the disk had no room for does not matter)
        error = (f"step {step!r} exited with status 0 before saving "
                 f"{', '.join(missing) or 'its record'} (hint: a step must return; os._exit() "
                 "or a killed interpreter ends it without its outputs)")
        code = 1
    elif fresh:
        return code
    elif code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        error = f"step {step!r} was killed by {name}" + (
            " (out of memory?)" if -code == signal.SIGKILL and not terminated else "")
        code = 128 - code
    else:
        error = f"step {step!r} ended with exit code {code} without a step record"
    print(f"kale-argo: {error}", file=sys.stderr)
    with contextlib.suppress(OSError):
        write_record(cmd.marshal_dir, step, status="failed", started=started, finished=time.time(),
                     outputs={}, error=error, run_id=run_id)
    if code > 128 and status and os.WIFSIGNALED(status):  # end as the worker did: same status
        sys.stderr.flush()
        with contextlib.suppress(OSError, ValueError):  # SIGKILL/SIGSTOP keep their default
            signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    return code
