"""Warm starts: a local run's steps forked from a server that imported their libraries once.

A step's process spends most of a small step importing numpy, scikit-learn, pandas... which every
step of a run imports again. With warm starts (the default on Linux) the run starts one fork server
(:mod:`.forkserver`) that imports the step runtime and the libraries the script and its modules
import, then forks each step's process from that state. Each step still runs in a process of its
own, started from the same step-runtime argv (only a command :func:`.forkserver.accepts` is
forked; anything else starts as a new process), in a session of its own, supervised as in a pod;
the libraries' module state is the one they had just after import, in every step, whatever an
earlier step changed. The script itself and the modules beside it are not preloaded: their
top-level code runs in each step, as in a pod.

Why a fork server and not threads or one interpreter for all steps (Kale's in-process way): a
step must not see another's globals, nor take the run down when it crashes; and why per run: a
long-lived server would serve stale code after an upgrade. When forking is not safe the run falls
back to new processes: off Linux (macOS' system frameworks do not survive a fork), when a thread
the server cannot vet runs (see :func:`.forkserver.unsafe_thread`; the module that started it is
left out of the preload, said in one line), and from the moment the server ends unexpectedly.

``kale-argo run``, ``python SCRIPT``, ``python -m kale_argo SCRIPT`` and ``Pipeline.run()`` start
the server before they import the IR and trace the script (:func:`prestart`; this module stays
light to import for that): the server imports the libraries while the command imports its own and
the script's, on two CPUs. If tracing changed the environment beyond what the libraries set
themselves (the script set ``OMP_NUM_THREADS``, say), that server is replaced by one started under
the steps' environment.

Off with ``--no-warm-start``, ``Pipeline.run(warm_start=False)`` or ``KALE_ARGO_WARM_START=0``.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, TextIO

from ..errors import ConfigError
from ..runtime.marshal.binding import CHECKSUM_ENV, KEY_FILE_ENV, RUN_ID_ENV
from . import forkserver
from .forkserver import SERVER_BOOTSTRAP, accepts, folder_names

if TYPE_CHECKING:
    from ..spec import PipelineSpec

ENV_VAR = "KALE_ARGO_WARM_START"
READY_TIMEOUT = 120.0   # seconds the server may take to import the libraries
REPLY_TIMEOUT = 60.0    # seconds the server may take to take a step on (the step's first byte)
CHECK_TIMEOUT = 10.0    # seconds a kept server may take to check the files it loaded
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_NOT_PRELOADED = frozenset({"kale_argo", "__future__", "__main__"})
_PER_RUN = (RUN_ID_ENV, KEY_FILE_ENV, CHECKSUM_ENV)  # set per request, not in the server's own


def server_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment the server imports in for steps of environment ``env``: ``env`` without
    what each run sets (its id, its key file, its checksum), which every forked step gets with its
    request."""
    return {k: v for k, v in env.items() if k not in _PER_RUN}


def warm_start_wanted(option: bool | None, environ: Mapping[str, str] | None = None) -> bool:
    """``option`` if given, else ``KALE_ARGO_WARM_START`` (default on); always off where fork
    is not safe to rely on (not Linux). A ConfigError for a value that is neither on nor off."""
    if option is None:
        text = (os.environ if environ is None else environ).get(ENV_VAR, "").strip().lower()
        if text and text not in _TRUE + _FALSE:
            raise ConfigError(f"{text!r} is neither on nor off", where=ENV_VAR,
                              hint=f"{ENV_VAR}=0 starts every step as a new process, 1 forks them")
        option = text not in _FALSE
    return option and sys.platform.startswith("linux") and hasattr(os, "fork")


def readable(source: IO[bytes] | socket.socket, timeout: float | None) -> bool:
    """Whether ``source`` has data (or its end) within ``timeout`` seconds (None: wait); poll(2),
    which, unlike select(2), takes descriptors past 1024 (a notebook kernel may hold many)."""
    poller = select.poll()
    poller.register(source.fileno(), select.POLLIN)
    return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000))))


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_imports(source: str | bytes) -> dict[str, list[str]]:
    """Absolute imports anywhere in ``source`` (step functions too, not under ``if TYPE_CHECKING``):
    module -> the names imported from it, in order of first appearance."""
    found: dict[str, list[str]] = {}

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            children = node.orelse if _type_checking(node.test) else [node.test, *node.body, *node.orelse]
            for child in children:
                self.visit(child)

        def visit_Import(self, node: ast.Import) -> None:
            for alias in node.names:
                found.setdefault(alias.name, [])

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level == 0 and node.module:
                names = found.setdefault(node.module, [])
                names.extend(a.name for a in node.names if a.name != "*" and a.name not in names)

    with contextlib.suppress(SyntaxError, ValueError):
        Visitor().visit(ast.parse(source))
    return found


