"""``submit_pipeline``: compile a traced pipeline and create it as a run on the cluster.

Order: choose the backend, prepare the workspace (snapshots, for modes other than none), compile
with the workspace's options, create the Workflow under a client-chosen name (so a lost answer can
be looked up, never duplicated), tie the snapshots to it. Anything failing after snapshots were
made rolls them back.
"""

from __future__ import annotations

import logging
import secrets
import string
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ..errors import ConfigError
from ..spec import PipelineSpec
from .backend import Backend, get_backend
from .follow import follow
from .labels import SUBMISSION_LABEL
from .runview import metadata

log = logging.getLogger(__name__)
WORKSPACE_MODES = ("snapshot", "clone", "mount", "none")
_SUFFIX = string.ascii_lowercase + string.digits


def run_name(workflow: dict[str, Any]) -> str:
    """A concrete name for ``metadata.generateName`` (5 random characters, as Kubernetes does)."""
    meta = workflow.setdefault("metadata", {})
    if not meta.get("name"):
        prefix = meta.pop("generateName", None) or "pipeline-"
        meta["name"] = prefix + "".join(secrets.choice(_SUFFIX) for _ in range(5))
    meta.pop("generateName", None)
    return meta["name"]


def _needs_workspace(spec: PipelineSpec, workspace: str | None, volumes: Sequence[str]) -> bool:
    from .kube import in_cluster

    if workspace == "none":
        return False
    return workspace is not None or bool(volumes) or bool(spec.volumes) or in_cluster()


def submit_pipeline(spec: PipelineSpec, params: dict[str, Any] | None = None, *, namespace: str | None = None,
                    backend: str | Backend = "auto", watch: bool = False, workspace: str | None = None,
                    volumes: Sequence[str] = (), image: str | None = None, service_account: str | None = None,
                    out: TextIO | None = None, timeout: float | None = None, colocate: bool = False,
                    volume_claim_gc: str | None = None, workspace_options: dict[str, Any] | None = None,
                    **backend_kwargs: Any) -> str:
    """Compile ``spec`` with ``params`` and create it as a run; returns the run's name.

    ``backend``: "auto" | "argo-server" | "kubernetes" (or a ready Backend). ``workspace``:
    "snapshot" | "clone" | "mount" | "none" | None (decided by the workspace layer). ``volumes``:
    ``--volume CLAIM:/path[:mode]`` strings. ``colocate``: ReadWriteOnce claims and all pods on one
    node (also set by the workspace on RWO storage). ``backend_kwargs``: argo_server, token,
    insecure_skip_verify, base_href, context, kubeconfig. ``workspace_options``: more keyword
    arguments for ``prepare_workspace`` (snapshot_class, keep_snapshots, timeout). With ``watch``,
    follows the run (at most ``timeout`` seconds) and raises RunFailed unless it Succeeded.
    """
    from ..argo import CompileOptions, compile_dict

    out = out or sys.stdout
    if workspace is not None and workspace not in WORKSPACE_MODES:
        raise ConfigError(f"unknown workspace mode {workspace!r}", where="--workspace",
                          hint=f"one of {', '.join(WORKSPACE_MODES)}")
    # Bad flags fail here, before anything is read or created on the cluster.
    gc: dict[str, Any] = {"volume_claim_gc": volume_claim_gc} if volume_claim_gc else {}
    CompileOptions(namespace=namespace, image=image, service_account=service_account, **gc).validate()
    runner = backend if not isinstance(backend, str) else get_backend(backend, namespace=namespace,
                                                                        **backend_kwargs)
    namespace = runner.namespace
    prepared = None
    if _needs_workspace(spec, workspace, volumes):
        from .workspace import prepare_workspace

        extra_options = {k: v for k, v in (workspace_options or {}).items() if k not in ("mode", "volumes")}
        prepared = prepare_workspace(_kube_client(runner, backend_kwargs), namespace, spec, mode=workspace,
                                     volumes=list(volumes), out=out, **extra_options)
    try:
        extra = prepared.compile_options() if prepared is not None else {}
        labels = {**extra.pop("labels", {}), SUBMISSION_LABEL: secrets.token_hex(8)}
        extra["colocate"] = bool(extra.get("colocate")) or colocate
        if volume_claim_gc is not None:
            extra["volume_claim_gc"] = volume_claim_gc
        options = CompileOptions(namespace=namespace, image=image, service_account=service_account,
                                 labels=labels, **extra)
        workflow = compile_dict(spec, params, options)
        workflow["metadata"]["namespace"] = namespace
        name = run_name(workflow)
        created = runner.create(workflow)
    except BaseException:
        if prepared is not None:
            for line in prepared.rollback() or []:
                out.write(f"warning: {line}\n")
        raise
    name = metadata(created).get("name") or name
    if prepared is not None:
        try:
            prepared.adopt(created)
        except Exception as exc:  # the run exists; the snapshots just stay unowned
            out.write(f"warning: could not tie the workspace snapshots to run {name}: {exc}\n")
    out.write(f"Submitted run {name} in namespace {namespace}\n")
    link = runner.ui_link(name)
    if link:
        out.write(f"Argo UI: {link}\n")
    out.flush()
    if watch:
        follow(runner, name, out, timeout=timeout)
    return name


def _kube_client(runner: Backend, backend_kwargs: dict[str, Any]) -> Any:
    client = getattr(runner, "api_client", None)
    if client is not None:
        return client
    from .kube import api_client

    return api_client(context=backend_kwargs.get("context"), kubeconfig=backend_kwargs.get("kubeconfig"))
