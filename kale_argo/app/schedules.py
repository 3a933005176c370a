"""Schedules (CronWorkflows) and templates (WorkflowTemplates): publish a pipeline so that Argo
starts its runs, on a cron schedule or from the Argo UI / ``argo submit --from``.

What their runs need is created with them and belongs to them. With the Kubernetes API at hand
(the kubernetes backend): the marshal-key Secret, one for every run of the schedule or template
(each run still keeps its values in a folder of its own and refuses values of another run, by
``{{workflow.uid}}``), and the code ConfigMap. Order: the Secret, the ConfigMap, the object, then
both are made owned by it (deleting it deletes them); if any step fails, what was created is
deleted again, the object included, so nothing is left behind. Through the Argo Server alone the
code travels inline and values are unsigned, as with ``submit``.

Pushing a template that exists replaces it (at the version read: a concurrent change is a
conflict, never overwritten), keeps its key, and gives it a new code ConfigMap; the previous one
is kept for runs still starting from it, the one before is deleted.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

from ..argo.kinds import CRON_WORKFLOW, WORKFLOW_TEMPLATE, Schedule, as_kind, object_name
from ..argo.options import CompileOptions
from ..cluster.backend import Backend, instance_id, label_selector
from ..errors import AuthError, KaleArgoError, NotFoundError
from ..labels import (
    ARGO_INSTANCEID_LABEL,
    CODE_ANNOTATION,
    MARSHAL_KEY_ANNOTATION,
    PREVIOUS_CODE_ANNOTATION,
    SUBMISSION_LABEL,
)
from ..spec import PipelineSpec
from .compiling import compile_manifests
from .manage import connect
from .options import Connection, PublishOptions

PLURALS = {CRON_WORKFLOW: "cronworkflows", WORKFLOW_TEMPLATE: "workflowtemplates"}
UI_PATHS = {CRON_WORKFLOW: "cron-workflows", WORKFLOW_TEMPLATE: "workflow-templates"}
INLINE_NOTE = (
    "note: the code travels inline in the {kind} (at most 100,000 characters) and values are "
    "not signed: the Kubernetes API is needed to ship it in a ConfigMap with a marshal key "
    "(--backend kubernetes)\n"
)


@dataclass(frozen=True)
class Published:
    """A CronWorkflow or WorkflowTemplate as stored, and what its runs need (names, or None)."""

    kind: str
    name: str
    namespace: str
    manifest: dict[str, Any] = field(repr=False)
    updated: bool = False
    code_configmap: str | None = None
    marshal_key: str | None = None
    link: str | None = None

    def __str__(self) -> str:
        from ..views.schedules import describe_published

        return describe_published(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def schedule(
    spec: PipelineSpec,
    params: Mapping[str, Any] | None,
    when: Schedule,
    options: PublishOptions | None = None,
    connection: Connection | Backend | None = None,
    *,
    out: TextIO | None = None,
) -> Published:
    """Create a CronWorkflow starting ``spec`` with ``params`` on ``when`` (checked first: a bad
    cron expression or time zone is a ConfigError before anything is read or created)."""
    return _publish(
        spec, params, CRON_WORKFLOW, options or PublishOptions(), connection, out, when.validated()
    )


def push_template(
    spec: PipelineSpec,
    params: Mapping[str, Any] | None,
    options: PublishOptions | None = None,
    connection: Connection | Backend | None = None,
    *,
    out: TextIO | None = None,
) -> Published:
    """Create, or replace, a WorkflowTemplate of ``spec``; ``params`` are its parameters' defaults."""
    return _publish(spec, params, WORKFLOW_TEMPLATE, options or PublishOptions(), connection, out, None)


def _backend(connection: Connection | Backend | None) -> Backend:
    return (
        connection
        if connection is not None and not isinstance(connection, Connection)
        else connect(connection)
    )


def _compile_options(options: PublishOptions, namespace: str | None) -> CompileOptions:
    return CompileOptions(
        namespace=namespace,
        image=options.image,
        service_account=options.service_account,
        executor_service_account=options.executor_service_account,
        colocate=options.colocate,
        volume_claim_gc=options.volume_claim_gc or CompileOptions.volume_claim_gc,
    )


