"""Run a traced pipeline's DAG on this machine, each step in its own process.

Every step runs exactly :func:`kale_argo.runtime.contract.step_argv` (the command every Argo pod
runs), so a local run rehearses a cluster run. :mod:`.scheduler` runs the steps; this module
prepares the run (parameters, marshal folder, commands) and reports it (tracebacks, summary).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

from ..errors import ConfigError, RunFailed
from ..params import parameter_text
from ..runtime.contract import step_argv
from ..runtime.marshal.binding import CHECKSUM_ENV, KEY_FILE_ENV, RUN_ID_ENV
from ..runtime.marshal.files import best_keyed, remove_temp_files, write_bytes_atomic, write_json_atomic
from ..runtime.record import missing_outputs, read_record
from ..spec import PipelineSpec
from .flow import LocalFlow, stored_keys
from .packages import check_packages
from .result import FAILED, SKIPPED, SUCCEEDED, LocalRun, StepResult
from .resume import PARAMS_FILE, kept_steps
from .rundir import RunFolder, cache_dir, claim_marshal_dir, create_marshal_dir, earlier_run
from .scheduler import Scheduler, exit_text
from .summary import format_summary
from .warm import WarmStarts, keep, warm_starts


def step_commands(spec: PipelineSpec, values: Mapping[str, Any], marshal_dir: str,
                  python: str | None = None, cache_dir: str | None = None) -> dict[str, list[str]]:
    """Each step's argv, as the local executor runs it (``cache_dir``: the step cache)."""
    types = spec.param_types()
    return {
        s.name: step_argv(python=python or sys.executable, script=spec.script.path,
                          marshal_dir=marshal_dir, call=s.runtime_call(types),
                          params={p: parameter_text(values[p]) for p in s.parameters_used()},
                          cache_dir=cache_dir)
        for s in spec.steps
    }


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _collect_records(run: LocalRun, spec: PipelineSpec) -> None:
    for result in run.steps.values():
        if result.status not in (SUCCEEDED, FAILED):
            continue
        record = read_record(run.marshal_dir, result.name) or {}
        outputs = record.get("outputs")
        if isinstance(outputs, dict):
            result.outputs = {k: outputs[k] for k in stored_keys(spec, result.name)
                              if isinstance(outputs.get(k), dict)}
        if isinstance(record.get("cached"), (int, float)) and record.get("run") == run.run_id:
            result.cached = float(record["cached"])
        if record.get("error") and not result.error:
            result.error = str(record["error"])


def fallback_notes(run: LocalRun) -> list[str]:
    """One line per stored DataFrame some of whose columns were pickled because Arrow cannot hold
    them exactly (read from the values' metadata)."""
    from ..runtime.marshal import describe

    notes = []
    for result in run.steps.values():
        for key in result.outputs:
            try:
                meta = describe(run.marshal_dir, key) or {}
            except Exception:  # an unreadable value is reported elsewhere
                continue
            if meta.get("fallback") and meta.get("step") == result.name:
                notes.append(f"step {result.name!r}, variable {key!r}: columns pickled, not Arrow "
                             f"(Arrow cannot hold them exactly): {', '.join(meta['fallback'])}")
    return notes


