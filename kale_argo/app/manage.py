"""The run-management verbs: connect to the cluster, then status, wait, logs, list, stop, retry, delete."""

from __future__ import annotations

import datetime
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..choices import DONE_PHASES
from ..cluster.backend import Backend, LogLine, get_backend, name_run
from ..cluster.follow import Failure, failure
from ..cluster.follow import wait as wait_for
from ..cluster.status import metadata, phase, steps
from ..errors import ClusterError, ConfigError, KaleArgoError
from ..labels import (
    ARGO_ARCHIVING_LABEL,
    ARGO_COMPLETED_LABEL,
    ARGO_PHASE_LABEL,
    SUBMISSION_LABEL,
)
from .options import Connection, ListOptions, LogOptions

log = logging.getLogger(__name__)
RESUBMITTED_FROM_LABEL = "workflows.argoproj.io/resubmitted-from-workflow"


def connect(connection: Connection | None = None) -> Backend:
    """The backend ``connection`` names (``auto``: argo-server when one is configured)."""
    c = connection or Connection()
    return get_backend(c.backend, namespace=c.namespace, argo_server=c.argo_server, token=c.token,
                       insecure_skip_verify=c.insecure_skip_verify, base_href=c.base_href,
                       context=c.context, kubeconfig=c.kubeconfig)


def read_token(path: str) -> str:
    """An Argo Server token from a file (``--token-file``: kept out of the process list)."""
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the token file: {exc.strerror}", where="--token-file") from None


def status(backend: Backend, name: str) -> dict[str, Any]:
    """The run's Workflow as the cluster has it."""
    return backend.get(name)


def wait(backend: Backend, name: str, *, timeout: float | None = None,
         on_update: Callable[[dict[str, Any]], None] | None = None) -> tuple[dict[str, Any], Failure | None]:
    """Wait for the run to end: ``(workflow, None)`` if it Succeeded, else with why it failed."""
    workflow = wait_for(backend, name, timeout=timeout, on_update=on_update)
    if (workflow.get("status") or {}).get("phase") == "Succeeded":
        return workflow, None
    return workflow, failure(backend, workflow)


def logs(backend: Backend, name: str, *, step: str | None = None, follow: bool = False,
         tail: int | None = None, options: LogOptions | None = None) -> Iterator[LogLine]:
    """The run's step logs (one step with ``step``; the last ``tail`` lines of each).

    With ``follow`` every step is followed at once (one stream each, lines interleaved as they
    come), including steps that start later, until the run ends and every stream is done.
    """
    o = options or LogOptions()
    if not follow:
        return backend.logs(name, step=step, tail=tail, since=o.since, timestamps=o.timestamps)
    return follow_logs(backend, name, step=step, tail=tail, options=o)


_END = object()


def follow_logs(backend: Backend, name: str, *, step: str | None = None, tail: int | None = None,
                options: LogOptions | None = None) -> Iterator[LogLine]:
    """``logs -f``: a watch of the run starts one log stream per step as the step starts."""
    o = options or LogOptions()
    lines: queue.Queue[Any] = queue.Queue()
    backend.get(name)  # a missing run is an error now, not in a thread
    started: set[str] = set()
    open_streams = [0]
    lock = threading.Lock()

    def stream(task: str, shown: str) -> None:
        try:
            for line in backend.logs(name, step=task, follow=True, tail=tail, since=o.since,
                                     timestamps=o.timestamps):
                lines.put(line)
        except KaleArgoError as exc:
            log.warning("the log of step %s is not available: %s", shown, exc.one_line())
        finally:
            lines.put(_END)

    def start_ready(workflow: dict[str, Any]) -> None:
        for s in steps(workflow):
            wanted = step is None or step in (s.name, s.task) or step.replace("_", "-") == s.task
            if not wanted or s.node_id in started or s.phase == "Pending":
                continue
            started.add(s.node_id)
            with lock:
                open_streams[0] += 1
            threading.Thread(target=stream, args=(s.task or s.name, s.name), daemon=True).start()

    def watcher() -> None:
        try:
            for workflow in backend.watch(name):
                start_ready(workflow)
        except BaseException as exc:  # shown by the reader
            lines.put(exc)
        lines.put(_END)

    with lock:
        open_streams[0] += 1
    threading.Thread(target=watcher, daemon=True).start()
    while True:
        item = lines.get()
        if item is _END:
            with lock:
                open_streams[0] -= 1
                if open_streams[0] == 0:
                    return
            continue
        if isinstance(item, BaseException):
            raise item
        yield item