def _publish(
    spec: PipelineSpec,
    params: Mapping[str, Any] | None,
    kind: str,
    options: PublishOptions,
    connection: Connection | Backend | None,
    out: TextIO | None,
    when: Schedule | None,
) -> Published:
    out = out or sys.stdout
    plural = PLURALS[kind]
    name = object_name(options.name, spec.name, kind)
    namespace = connection.namespace if isinstance(connection, Connection) else None
    _compile_options(options, namespace).validate()
    backend = _backend(connection)
    compile_options = _compile_options(options, backend.namespace)
    existing = _existing(backend, plural, name) if kind == WORKFLOW_TEMPLATE else None
    old = dict((existing or {}).get("metadata", {}).get("annotations") or {})
    shipping = _Shipping(_kube(backend), backend.namespace)
    stored: dict[str, Any] | None = None
    try:
        if shipping.kube is None:
            out.write(INLINE_NOTE.format(kind=kind))
            compile_options = replace(compile_options, code_shipping="inline")
        else:
            key = shipping.key(old.get(MARSHAL_KEY_ANNOTATION), out)
            compile_options = replace(
                compile_options, marshal_key_secret=key, code_configmap=shipping.new_code_name()
            )
        *code, workflow = compile_manifests(spec, params, compile_options, warn=out)
        workflow["metadata"]["namespace"] = backend.namespace
        manifest = as_kind(workflow, kind.lower(), name, spec.name, when)
        _mark(manifest, shipping, old)
        if code and shipping.kube is not None:
            shipping.create_code(code[0])
        if existing is not None:
            manifest["metadata"]["resourceVersion"] = existing["metadata"].get("resourceVersion")
            result = backend.replace_object(plural, manifest)
        else:
            manifest["metadata"].setdefault("labels", {})[SUBMISSION_LABEL] = secrets.token_hex(8)
            stored = result = backend.create_object(plural, manifest)
        shipping.adopt({**result, "kind": kind})
    except BaseException:
        if stored is not None:
            _quietly(lambda: backend.delete_object(plural, name), f"could not delete the {kind} {name}", out)
        shipping.rollback(out)
        raise
    older = old.get(PREVIOUS_CODE_ANNOTATION)
    if shipping.kube is not None and older and older not in (old.get(CODE_ANNOTATION), shipping.code):
        shipping.delete_code(older, out)
    return Published(
        kind,
        name,
        backend.namespace,
        result,
        updated=existing is not None,
        code_configmap=shipping.code,
        marshal_key=shipping.key_name,
        link=_link(backend, kind, name),
    )


def _mark(manifest: dict[str, Any], shipping: _Shipping, old: dict[str, str]) -> None:
    """Record what the runs need on the object (for the next push and for delete), and the
    controller instance (ARGO_INSTANCEID) on it and on its runs."""
    meta = manifest["metadata"]
    annotations = meta.setdefault("annotations", {})
    for key, value in (
        (CODE_ANNOTATION, shipping.code),
        (MARSHAL_KEY_ANNOTATION, shipping.key_name),
        (PREVIOUS_CODE_ANNOTATION, old.get(CODE_ANNOTATION)),
    ):
        if value:
            annotations[key] = value
    instance = instance_id()
    if instance:
        meta.setdefault("labels", {})[ARGO_INSTANCEID_LABEL] = instance
        runs = manifest["spec"].setdefault("workflowMetadata", {})
        runs.setdefault("labels", {})[ARGO_INSTANCEID_LABEL] = instance


def _existing(backend: Backend, plural: str, name: str) -> dict[str, Any] | None:
    try:
        return backend.get_object(plural, name)
    except NotFoundError:
        return None


def _kube(backend: Backend) -> Any:
    from .submitting import _kube as kube

    return kube(backend)


