"""Compile a pipeline to an Argo Workflow, and write it where asked."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from ..argo.options import CompileOptions
from ..errors import ConfigError
from ..runtime.marshal.files import atomic_writer
from ..spec import PipelineSpec


def compile(spec: PipelineSpec, params: Mapping[str, Any] | None = None,
            options: CompileOptions | None = None, *, warn: TextIO | None = None) -> str:
    """``spec`` with ``params`` as YAML (deterministic: the same input gives the same bytes): the
    code ConfigMap, then the Workflow. The compiler's warnings (steps importing packages their
    image may lack, images by tag only) go to ``warn`` (default: stderr), one line each."""
    from ..argo.output import compile_yaml

    notes: list[str] = []
    text = compile_yaml(spec, dict(params or {}), options, notes)
    _print_notes(notes, warn)
    return text


def compile_kind(spec: PipelineSpec, params: Mapping[str, Any] | None, options: CompileOptions | None,
                 kind: str, *, name: str | None = None, schedule: Any = None,
                 warn: TextIO | None = None) -> str:
    """``spec`` as YAML for ``kind``: ``workflow`` (as :func:`compile`), ``cronworkflow`` (with
    ``schedule``, a :class:`~kale_argo.argo.kinds.Schedule`) or ``workflowtemplate``, each after
    the code ConfigMap its runs mount. The schedule and name are checked before compiling."""
    from ..argo.kinds import CRON_WORKFLOW, KINDS, WORKFLOW_TEMPLATE, as_kind, object_name
    from ..argo.output import documents_yaml

    if kind not in KINDS:
        raise ConfigError(f"unknown kind {kind!r}", where="--kind", hint=f"one of {', '.join(KINDS)}")
    if kind == "workflow":
        return compile(spec, params, options, warn=warn)
    if schedule is not None:
        schedule = schedule.validated()
    object_name(name, spec.name, CRON_WORKFLOW if kind == "cronworkflow" else WORKFLOW_TEMPLATE)
    *code, workflow = compile_manifests(spec, params, options, warn=warn)
    manifest = as_kind(workflow, kind, name, spec.name, schedule)
    verb = "argo cron create" if kind == "cronworkflow" else "argo template create"
    header = ("# The code every run mounts: the script (data.script) and, zipped, the modules it imports "
              f"and kale-argo's step runtime.\n# Create it with the {manifest['kind']}: kubectl create -f "
              f"FILE ({verb} reads only its own kind: kubectl apply -f FILE -l "
              "app.kubernetes.io/component=kale-argo-code first).\n")
    return documents_yaml(code, manifest, header)


def compile_manifests(spec: PipelineSpec, params: Mapping[str, Any] | None = None,
                      options: CompileOptions | None = None, *,
                      warn: TextIO | None = None) -> list[dict[str, Any]]:
    """The objects a run needs, in creation order (the code ConfigMap if any, then the Workflow);
    warnings as in :func:`compile`."""
    from ..argo.output import compile_manifests as manifests

    notes: list[str] = []
    docs = manifests(spec, dict(params or {}), options, notes)
    _print_notes(notes, warn)
    return docs


def _print_notes(notes: list[str], warn: TextIO | None) -> None:
    out = warn if warn is not None else sys.stderr
    for line in notes:
        out.write(f"warning: {line}\n")


def compile_dict(spec: PipelineSpec, params: Mapping[str, Any] | None = None,
                 options: CompileOptions | None = None) -> dict[str, Any]:
    """``spec`` with ``params`` as the Workflow manifest (a dict); it mounts the code ConfigMap that
    :func:`compile_manifests` gives too."""
    from ..argo.output import compile_dict as to_dict

    return to_dict(spec, dict(params or {}), options)


def compile_notes(spec: PipelineSpec, options: CompileOptions | None = None) -> list[str]:
    """What the compiled Workflow leaves to chance, one line each (images referenced by tag only);
    front ends print them on stderr as ``note:`` lines."""
    from ..argo.workflow import compile_notes as notes

    return notes(spec, options)


def compiled_path(script: str) -> str:
    """Where ``--dry-run`` writes the Workflow: ``<script stem>.yaml`` next to the script."""
    return os.path.splitext(os.path.abspath(script))[0] + ".yaml"


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, fsync and rename; a ConfigError
    naming the path when it cannot be written (a missing folder, no permission)."""
    try:
        with atomic_writer(path) as out:
            out.write(text.encode("utf-8"))
    except OSError as exc:
        folder = os.path.dirname(path) or "."
        hint = (f"create the folder {folder!r} first" if not os.path.isdir(folder)
                else "choose a writable path (-o FILE, or -o - for stdout)")
        raise ConfigError(f"cannot write the Workflow to {path!r}: {exc.strerror or exc}",
                          hint=hint) from None