def preload_list(spec: PipelineSpec) -> list[list[object]]:
    """``[module, [names]]`` for each library the script and its modules import: not kale_argo,
    not the script's own modules (nor any name a file or folder beside the script provides)."""
    return script_preload(spec.script.path, spec.script.modules)


def script_preload(script: str, modules: Iterable[str], text: bytes | None = None) -> list[list[object]]:
    """:func:`preload_list` of the script at ``script`` whose local modules are ``modules``
    (paths relative to its folder); ``text``: the script's source, where the file is not written yet."""
    from ..runtime.modules import read_source

    folder = os.path.dirname(os.path.abspath(script))
    local = folder_names(folder)
    found: dict[str, list[str]] = {}
    for path in [script, *(os.path.join(folder, m) for m in modules)]:
        source = read_source(path, text if path == script else None)
        if source is None:
            continue
        for module, names in module_imports(source).items():
            top = module.partition(".")[0]
            if top not in _NOT_PRELOADED and top not in local:
                known = found.setdefault(module, [])
                known.extend(n for n in names if n not in known)
    return [[module, names] for module, names in found.items()]


class WarmProcess:
    """A step forked by the server: what the scheduler uses of a :class:`subprocess.Popen`.

    The executor does not wait for the step to exist: ``status`` carries its pid (once its
    session exists) and then its exit code (``=N``, from the step and from the server that
    reaps it: the first counts); :attr:`pid` reads the first when asked (to signal the step),
    :meth:`wait` both. The server's ``+`` (one byte, written at once: never inside another's
    line) may come before, between or after them, and is skipped. ``read``: what was read of
    ``status`` already."""

    def __init__(self, stdout: IO[bytes], status: IO[bytes], argv: Sequence[str], read: bytes = b"") -> None:
        self.stdout: IO[bytes] | None = stdout
        self.returncode: int | None = None
        self._pid: int | None = None
        self._status = status
        self._buffer = read
        self._argv = list(argv)

    def _line(self, timeout: float | None) -> bytes | None:
        """The next status line (b"" at its end), or None if none came within ``timeout``."""
        while b"\n" not in self._buffer:
            if not readable(self._status, timeout):
                return None
            chunk = self._status.read(64)
            if not chunk:
                line, self._buffer = self._buffer, b""
                return line
            self._buffer += chunk.replace(b"+", b"")  # the server's word: in no line
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    @property
    def pid(self) -> int:
        """The step's pid (its process group's id too); 0 if it ended without saying it."""
        if self._pid is None:
            line = self._line(REPLY_TIMEOUT)
            self._pid = int(line) if line and line.strip().isdigit() else 0
        return self._pid

    def wait(self, timeout: float | None = None) -> int:
        """The exit code reported (-N: killed by signal N); 1 if none came (the step and the
        server both ended without one) or the step ended before its pid."""
        if self.returncode is None:
            if self._pid is None:
                if not readable(self._status, timeout):
                    raise subprocess.TimeoutExpired(self._argv, timeout or 0.0)
                self.pid  # noqa: B018 - reads the pid line first
            line = self._line(timeout)
            if line is None:
                raise subprocess.TimeoutExpired(self._argv, timeout or 0.0)
            self._status.close()
            text = line.decode("ascii", "replace").strip()
            code = text[1:] if text.startswith("=") else ""
            self.returncode = int(code) if self._pid and code.lstrip("-").isdigit() else 1
        return self.returncode