def _link(backend: Backend, kind: str, name: str) -> str | None:
    base = (
        getattr(backend, "url", None) if backend.kind == "argo-server" else getattr(backend, "ui_url", None)
    )
    return f"{base}{UI_PATHS[kind]}/{backend.namespace}/{name}" if base else None


def _quietly(action: Any, what: str, out: TextIO) -> None:
    try:
        action()
    except KaleArgoError as exc:
        out.write(f"warning: {what}: {exc.one_line()}\n")


class _Shipping:
    """The code ConfigMap and marshal-key Secret of a schedule or template, while it is published:
    what this push created (deleted again on failure) and what it reuses."""

    def __init__(self, kube: Any, namespace: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.code: str | None = None
        self.key_name: str | None = None
        self.created_code: str | None = None
        self.created_key: str | None = None

    def key(self, existing: str | None, out: TextIO) -> str | None:
        """The Secret every run mounts: the one the object has, else a new one (None when Secrets
        may not be created here: values are then unsigned, as README's threat model says)."""
        from ..cluster.secrets import create_run_key, new_key_name

        if existing:
            self.key_name = existing
            return existing
        name = new_key_name()
        try:
            create_run_key(self.kube, self.namespace, name)
        except AuthError as exc:
            out.write(f"note: values are not signed: {exc.one_line()}\n")
            return None
        except BaseException:
            self.created_key = name  # a create whose answer was lost leaves no Secret behind
            raise
        self.key_name = self.created_key = name
        return name

    def new_code_name(self) -> str:
        from ..cluster.code import new_code_name

        self.code = new_code_name()
        return self.code

    def create_code(self, body: dict[str, Any]) -> None:
        from ..cluster.code import create_code

        self.created_code = str(body["metadata"]["name"])
        create_code(self.kube, self.namespace, body)

    def adopt(self, owner_object: dict[str, Any]) -> None:
        """Make the object the owner of what this push created (a failure rolls the push back)."""
        if self.kube is None:
            return
        from ..cluster.code import adopt_code
        from ..cluster.kube import owner_reference
        from ..cluster.secrets import adopt_run_key

        owner = owner_reference(owner_object)
        if self.created_code:
            adopt_code(self.kube, self.namespace, self.created_code, owner_object, owner)
        if self.created_key:
            adopt_run_key(self.kube, self.namespace, self.created_key, owner_object, owner)

    def delete_code(self, name: str, out: TextIO) -> None:
        from ..cluster.code import delete_code

        _quietly(
            lambda: delete_code(self.kube, self.namespace, name),
            f"could not delete the code ConfigMap {name}",
            out,
        )

    def rollback(self, out: TextIO) -> None:
        """Delete what this push created."""
        from ..cluster.secrets import delete_run_key

        if self.kube is None:
            return
        if self.created_code:
            self.delete_code(self.created_code, out)
        if self.created_key:
            key = self.created_key
            _quietly(
                lambda: delete_run_key(self.kube, self.namespace, key),
                f"could not delete the marshal key secret {key}",
                out,
            )


# -- managing them ----------------------------------------------------------------------------------------


def list_published(backend: Backend, kind: str) -> list[dict[str, Any]]:
    """The namespace's CronWorkflows or WorkflowTemplates (this controller instance's), by name."""
    items = backend.list_objects(PLURALS[kind], selector=label_selector())
    return sorted(items, key=lambda o: str((o.get("metadata") or {}).get("name", "")))


def get_published(backend: Backend, kind: str, name: str) -> dict[str, Any]:
    """One CronWorkflow or WorkflowTemplate (NotFoundError if there is none)."""
    return backend.get_object(PLURALS[kind], name)


def suspend_schedule(backend: Backend, name: str, suspend: bool = True) -> dict[str, Any]:
    """Suspend (no new runs; running ones go on) or resume a schedule."""
    return backend.suspend_schedule(name, suspend)


def delete_published(backend: Backend, kind: str, name: str) -> None:
    """Delete a CronWorkflow or WorkflowTemplate; Kubernetes' garbage collector deletes what it owns
    (its code ConfigMaps and key Secret, a schedule's runs) through their owner references."""
    backend.delete_object(PLURALS[kind], name)