def list_runs(backend: Backend, *, pipeline: str | None = None, experiment: str | None = None,
              phases: Sequence[str] = (), options: ListOptions | None = None) -> list[dict[str, Any]]:
    """The namespace's runs (every namespace's with ``options.all_namespaces``), filtered by
    pipeline, experiment, a label selector, phases, running/completed and age, newest first."""
    o = options or ListOptions()
    runs = backend.list(pipeline=pipeline, experiment=experiment, phases=phases, selector=o.selector,
                        all_namespaces=o.all_namespaces)
    if o.running:
        runs = [w for w in runs if phase(w) not in DONE_PHASES]
    if o.completed:
        runs = [w for w in runs if phase(w) in DONE_PHASES]
    if o.since is not None:
        cutoff = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=o.since)
        runs = [w for w in runs if _created(w) is None or _created(w) >= cutoff]  # type: ignore[operator]
    return sorted(runs, key=lambda w: metadata(w).get("creationTimestamp") or "", reverse=True)


def _created(workflow: dict[str, Any]) -> datetime.datetime | None:
    text = metadata(workflow).get("creationTimestamp")
    try:
        return datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def stop(backend: Backend, name: str) -> dict[str, Any]:
    """Stop the run: no new steps; exit handlers still run."""
    return backend.stop(name)


def terminate(backend: Backend, name: str) -> dict[str, Any]:
    """Terminate the run now (exit handlers skipped)."""
    return backend.terminate(name)


def retry(backend: Backend, name: str) -> dict[str, Any]:
    """Re-run a Failed/Error run's failed steps, keeping the succeeded ones; any other phase is a
    ClusterError (exit 2) that says what to do instead."""
    current = phase(backend.get(name))
    if current == "Succeeded":
        raise ClusterError(f"run {name!r} Succeeded: there is nothing to retry",
                           hint=f"to run it again, `kale-argo resubmit {name}`")
    if current not in ("Failed", "Error"):
        raise ClusterError(f"run {name!r} is {current}: only a Failed or Error run can be retried",
                           hint=f"wait for it with `kale-argo wait {name}`, or stop it first")
    return backend.retry(name)


def resubmit(backend: Backend, name: str) -> dict[str, Any]:
    """A new run with the same Workflow spec as ``name`` (argo resubmit), named after it."""
    old = backend.get(name)
    meta = metadata(old)
    skip = {SUBMISSION_LABEL, ARGO_COMPLETED_LABEL, ARGO_PHASE_LABEL, ARGO_ARCHIVING_LABEL}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in skip}
    labels[RESUBMITTED_FROM_LABEL] = name
    spec = dict(old.get("spec") or {})
    spec.pop("shutdown", None)
    prefix = meta.get("generateName") or (name.rsplit("-", 1)[0] + "-" if "-" in name else f"{name}-")
    workflow = {"apiVersion": old.get("apiVersion", "argoproj.io/v1alpha1"), "kind": "Workflow",
                "metadata": {"generateName": prefix, "namespace": backend.namespace, "labels": labels,
                             "annotations": dict(meta.get("annotations") or {})},
                "spec": spec}
    name_run(workflow)
    return backend.create(workflow)


def delete(backend: Backend, name: str) -> None:
    """Delete the run (and, through owner references, its snapshots)."""
    backend.delete(name)


def run_status(workflow: dict[str, Any]) -> dict[str, str]:
    """Step name (as written) -> phase, for every step of the run (``Pending`` before its pod)."""
    from ..cluster.status import planned_steps

    return {s.name: s.phase for s in planned_steps(workflow)}


def local_run_graph(folder: str) -> tuple[Any, dict[str, str]]:
    """A local run's pipeline (from ``<folder>/.kale/pipeline.json``) and its steps' statuses (from
    their records; steps without one did not run)."""
    import os

    from ..runtime.record import read_record
    from ..spec import PipelineSpec

    path = os.path.join(folder, ".kale", "pipeline.json")
    try:
        with open(path, encoding="utf-8") as fh:
            spec = PipelineSpec.from_json(fh.read())
    except OSError:
        raise ConfigError(f"{folder!r} is not a local run's folder (no .kale/pipeline.json)",
                          where="graph",
                          hint="give a folder under ./.kale-runs/, a script or a run's name") from None
    status = {}
    for s in spec.steps:
        record = read_record(folder, s.name) or {}
        status[s.name] = str(record.get("status") or "Skipped")
    return spec, status
