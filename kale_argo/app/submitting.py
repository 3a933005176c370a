"""Submit a pipeline: choose the backend, prepare the workspace, compile, create the run once.

Order: bad options fail first, before anything is read or created on the cluster; then the
backend; the workspace (snapshots, for modes other than none); compiling with the workspace's
result; creating the Workflow under a client-chosen name with a unique submission label (a lost
answer is looked up, never duplicated); tying the snapshots to the run. Anything failing after
snapshots were made rolls them back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TextIO

from ..argo.options import CompileOptions
from ..choices import VOLUME_MODES, WORKSPACE_MODES
from ..cluster.backend import Backend, name_run
from ..cluster.kube import api_client, in_cluster
from ..cluster.status import metadata
from ..errors import AuthError, ConfigError, KaleArgoError, RunFailed
from ..spec import PipelineSpec
from .compiling import compile_manifests
from .manage import connect, wait
from .options import Connection, SubmitOptions


@dataclass(frozen=True)
class Submission:
    """A created run: its name and namespace, the Workflow as stored, and its UI link if known."""

    name: str
    namespace: str
    workflow: dict[str, Any]
    link: str | None = None


def submit(spec: PipelineSpec, params: Mapping[str, Any] | None = None, options: SubmitOptions | None = None,
           connection: Connection | Backend | None = None, *, out: TextIO | None = None,
           on_created: Callable[[Submission], None] | None = None) -> Submission:
    """Compile ``spec`` with ``params`` and create it as a run; progress lines go to ``out``.

    ``on_created`` (the CLI's ``-o``) is told of the run as soon as it exists, instead of the
    "Submitted run" lines on ``out``. With ``options.watch`` the run is followed to its end (at most
    ``options.timeout`` seconds) and RunFailed (exit 1) is raised unless it Succeeded.
    """
    options = options or SubmitOptions()
    out = out or sys.stdout
    ws = options.workspace
    if ws.mode is not None and ws.mode not in WORKSPACE_MODES:
        raise ConfigError(f"unknown workspace mode {ws.mode!r}", where="--workspace",
                          hint=f"one of {', '.join(WORKSPACE_MODES)}")
    from ..cluster.workspace.volumes import parse_volume

    for volume in ws.volumes:  # a malformed --volume is a format error before any connection
        parse_volume(volume, ws.mode if ws.mode in VOLUME_MODES else "snapshot")
    namespace = connection.namespace if isinstance(connection, Connection) else None
    base = _compile_options(options, namespace)
    base.validate()
    backend = connection if connection is not None and not isinstance(connection, Connection) else \
        connect(connection)
    base = _compile_options(options, backend.namespace)
    prepared = None
    if _needs_workspace(spec, ws.mode, ws.volumes):
        from ..cluster.workspace import prepare_workspace

        prepared = prepare_workspace(_kube_client(backend, connection), backend.namespace, spec, mode=ws.mode,
                                     volumes=list(ws.volumes), out=out, keep_snapshots=ws.keep_snapshots,
                                     snapshot_class=ws.snapshot_class, timeout=ws.snapshot_timeout)
    elif (why := _marshal_colocation(backend, spec)) is not None and not base.colocate:
        out.write(f"note: {why}\n")
        base = replace(base, colocate=True)
    key = code = None
    try:
        key = _run_key(backend, out)
        compile_options = base.with_workspace(prepared.result) if prepared is not None else base
        compile_options = replace(compile_options, marshal_key_secret=key.name if key else None)
        kube = _kube(backend)
        if kube is None:
            out.write("note: the code travels inline in the Workflow (at most 100,000 characters): "
                      "the Kubernetes API is needed to ship it in a ConfigMap (--backend kubernetes)\n")
            compile_options = replace(compile_options, code_shipping="inline")
        else:
            from ..cluster.code import new_code_name

            compile_options = replace(compile_options, code_configmap=new_code_name())
        *shipped, workflow = compile_manifests(spec, params, compile_options, warn=out)
        workflow["metadata"]["namespace"] = backend.namespace
        name = name_run(workflow)
        if shipped and kube is not None:
            code = _RunCode(kube, backend.namespace, shipped[0]["metadata"]["name"])
            code.create(shipped[0])
        created = backend.create(workflow)
    except BaseException:
        if code is not None:
            code.delete(out)
        if key is not None:
            key.delete(out)
        if prepared is not None:
            for line in prepared.rollback() or []:
                out.write(f"warning: {line}\n")
        raise
    name = metadata(created).get("name") or name
    if code is not None:
        code.adopt(created, out)
    if key is not None:
        key.adopt(created, out)
    if prepared is not None:
        for line in prepared.adopt(created):
            out.write(f"warning: could not tie the workspace snapshot {line} to run {name}\n")
    submission = Submission(name, backend.namespace, created, backend.ui_link(name))
    if on_created is not None:
        on_created(submission)
    else:
        out.write(f"Submitted run {name} in namespace {backend.namespace}\n")
        if submission.link:
            out.write(f"Argo UI: {submission.link}\n")
    out.flush()
    if options.watch:
        follow(backend, name, out, timeout=options.timeout)
    return submission


def follow(backend: Backend, name: str, out: TextIO, *, timeout: float | None = None) -> dict[str, Any]:
    """Show the run's steps live until it ends; RunFailed (exit 1) with the report unless it Succeeded."""
    from ..views.live import live_view
    from ..views.runs import render_failure

    view = live_view(out)
    try:
        workflow, failed = wait(backend, name, timeout=timeout, on_update=view.update)
    finally:
        view.close()
    if failed is not None:
        render_failure(failed, out)
        raise RunFailed(failed.reason)
    out.write(f"run {name} Succeeded\n")
    return workflow


@dataclass(frozen=True)
class _RunKey:
    """The run's marshal-key Secret, while the submission is under way."""

    kube: Any
    namespace: str
    name: str

    def delete(self, out: TextIO) -> None:
        from ..cluster.secrets import delete_run_key

        try:
            delete_run_key(self.kube, self.namespace, self.name)
        except KaleArgoError as exc:
            out.write(f"warning: could not delete the marshal key secret {self.name}: {exc.one_line()}\n")

    def adopt(self, workflow: dict[str, Any], out: TextIO) -> None:
        from ..cluster.kube import owner_reference
        from ..cluster.secrets import adopt_run_key

        try:
            adopt_run_key(self.kube, self.namespace, self.name, workflow, owner_reference(workflow))
        except KaleArgoError as exc:
            out.write(f"warning: the marshal key secret {self.name} is not owned by the run "
                      f"(delete it with the run): {exc.one_line()}\n")


@dataclass(frozen=True)
class _RunCode:
    """The run's code ConfigMap, while the submission is under way."""

    kube: Any
    namespace: str
    name: str

    def create(self, body: dict[str, Any]) -> None:
        from ..cluster.code import create_code

        try:
            create_code(self.kube, self.namespace, body)
        except BaseException:
            self.delete(None)  # a create whose answer was lost leaves no ConfigMap behind
            raise

    def delete(self, out: TextIO | None) -> None:
        from ..cluster.code import delete_code

        try:
            delete_code(self.kube, self.namespace, self.name)
        except KaleArgoError as exc:
            if out is not None:
                out.write(f"warning: could not delete the code ConfigMap {self.name}: {exc.one_line()}\n")

    def adopt(self, workflow: dict[str, Any], out: TextIO) -> None:
        from ..cluster.code import adopt_code
        from ..cluster.kube import owner_reference

        try:
            adopt_code(self.kube, self.namespace, self.name, workflow, owner_reference(workflow))
        except KaleArgoError as exc:
            out.write(f"warning: the code ConfigMap {self.name} is not owned by the run "
                      f"(delete it with the run): {exc.one_line()}\n")


def _kube(backend: Backend) -> Any:
    """A Kubernetes access layer on the backend's API client (the kubernetes backend), or None."""
    client = getattr(backend, "api_client", None)
    if client is None:
        return None
    from ..cluster.kube import Kube

    return Kube(client, sleep=backend.sleep) if hasattr(backend, "sleep") else Kube(client)


def _run_key(backend: Backend, out: TextIO) -> _RunKey | None:
    """A fresh marshal-key Secret for the run, where the Kubernetes API is at hand (the kubernetes
    backend); None otherwise, or when Secrets may not be created here (values are then bound to
    the run by its id and checksums only, as README's threat model says)."""
    client = getattr(backend, "api_client", None)
    if client is None:
        return None
    from ..cluster.kube import Kube
    from ..cluster.secrets import create_run_key, new_key_name

    kube = Kube(client, sleep=backend.sleep) if hasattr(backend, "sleep") else Kube(client)
    key = _RunKey(kube, backend.namespace, new_key_name())
    try:
        create_run_key(kube, key.namespace, key.name)
    except AuthError as exc:
        out.write(f"note: values are not signed: {exc.one_line()}\n")
        return None
    except BaseException:
        key.delete(out)  # a create whose answer was lost leaves no Secret behind
        raise
    return key


def _compile_options(options: SubmitOptions, namespace: str | None) -> CompileOptions:
    return CompileOptions(namespace=namespace, image=options.image, service_account=options.service_account,
                          executor_service_account=options.executor_service_account,
                          colocate=options.colocate,
                          volume_claim_gc=options.volume_claim_gc or CompileOptions.volume_claim_gc)


def _needs_workspace(spec: PipelineSpec, mode: str | None, volumes: tuple[str, ...]) -> bool:
    if mode == "none":
        return False
    return mode is not None or bool(volumes) or bool(spec.volumes) or in_cluster()


def _kube_client(backend: Backend, connection: Connection | Backend | None) -> Any:
    client = getattr(backend, "api_client", None)
    if client is not None:
        return client
    c = connection if isinstance(connection, Connection) else Connection()
    try:
        return api_client(context=c.context, kubeconfig=c.kubeconfig)
    except ConfigError as exc:
        raise ConfigError(f"{exc.message}; the workspace (--workspace, --volume or the pipeline's volumes) "
                          "needs the Kubernetes API even with an Argo Server, to read and snapshot the "
                          "PersistentVolumeClaims", where=exc.where,
                          hint=f"{exc.hint}; or submit with --workspace none") from None


def _marshal_colocation(backend: Backend, spec: PipelineSpec) -> str | None:
    """Without a workspace, the marshal volume's storage is still checked for ReadWriteMany when
    the Kubernetes API is at hand (the kubernetes backend)."""
    client = getattr(backend, "api_client", None)
    if client is None:
        return None
    from ..cluster.workspace import marshal_colocation

    return marshal_colocation(client, spec)


def plan_workspace(spec: PipelineSpec | None, workspace: Any, connection: Connection | None = None) -> Any:
    """What a submit from here would snapshot, clone or mount, and why (creating nothing)."""
    from ..cluster.workspace import plan_workspace as plan
    from ..cluster.workspace.discovery import pod_identity
    from ..cluster.workspace.volumes import parse_volume

    for volume in workspace.volumes:
        parse_volume(volume, workspace.mode if workspace.mode in VOLUME_MODES else "snapshot")
    c = connection or Connection()
    try:
        api = api_client(context=c.context, kubeconfig=c.kubeconfig)
    except ConfigError as exc:
        raise ConfigError(f"{exc.message}; `kale-argo workspace` reads this pod and its "
                          "PersistentVolumeClaims through the Kubernetes API (an Argo Server cannot)",
                          where=exc.where, hint=exc.hint) from None
    namespace = c.namespace or (None if pod_identity() else api.kale_namespace)
    return plan(api, namespace, spec, mode=workspace.mode, volumes=workspace.volumes,
                snapshot_class=workspace.snapshot_class)
