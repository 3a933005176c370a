"""Assembling the Workflow: IR + parameter values + options -> a Hera ``Workflow``.

Compiling also yields notes: what the user should know but is no error (an image referenced by tag
only). The compiler returns them as data (:func:`compile_notes`, or the ``notes`` list given to
:func:`compile_workflow`); the caller prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hera.workflows import Workflow
from hera.workflows import models as m

from ..labels import PIPELINE_LABEL
from ..spec import DEFAULT_IMAGE, PipelineSpec, StepSpec
from .bundle import BUNDLE_PARAMETER, CODE_MODE, CODE_VOLUME, plan_code
from .dag import dag_template
from .flow import check_condition_values
from .imports import missing_packages_note
from .metadata import workflow_annotations, workflow_labels
from .names import argo_names, generate_name
from .options import CompileOptions, check_image
from .packages import PACKAGES_TEMPLATE, install_template, plan_installs
from .parameters import workflow_parameters
from .resources import pod_gc, pod_security, timeout_seconds, ttl_strategy
from .step import StepContext, call_json, step_template, template_key
from .volumes import plan_volumes, volumes_annotation

ENTRYPOINT = "main"


def step_image(step: StepSpec, spec: PipelineSpec, options: CompileOptions) -> str:
    """The step's image > the pipeline's docker_image > --image > the default image > DEFAULT_IMAGE."""
    return (step.options.image or spec.docker_image or options.image or options.default_image
            or DEFAULT_IMAGE)


def compile_notes(spec: PipelineSpec, options: CompileOptions | None = None) -> list[str]:
    """One line when steps on the default image import packages nothing declares, then one per
    image the steps use by tag only (it can change between runs), in step order."""
    options = options or CompileOptions()
    packages = missing_packages_note(spec, {s.name: step_image(s, spec, options) for s in spec.steps})
    users: dict[str, list[str]] = {}
    for step in spec.steps:
        users.setdefault(step_image(step, spec, options), []).append(step.name)
    notes = [packages] if packages else []
    for image, steps in users.items():
        if "@" in image:
            continue
        what = "the default image" if image == DEFAULT_IMAGE else "image"
        named = ", ".join(steps[:5]) + (f" and {len(steps) - 5} more" if len(steps) > 5 else "")
        notes.append(f"{what} {image!r} is referenced by tag only, which can point at other content "
                     f"in a later run (step{'s' if len(steps) > 1 else ''} {named}): pin it by digest, "
                     "e.g. --image NAME@sha256:DIGEST")
    return notes


@dataclass(frozen=True)
class CompiledRun:
    """What a run needs on the cluster: the Workflow and, unless shipped otherwise, its code
    ConfigMap (to create first)."""

    workflow: Workflow
    code: dict[str, Any] | None


def compile_workflow(spec: PipelineSpec, params: dict[str, Any] | None = None,
                     options: CompileOptions | None = None, notes: list[str] | None = None) -> Workflow:
    """The pipeline as an Argo Workflow. ``params`` override parameter defaults (raw or typed).

    ``notes``, if given, receives :func:`compile_notes`. Raises a UserError (exit 2) for anything
    the user can fix. The Workflow mounts its code ConfigMap (see :func:`compile_run`).
    """
    return compile_run(spec, params, options, notes).workflow


def compile_run(spec: PipelineSpec, params: dict[str, Any] | None = None,
                options: CompileOptions | None = None, notes: list[str] | None = None) -> CompiledRun:
    """The pipeline as an Argo Workflow and the ConfigMap holding its code (if it ships any)."""
    options = options or CompileOptions()
    options.validate()
    values = spec.resolve_parameters(dict(params or {}))
    check_condition_values(spec, values)
    workspace = list(spec.volumes if options.volumes is None else options.volumes)
    volumes = plan_volumes(spec, workspace, options.colocate, options.marshal_key_secret)
    code = plan_code(spec, options.script_path, options.ship_runtime, options.code_shipping,
                     options.code_configmap)
    security = pod_security(spec, options.fs_group)
    ctx = StepContext(spec, code, volumes, options.python, options.working_dir or spec.working_dir,
                      options.colocate, security, options.artifact_outputs)

    groups: dict[tuple[Any, ...], list[StepSpec]] = {}
    for step in spec.steps:
        groups.setdefault(template_key(step), []).append(step)
    template_names = argo_names([calls[0].step for calls in groups.values()], reserved=[ENTRYPOINT])
    images = {s.name: step_image(s, spec, options) for s in spec.steps}
    installs = plan_installs(spec, images, volumes)
    install_names = argo_names([PACKAGES_TEMPLATE] * len(installs), reserved=[ENTRYPOINT, *template_names])
    setup, target = {}, {}
    for install, install_name in zip(installs, install_names, strict=True):
        install.template = install_name
        for s in install.steps:
            setup[s.name], target[s.name] = install_name, install.target
    templates, template_of = [], {}
    for name, calls in zip(template_names, groups.values(), strict=True):
        image = images[calls[0].name]
        check_image(image, f"step {calls[0].name!r}")
        templates.append(step_template(ctx, name, calls[0], image, target.get(calls[0].name)))
        template_of.update({s.name: name for s in calls})
    templates += [install_template(ctx, install) for install in installs]
    calls_json = {s.name: call_json(spec, s) for s in spec.steps}
    step_names = [s.name for s in spec.steps]
    tasks = dict(zip(step_names, argo_names(step_names, reserved=install_names), strict=True))
    limited = [s.name for s in spec.steps if s.parallelism() is not None]
    wrappers = dict(zip(limited, argo_names([f"{s}-map" for s in limited],
                                            reserved=[ENTRYPOINT, *template_names, *install_names]),
                        strict=True))
    dags = dag_template(spec, ENTRYPOINT, tasks, template_of, calls_json, setup, wrappers)

    arguments = workflow_parameters(spec, values)
    if code.bundle is not None:
        arguments.append(m.Parameter(name=BUNDLE_PARAMETER, value=code.bundle,
                                     description="kale-argo: the script and step runtime (zip, base64)"))
    labels = workflow_labels(spec, options.labels)
    gc = m.VolumeClaimGC(strategy=options.volume_claim_gc) if volumes.claim_templates else None
    if notes is not None:
        notes.extend(compile_notes(spec, options))
    executor = options.executor_service_account
    automount = True if options.service_account else (False if executor else None)
    pod_volumes = list(volumes.volumes)
    if code.configmap is not None:
        pod_volumes.append(m.Volume(name=CODE_VOLUME, config_map=m.ConfigMapVolumeSource(
            name=code.configmap.name, default_mode=CODE_MODE,
            items=[m.KeyToPath(key=k, path=p) for k, p in sorted(code.configmap.items.items())])))
    workflow = Workflow(
        generate_name=generate_name(spec.name),
        namespace=options.namespace,
        labels=labels,
        annotations=workflow_annotations(spec, options.annotations, volumes_annotation(volumes)),
        entrypoint=ENTRYPOINT,
        arguments=arguments or None,
        templates=[*dags, *templates],
        service_account_name=options.service_account,
        automount_service_account_token=automount,
        executor=m.ExecutorConfig(service_account_name=executor) if executor else None,
        active_deadline_seconds=timeout_seconds(spec.timeout),
        volume_claim_templates=volumes.claim_templates or None,
        volume_claim_gc=gc,
        volumes=pod_volumes or None,
        security_context=m.PodSecurityContext.model_validate(security),
        pod_metadata=m.Metadata(labels={PIPELINE_LABEL: labels[PIPELINE_LABEL]}),
        image_pull_secrets=[m.LocalObjectReference(name=n) for n in spec.image_pull_secrets] or None,
        ttl_strategy=ttl_strategy(spec),
        pod_gc=pod_gc(spec),
    )
    code_manifest = code.configmap.manifest(options.namespace) if code.configmap is not None else None
    return CompiledRun(workflow, code_manifest)
