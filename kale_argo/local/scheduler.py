"""The scheduler of a local run: one thread starts ready steps up to ``jobs`` at a time, streams
each child's output line by line (``[step] ...``) through a selector, starts dependents as soon as
their inputs exist, retries failed steps per their ``retry_count``, and kills steps past their
timeout. Like Argo's DAG ``failFast``, a failed step stops everything not yet started (marked
skipped) and lets running steps finish. A fan-out (``step.map``) becomes one process per element
when its inputs exist (at most its ``parallelism`` at once), and a step whose ``when`` does not hold
is skipped; as in Argo's DAGs, the dependents of a skipped step still run (steps reading a
conditional step's values are under its condition too, by construction), and a fan-out over an
empty list succeeds with no instances (its consumers get ``[]``).
"""

from __future__ import annotations

import contextlib
import heapq
import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Protocol, TextIO

from ..runtime.supervise import kill_tree
from .result import CANCELLED, FAILED, PENDING, RUNNING, SKIPPED, SUCCEEDED, StepResult

if TYPE_CHECKING:
    from ..spec import PipelineSpec, StepOptions, StepSpec

TAIL_LINES = 60           # output lines kept per step, shown again if it fails without a record
MAX_PARTIAL = 1 << 16     # a "line" longer than this is flushed without waiting for its newline
TERMINATE_GRACE = 5.0     # seconds between SIGTERM and SIGKILL when interrupted
# Terminal escape sequences (CSI, OSC, two-character ESC) and other control characters in a step's
# output: a step must not move the cursor, retitle or recolour the user's terminal.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -~]?"
                      r"|\x9b[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class StepProcess(Protocol):
    """What the scheduler uses of a started step: a :class:`subprocess.Popen`, or what a
    ``start`` function (warm starts, :mod:`.warm`) returns instead."""

    @property
    def pid(self) -> int: ...
    @property
    def stdout(self) -> IO[bytes] | None: ...
    @property
    def returncode(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...


#: ``start(argv, env)``: the step started, or None to start it as a new process.
StartStep = Callable[[Sequence[str], Mapping[str, str]], "StepProcess | None"]


class Flow(Protocol):
    """Decides conditions and expands fan-outs (:class:`kale_argo.local.flow.LocalFlow`); both
    raise an Exception with a one-line message when they cannot."""

    def condition(self, step: StepSpec) -> tuple[bool, str]: ...
    def instances(self, step: StepSpec) -> list[tuple[str, list[str]]]: ...


class _Child:
    """A running step: its process, start time and the unfinished last line of its output."""

    __slots__ = ("deadline", "partial", "proc", "result", "started")

    def __init__(self, result: StepResult, proc: StepProcess, timeout: float | None) -> None:
        self.result = result
        self.proc = proc
        self.started = time.monotonic()
        self.deadline = None if timeout is None else self.started + timeout
        self.partial = b""


class Scheduler:
    """Runs the steps of ``spec`` with at most ``jobs`` processes at once."""

    def __init__(self, spec: PipelineSpec, commands: dict[str, list[str]], jobs: int,
                 stream: TextIO, retries: bool = True, env: Mapping[str, str] | None = None,
                 check: Callable[[str, int], str | None] | None = None,
                 start: StartStep | None = None, flow: Flow | None = None,
                 kept: Collection[str] = ()) -> None:
        self.commands = commands
        self.kept = frozenset(kept)  # steps an earlier run in this folder finished (a resume)
        self.jobs = jobs
        self.stream = stream
        self.results = {s.name: StepResult(s.name) for s in spec.steps}
        self.specs = {s.name: s for s in spec.steps}
        self.flow = flow
        self.parent: dict[str, str] = {}  # fan-out instance -> its step
        self.left: dict[str, int] = {}  # fan-out step -> instances not yet succeeded
        self.active: dict[str, int] = {}  # fan-out step -> instances running
        self.index: dict[str, tuple[int, int]] = {s.name: (i, -1) for i, s in enumerate(spec.steps)}
        self.waiting = {s.name: set(s.depends) for s in spec.steps}
        self.dependents: dict[str, list[str]] = {s.name: [] for s in spec.steps}
        for s in spec.steps:
            for dep in s.depends:
                self.dependents[dep].append(s.name)
        self.ready = [(self.index[n], n) for n, deps in self.waiting.items() if not deps]
        heapq.heapify(self.ready)
        self.timeouts = {s.name: s.options.timeout for s in spec.steps}
        self.options = {s.name: s.options if retries else s.options.model_copy(update={"retry_count": 0})
                        for s in spec.steps}
        self.delayed: list[tuple[float, tuple[int, int], str]] = []  # retries waiting for backoff
        self.pipeline_timeout = spec.timeout
        self.deadline: float | None = None
        self.running: dict[int, _Child] = {}
        self.failed = False
        self.selector = selectors.DefaultSelector()
        self.env = step_environment(env)
        # check(step, returncode) after a step's processes ended: an error if it did not finish
        self.check = check
        self.start = start

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> None:
        """Run until every step finished or was skipped; Ctrl-C terminates the children. A step
        (or the pipeline) past its ``timeout`` is killed and fails, like Argo's activeDeadlineSeconds."""
        if self.pipeline_timeout is not None:
            self.deadline = time.monotonic() + self.pipeline_timeout
        try:
            while True:
                self._launch_ready()
                if not self.running and not self.delayed:
                    break
                for key, _ in self.selector.select(self._next_deadline()):
                    self._read(key.fd)
                self.stream.flush()
                self._enforce_deadlines()
        except BaseException:  # Ctrl-C, SIGTERM, or a step that could not start: leave no orphans
            self._terminate_all()
            raise
        finally:
            self.selector.close()
            for name, result in self.results.items():
                if result.status == PENDING:
                    result.status = SKIPPED
                elif result.status == RUNNING and name in self.left:  # a fan-out cut short
                    result.status = CANCELLED

    def _launch_ready(self) -> None:
        now = time.monotonic()
        while self.delayed and (self.failed or self.delayed[0][0] <= now):
            _, index, name = heapq.heappop(self.delayed)
            if self.failed:  # fail-fast: a retry not yet started stays failed
                self.results[name].status = FAILED
            else:
                heapq.heappush(self.ready, (index, name))
        held = []
        while self.ready and not self.failed and len(self.running) < self.jobs:
            _, name = heapq.heappop(self.ready)
            if name in self.kept:
                self.results[name].status, self.results[name].kept = SUCCEEDED, True
                self.stream.write(f"[{name}] kept from the earlier run\n")
                self._release(name)
                continue
            if name in self.specs and not self._begin(name):
                continue
            parent = self.parent.get(name)
            if parent is not None:
                limit = self.specs[parent].parallelism()
                if limit is not None and self.active[parent] >= limit:
                    held.append((self.index[name], name))
                    continue
                self.active[parent] += 1
            result = self.results[name]
            result.attempts += 1
            proc = self.start(self.commands[name], self.env) if self.start is not None else None
            if proc is None:
                proc = subprocess.Popen(self.commands[name], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env,
                                        start_new_session=True)
            assert proc.stdout is not None
            fd = proc.stdout.fileno()
            result.status = RUNNING
            self.stream.write(f"[{name}] started" + (f" (attempt {result.attempts})" if result.attempts > 1
                                                      else "") + "\n")
            self.running[fd] = _Child(result, proc, self.timeouts[name])
            self.selector.register(fd, selectors.EVENT_READ)
        for entry in held:
            heapq.heappush(self.ready, entry)

    def _begin(self, name: str) -> bool:
        """Whether the step ``name`` starts a process now: a step whose condition does not hold
        is skipped, a fan-out is replaced by its instances (none: skipped, as Argo does)."""
        spec = self.specs[name]
        if self.flow is None or (spec.when is None and spec.map_over is None):
            return True
        result = self.results[name]
        skipped = [d for d in spec.decided_by() if self.results[d].status == SKIPPED]
        if skipped:  # Argo: Omitted, its condition or list cannot be read
            result.status, result.error = SKIPPED, f"omitted: step {skipped[0]!r} was skipped"
            self.stream.write(f"[{name}] skipped: it depends on what skipped step {skipped[0]!r} "
                              "returns\n")
            self._release(name)
            return False
        try:
            if spec.when is not None:
                ok, text = self.flow.condition(spec)
                if not ok:
                    result.status, result.error = SKIPPED, f"condition false: {text}"
                    self.stream.write(f"[{name}] skipped: {text} is false\n")
                    self._release(name)
                    return False
            if spec.map_over is None:
                return True
            instances = self.flow.instances(spec)
        except Exception as exc:  # the condition or the list cannot be read: the step fails
            result.status, result.error, self.failed = FAILED, str(exc), True
            self.stream.write(f"[{name}] failed: {exc}\n")
            return False
        if not instances:  # Argo: a task group without children, Succeeded
            result.status, result.duration = SUCCEEDED, 0.0
            self.stream.write(f"[{name}] succeeded: no elements to fan out over\n")
            self._release(name)
            return False
        result.status, result.duration = RUNNING, 0.0
        self.left[name], self.active[name] = len(instances), 0
        self.stream.write(f"[{name}] fanning out over {len(instances)} elements"
                          + (f", {spec.parallelism()} at a time" if spec.parallelism() else "") + "\n")
        order = list(self.results.items())
        self.results.clear()  # the run's view of the steps: each instance after its fan-out
        for key, value in order:
            self.results[key] = value
            if key == name:
                self.results.update((instance, StepResult(instance)) for instance, _ in instances)
        for i, (instance, argv) in enumerate(instances):
            self.commands[instance] = argv
            self.parent[instance] = name
            self.index[instance] = (self.index[name][0], i)
            self.timeouts[instance] = self.timeouts[name]
            self.options[instance] = self.options[name]
            heapq.heappush(self.ready, (self.index[instance], instance))
        return False

    def _release(self, name: str) -> None:
        """``name`` is done (succeeded, or skipped): its dependents whose inputs all exist are ready."""
        for dependent in self.dependents[name]:
            deps = self.waiting[dependent]
            deps.discard(name)
            if not deps:
                heapq.heappush(self.ready, (self.index[dependent], dependent))

    def _read(self, fd: int) -> None:
        child = self.running[fd]
        chunk = os.read(fd, 1 << 16)
        if chunk:
            lines = (child.partial + chunk).split(b"\n")
            child.partial = lines.pop()
            if len(child.partial) > MAX_PARTIAL:
                lines.append(child.partial)
                child.partial = b""
            self._emit(child.result, lines)
            return
        if child.partial:
            self._emit(child.result, [child.partial])
        self.selector.unregister(fd)
        del self.running[fd]
        assert child.proc.stdout is not None
        child.proc.stdout.close()
        self._finished(child, child.proc.wait())

    def _retry(self, result: StepResult, options: StepOptions) -> None:
        """Start ``result``'s step again after Kale's backoff: retry_interval x retry_factor^(n-1),
        capped at retry_max_interval (no interval: at once), as Argo's retryStrategy does."""
        delay = (options.retry_interval or 0.0) * (options.retry_factor or 1.0) ** (result.attempts - 1)
        if options.retry_max_interval is not None:
            delay = min(delay, options.retry_max_interval)
        result.status, result.error = PENDING, None
        self.stream.write(f"[{result.name}] failed ({exit_text(result.returncode)}); "
                          f"retry {result.attempts} of {options.retry_count} in {delay:g}s\n")
        heapq.heappush(self.delayed, (time.monotonic() + delay, self.index[result.name], result.name))

    def _next_deadline(self) -> float | None:
        """Seconds until the nearest step or pipeline deadline (None: no deadline)."""
        deadlines = [c.deadline for c in self.running.values() if c.deadline is not None]
        if self.deadline is not None:
            deadlines.append(self.deadline)
        if self.delayed:
            deadlines.append(self.delayed[0][0])
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for child in self.running.values():
            if child.deadline is not None and now >= child.deadline:
                self._kill(child, f"step {child.result.name!r} timed out after "
                           f"{self.timeouts[child.result.name]:g}s (its timeout)")
        if self.deadline is not None and now >= self.deadline:
            self.deadline, self.failed = None, True
            for child in self.running.values():
                self._kill(child, f"the pipeline timed out after {self.pipeline_timeout:g}s")

    def _kill(self, child: _Child, reason: str) -> None:
        child.deadline = None
        child.result.error = reason
        self.stream.write(f"[{child.result.name}] {reason}: killed\n")
        kill_tree(child.proc.pid)  # detached grandchildren too: the pipe they hold closes

    def _emit(self, result: StepResult, lines: list[bytes]) -> None:
        prefix = f"[{result.name}] "
        texts = [printable(line.decode("utf-8", "replace")) for line in lines]
        self.stream.write("".join(f"{prefix}{t}\n" for t in texts))
        result.tail.extend(texts)
        del result.tail[:-TAIL_LINES]

    def _finished(self, child: _Child, returncode: int) -> None:
        result = child.result
        result.duration = (result.duration or 0.0) + time.monotonic() - child.started
        result.returncode = returncode
        problem = self.check(result.name, returncode) if self.check is not None else None
        if problem is not None and returncode == 0:
            result.error = problem
            self.stream.write(f"[{result.name}] {problem}\n")
        result.status = SUCCEEDED if returncode == 0 and problem is None else FAILED
        parent = self.parent.get(result.name)
        if parent is not None:
            self.active[parent] -= 1
            self.results[parent].duration = (self.results[parent].duration or 0.0) + (
                time.monotonic() - child.started)
        if result.status == FAILED:
            options = self.options[result.name]
            if result.attempts <= options.retry_count and not self.failed:
                self._retry(result, options)
            else:
                self.failed = True
                self.stream.write(f"[{result.name}] failed ({exit_text(returncode)}) after "
                                  f"{result.duration:.2f}s\n")
                if parent is not None:
                    self.results[parent].status = FAILED
                    self.results[parent].error = f"instance {result.name!r} failed"
            return
        self.stream.write(f"[{result.name}] succeeded in {result.duration:.2f}s\n")
        if parent is not None:
            self.left[parent] -= 1
            if self.left[parent]:
                return
            self.results[parent].status = SUCCEEDED
            self.stream.write(f"[{parent}] all {len([p for p in self.parent.values() if p == parent])} "
                              "instances succeeded\n")
            self._release(parent)
            return
        self._release(result.name)

    def _terminate_all(self) -> None:
        children = list(self.running.values())
        for child in children:
            _signal_group(child.proc, signal.SIGTERM)
        deadline = time.monotonic() + TERMINATE_GRACE
        for child in children:
            try:
                code = child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:  # also what it detached, if it could not end that
                kill_tree(child.proc.pid)
                code = child.proc.wait()
            if self.check is not None:
                self.check(child.result.name, code)
            assert child.proc.stdout is not None
            child.proc.stdout.close()
            child.result.status = CANCELLED
            child.result.returncode = code
            child.result.duration = time.monotonic() - child.started
        self.running.clear()


def step_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment steps run in: this process's, unbuffered output, and ``extra``."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", **(extra or {})}


def printable(text: str) -> str:
    """A line of a step's output as the terminal may show it: what follows its last carriage
    return (what a terminal would leave visible), without escape sequences or control characters."""
    text = text.rstrip("\r")
    return _ESCAPES.sub("", text[text.rfind("\r") + 1:])


def exit_text(returncode: int | None) -> str:
    """``"exit code 1"`` or ``"killed by signal 9"``."""
    code = returncode or 0
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


def _signal_group(proc: StepProcess, signum: int) -> None:
    if proc.pid <= 0:  # a warm start's step that never existed: never our own group (0)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signum)