class WarmStarts:
    """Starts the steps of one run from a fork server, started with the first step.

    :meth:`start` returns None where the step must start as a new process instead (not a step
    command, another environment, no server); :meth:`close` ends the server."""

    def __init__(self, preload: list[list[object]], script: str, stream: TextIO) -> None:
        self.preload = preload
        self.script = script
        self.stream = stream
        self.server: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self.env: dict[str, str] | None = None
        self.loaded_env: dict[str, str] | None = None  # the server's, once it imported the libraries
        # started before the steps' environment was known (:meth:`spawn`, or for an earlier run):
        # started again if the steps' environment is not the one it imported in
        self.early = False
        self.python: str | None = None
        self.cwd: str | None = None
        self.stopped: str | None = None  # why steps start cold from now on
        self.ready = False
        self._log: IO[bytes] | None = None
        self._log_shown = 0

    def spawn(self, python: str, env: Mapping[str, str]) -> None:
        """Start the server now, to import the libraries while the caller goes on (traces the
        script); the first :meth:`start` waits until it is ready, and starts it again if the
        steps' environment is not the one it imported in."""
        if self.server is None and self.stopped is None:
            self._spawn(python, server_env(env))
            self.early = True

    def _serves(self, python: str, env: dict[str, str]) -> bool:
        """Whether the server imported its libraries under ``env``: the one it started with, or
        the one it had after importing them (libraries set variables such as KMP_INIT_AT_FORK, as
        they did in the process that traced the script)."""
        return python == self.python and env in (self.env, self.loaded_env)

    def _end_server(self) -> None:
        """End the server, to start another."""
        self.close()
        self.server, self.ready, self.loaded_env, self.early = None, False, None, False

    def start(self, argv: Sequence[str], env: Mapping[str, str]) -> WarmProcess | None:
        """Fork the step ``argv`` with ``env``; None: start it as a new process."""
        if self.stopped is not None or not accepts(argv, argv[0]):
            return None
        wanted = server_env(env)
        if self.server is None:
            self._spawn(argv[0], wanted)
        if not self.ready and self.sock is not None:
            self._await_ready()
        if self.sock is not None and not self._serves(argv[0], wanted) and self.early:
            # started before the script was traced, which changed the environment (it set
            # OMP_NUM_THREADS, say), or for an earlier run: the libraries must be imported under
            # the steps' environment
            self._end_server()
            self._spawn(argv[0], wanted)
            self._await_ready()
        if self.sock is None or not self._serves(argv[0], wanted):
            return None
        try:
            return self._fork(argv, env)
        except (OSError, ValueError) as exc:
            self._stop(f"the fork server stopped answering ({exc})")
            return None

    def _spawn(self, python: str, env: dict[str, str]) -> None:
        try:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except OSError as exc:
            self._stop(f"the fork server could not start ({exc.strerror or exc})")
            return
        config = {"socket": theirs.fileno(), "preload": self.preload, "script": self.script}
        argv = [python, "-c", SERVER_BOOTSTRAP.format(path=forkserver.__file__), json.dumps(config)]
        try:
            self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
            self.server = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                           stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                           pass_fds=(theirs.fileno(),))
        except OSError as exc:
            ours.close()
            self._stop(f"the fork server could not start ({exc.strerror or exc})")
            return
        finally:
            theirs.close()
        self.sock, self.env, self.python, self.cwd = ours, env, python, os.getcwd()

    @property
    def serving(self) -> bool:
        """Ready and still answering: not stopped or closed, its process alive."""
        return (self.ready and self.stopped is None and self.sock is not None
                and self.server is not None and self.server.poll() is None)

    def may_serve(self, preload: list[list[object]], script: str) -> bool:
        """Whether this server may serve a run of ``script`` that preloads ``preload``: the same
        script and libraries, not stopped; one that served a run already must still be serving,
        from the same working directory, and (its own check) must have seen no file it loaded
        change since (a library upgraded) and no name it loaded appear in the script's folder."""
        if (self.stopped is not None or self.preload != preload
                or os.path.realpath(self.script) != os.path.realpath(script)):
            return False
        if not self.ready:
            return True
        if not self.serving or self.cwd != os.getcwd():
            return False
        assert self.sock is not None  # serving
        try:
            self.sock.send(json.dumps({"check": os.path.dirname(os.path.abspath(script))}).encode())
        except OSError:
            return False
        return self._receive(CHECK_TIMEOUT).get("fresh") is True

    def _await_ready(self) -> None:
        reply = self._receive(READY_TIMEOUT)
        self._show_log()
        if not reply.get("ready"):
            self._stop(str(reply.get("error") or "the fork server ended before it was ready"))
            return
        self.ready = True
        loaded = reply.get("env")
        self.loaded_env = server_env(loaded) if isinstance(loaded, dict) else None
        left_out = reply.get("left_out")
        if isinstance(left_out, dict) and left_out:
            self.stream.write("kale-argo: not preloaded for warm starts (each step imports them itself): "
                              + "; ".join(f"{m} ({why})" for m, why in left_out.items()) + "\n")

    def _receive(self, timeout: float) -> dict[str, object]:
        assert self.sock is not None
        if not readable(self.sock, timeout):
            return {"error": f"the fork server was not ready after {timeout:g}s"}
        try:
            data = self.sock.recv(1 << 20)
            reply = json.loads(data) if data else {}
        except (OSError, ValueError):
            reply = {}
        return reply if isinstance(reply, dict) else {}

    def _fork(self, argv: Sequence[str], env: Mapping[str, str]) -> WarmProcess | None:
        assert self.sock is not None
        out_r, out_w = os.pipe()
        status_r, status_w = os.pipe()
        request = json.dumps({"argv": list(argv), "env": dict(env), "cwd": os.getcwd()}).encode()
        try:
            socket.send_fds(self.sock, [request], [out_w, status_w])
        except OSError:
            os.close(out_r)
            os.close(status_r)
            raise
        finally:
            os.close(out_w)
            os.close(status_w)
        status = os.fdopen(status_r, "rb", buffering=0)
        stdout = os.fdopen(out_r, "rb")
        # The server's "+" (or the step's pid, which may come first) says it was forked;
        # unanswered, closing the pipe makes a late step give up before it runs (EPIPE on its pid),
        # so it never runs twice. The pid is not waited for here: the next step starts meanwhile.
        first = status.read(1) if readable(status, REPLY_TIMEOUT) else b""
        if not (first == b"+" or first.isdigit()):  # the server could not
            status.close()
            stdout.close()
            self._show_log()
            self._stop("the fork server ended" if self.server and self.server.poll() is not None
                       else "the fork server could not fork a step")
            return None
        return WarmProcess(stdout, status, argv, first.lstrip(b"+"))

    def _show_log(self) -> None:
        """What the server printed since last shown (warnings from the libraries it imported)."""
        if self._log is None:
            return
        self._log.seek(self._log_shown)
        data = self._log.read()
        self._log_shown += len(data)
        for line in data.decode("utf-8", "replace").splitlines():
            if line.strip():
                self.stream.write(f"(warm start) {line}\n")

    def _stop(self, why: str) -> None:
        if self.stopped is None:
            self.stopped = why
            self.stream.write(f"kale-argo: {why}; steps start as new processes from now on\n")
        self.close()

    def close(self) -> None:
        """End the server (running steps are not its: they go on); one still importing is killed."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.server is not None and self.server.poll() is None:
            if not self.ready:  # it reads the socket only once ready
                self.server.kill()
            try:
                self.server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        if self._log is not None:
            self._show_log()
            self._log.close()
            self._log = None


def warm_starts(spec: PipelineSpec, stream: TextIO, option: bool | None,
                started: WarmStarts | None = None) -> WarmStarts | None:
    """The run's warm starts, or None when they are off (see :func:`warm_start_wanted`).
    ``started``: a server :func:`prestart` started for this script; else the server this process
    kept from its last run (:func:`keep`). Either is used if it may serve this run
    (:meth:`WarmStarts.may_serve`), else ended."""
    candidates = [c for c in (started, _take_kept()) if c is not None]
    chosen = None
    if warm_start_wanted(option):
        preload = preload_list(spec)
        chosen = next((c for c in candidates if c.may_serve(preload, spec.script.path)), None)
        if chosen is None:
            chosen = WarmStarts(preload, spec.script.path, stream)
    for other in candidates:
        if other is not chosen:
            other.close()
    if chosen is not None:
        chosen.stream = stream
        chosen.early = chosen.early or chosen.ready  # a kept one imported under an earlier run's environment
    return chosen


_kept: WarmStarts | None = None  # the server of this process's last run, for its next one
_kept_lock = threading.Lock()


def keep(warm: WarmStarts) -> None:
    """After a run: keep its server for this process's next run (a notebook's next
    ``Pipeline.run()`` then skips the imports), ending the one kept before; end it instead if it
    stopped serving. At most one is kept; it ends when the process exits, or with
    :func:`end_kept_server`."""
    global _kept
    serving = warm.serving
    with _kept_lock:
        previous, _kept = _kept, (warm if serving else None)
    if previous is not None and previous is not warm:
        previous.close()
    if not serving:
        warm.close()


def _take_kept() -> WarmStarts | None:
    global _kept
    with _kept_lock:
        kept, _kept = _kept, None
    return kept


def kept_for(script: str) -> bool:
    """Whether this process kept a server from a run of the script at ``script``."""
    with _kept_lock:
        kept = _kept
    return kept is not None and os.path.realpath(kept.script) == os.path.realpath(script)


def release(warm: WarmStarts) -> None:
    """End a server :func:`prestart` started, unless a run kept it for this process's next run."""
    with _kept_lock:
        kept = _kept is warm
    if not kept:
        warm.close()


def end_kept_server() -> None:
    """End the fork server this process kept from its last run, if any (its memory is freed)."""
    kept = _take_kept()
    if kept is not None:
        kept.close()


atexit.register(end_kept_server)


def prestart(script: str, stream: TextIO, option: bool | None, python: str,
             env: Mapping[str, str], text: bytes | None = None) -> WarmStarts | None:
    """Start the fork server for the script at ``script`` before it is traced, so that the server
    imports its libraries while the caller imports them to trace it (two CPUs: about one import
    time instead of two). None when warm starts are off, or when this process kept a server from a
    run of the same script (:func:`warm_starts` reuses it if it may serve). Pass it to
    :func:`warm_starts`, then to :func:`release`. ``text``: the script's source, where its file is
    not written yet (the module of a pipeline defined in a notebook's cells)."""
    path = os.path.abspath(script)
    if not warm_start_wanted(option) or kept_for(path):
        return None
    from ..runtime.modules import local_modules

    warm = WarmStarts(script_preload(path, local_modules(path, text), text), path, stream)
    warm.spawn(python, env)
    return warm