def _failure_report(result: StepResult) -> str:
    """Why the step failed, in a line or two: its traceback was streamed above (prefixed with the
    step's name), so only the exception it ended with is repeated, else its last lines."""
    lines = [line for line in result.tail if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if starts:
        text = f"{lines[-1].strip()}\n(the traceback is above, prefixed [{result.name}])"
    else:
        text = "\n".join(lines[-5:]) or "(no output)"
    if result.error and result.error not in text:
        text += f"\n{result.error}"
    return f"---- step {result.name!r} failed ({exit_text(result.returncode)}) ----\n{text.rstrip()}\n"


def _checker(spec: PipelineSpec, run: RunFolder) -> Any:
    def check(step: str, returncode: int) -> str | None:
        """After a step's processes ended: remove its interrupted writes; if it exited 0, the
        error that makes it failed anyway (outputs or record not saved by this run), else None."""
        keys = stored_keys(spec, step)
        remove_temp_files(run.path, tuple(keys))
        if returncode != 0:
            return None
        missing = missing_outputs(run.path, keys, run.run_id)
        record = read_record(run.path, step) or {}
        if missing:
            return (f"step {step!r} exited 0 without saving {', '.join(missing)} in this run "
                    "(hint: a step must return its values; os._exit() ends it without them)")
        if record and (record.get("run") != run.run_id or record.get("status") != "succeeded"):
            return f"step {step!r} exited 0 but its record says {record.get('status')!r}"
        return None

    return check


def _write_spec(spec: PipelineSpec, marshal_dir: str) -> None:
    """The run's pipeline, as its canonical JSON (written as is: re-encoding it indented would
    take the pure-Python encoder, 0.6 ms for 16 steps, the to_json 0.2 ms)."""
    write_bytes_atomic(os.path.join(marshal_dir, ".kale", "pipeline.json"), spec.to_json().encode(),
                       sync=False)


def run_local(spec: PipelineSpec, params: Mapping[str, Any] | None = None, *, jobs: int | None = None,
              marshal_dir: str | None = None, stream: TextIO | None = None,
              retries: bool = True, warm_start: bool | None = None, cache: bool = True,
              resume: str | None = None, server: WarmStarts | None = None) -> LocalRun:
    """Run ``spec`` on this machine: each step in its own process, independent steps in parallel.

    ``params`` override the pipeline's defaults (values or CLI strings); ``jobs`` caps concurrent
    steps (default: the number of CPUs); ``marshal_dir`` defaults to a fresh
    ``./.kale-runs/<pipeline>-<timestamp>/``. Returns the :class:`LocalRun`; raises
    :class:`RunFailed` (with ``.run``) if a step failed, after printing its traceback and the
    summary. Ctrl-C terminates the running steps and re-raises KeyboardInterrupt. Progress goes to
    ``stream`` (default: the current ``sys.stdout``). Failed steps are retried as their
    ``retry_count`` says unless ``retries`` is False; step and pipeline timeouts apply. Steps are
    forked from a per-run server that imported their libraries once unless ``warm_start`` is False
    (None: ``KALE_ARGO_WARM_START``, default on; see :mod:`.warm`). Unless ``cache`` is False,
    steps whose code, inputs and parameters are unchanged reuse earlier outputs from the step
    cache in ``.kale-runs/.cache/`` (:func:`.rundir.cache_dir`, :mod:`kale_argo.runtime.cache`).
    ``resume``: the marshal folder of an earlier run to finish, rerunning only the steps that did not succeed
    there or whose values fail verification (:mod:`.resume`). ``server``: a fork server
    :func:`.warm.prestart` started for the script while it was traced. The run's fork server is
    kept for this process's next run (:func:`.warm.keep`).
    """
    warm = None
    try:
        stream = stream if stream is not None else sys.stdout
        values = spec.resolve_parameters(dict(params or {}))
        check_packages(spec)
        if jobs is None:
            jobs = os.cpu_count() or 1
        if jobs < 1:
            raise ConfigError(f"--jobs must be at least 1, got {jobs}", where="--jobs")
        # a bad setting fails before any folder is made
        warm = warm_starts(spec, stream, warm_start, server)
        return _start(spec, values, jobs, marshal_dir, stream, retries, warm, cache, resume)
    finally:
        if server is not None and server is not warm:
            server.close()
        if warm is not None:
            keep(warm)  # for this process's next run


def _start(spec: PipelineSpec, values: dict[str, Any], jobs: int, marshal_dir: str | None,
           stream: TextIO, retries: bool, warm: WarmStarts | None, cache: bool,
           resume: str | None) -> LocalRun:
    if resume is not None:
        folder = os.path.abspath(resume)
        if marshal_dir is not None and os.path.abspath(marshal_dir) != folder:
            raise ConfigError(f"--marshal-dir {marshal_dir} and --resume {resume} name different "
                              "folders", where="--marshal-dir",
                              hint="a resumed run continues in its own folder: leave out --marshal-dir")
        if not os.path.isdir(folder):
            raise ConfigError(f"--resume {resume}: no such folder", where="--resume",
                              hint="give the marshal dir a local run printed")
        earlier_run(folder)  # a user error before anything is written there
    else:
        folder = create_marshal_dir(spec.name, marshal_dir)
    with claim_marshal_dir(folder, resume=resume is not None) as claimed:
        return _run(spec, values, jobs, claimed, stream, retries, warm,
                    cache_dir(spec.name, folder) if cache else None, resume is not None)


def _run(spec: PipelineSpec, values: dict[str, Any], jobs: int, claimed: RunFolder,
         stream: TextIO, retries: bool, warm: WarmStarts | None = None,
         cache: str | None = None, resume: bool = False) -> LocalRun:
    folder = claimed.path
    texts = {k: parameter_text(v) for k, v in values.items()}
    kept = [n for n, why in kept_steps(spec, claimed, texts).items() if not why] if resume else []
    _write_spec(spec, folder)
    write_json_atomic(os.path.join(folder, PARAMS_FILE), texts, sync=False)
    run = LocalRun(spec.name, folder, values, {}, script=spec.script.path, run_id=claimed.run_id)
    # Steps run in this interpreter: the fastest keyed checksum it has is one they all have.
    env = {RUN_ID_ENV: claimed.run_id, KEY_FILE_ENV: claimed.key_file, CHECKSUM_ENV: best_keyed()}
    scheduler = Scheduler(spec, step_commands(spec, values, folder, cache_dir=cache), jobs, stream, retries,
                          env=env, check=_checker(spec, claimed), start=warm.start if warm else None,
                          flow=LocalFlow(spec, values, folder, texts, sys.executable), kept=kept)
    run.steps = scheduler.results
    shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
    stream.write(f"running pipeline {spec.name!r}: {len(spec.steps)} steps, jobs={jobs}"
                 + (f", {shown}" if shown else "") + "\n")
    stream.flush()
    restore = None
    if threading.current_thread() is threading.main_thread():
        restore = signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.monotonic()
    try:
        scheduler.run()
    except KeyboardInterrupt:
        if warm is not None:  # Ctrl-C ends the run's processes, its server too
            warm.close()
        run.duration = time.monotonic() - started
        _collect_records(run, spec)
        stream.write("interrupted: running steps terminated\n" + format_summary(run) + "\n")
        stream.flush()
        raise
    finally:
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)
    run.duration = time.monotonic() - started
    _collect_records(run, spec)
    failed = run.failed_steps()
    for result in failed:
        stream.write(_failure_report(result))
    stream.write(format_summary(run) + "\n")
    stream.write("".join(f"{line}\n" for line in fallback_notes(run)))
    stream.flush()
    if failed:
        skipped = sum(1 for s in run.steps.values() if s.status == SKIPPED)
        names = ", ".join(repr(s.name) for s in failed)
        exc = RunFailed(f"pipeline {spec.name!r} failed: step {names} failed"
                        + (f", {skipped} skipped" if skipped else "") + f" (marshal dir: {folder})", run=run)
        raise exc
    return run
