"""One step template: a container running exactly the step-runtime argv.

Calls of the same @step with the same options and parameters share one template; the call itself
(``StepSpec.runtime_call`` as JSON) arrives as the input parameter ``call``, which Argo substitutes
into the argv, so each pod runs precisely ``step_argv(...)`` for its call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hera.workflows import Container, UserContainer
from hera.workflows import models as m

from ..labels import ARGO_WORKFLOW_LABEL
from ..runtime.contract import OUTPUT_DIR_ENV, step_argv
from ..runtime.marshal.binding import KEY_FILE_ENV as MARSHAL_KEY_ENV
from ..runtime.marshal.binding import RUN_ID_ENV
from ..spec import PipelineSpec, StepSpec
from .bundle import BUNDLE_PARAMETER, CODE_DIR, CODE_VOLUME, ENV_VAR, UNPACK, CodePlan
from .flow import ITEM_PARAMETER, ITEM_VALUE, OUTPUT_DIR, export_parameters
from .resources import (
    container_security,
    pod_env,
    pod_metadata,
    resources,
    retry_strategy,
    timeout_seconds,
    tolerations,
)
from .volumes import VolumePlan

CALL_PARAMETER = "call"
CALL_VALUE = "{{inputs.parameters.call}}"
RUN_ID = "{{workflow.uid}}"  # the run a step's values belong to (the runtime's RUN_ID_ENV)
ARTIFACT_DIR = "/tmp/kale-artifacts"
"""Where the step runtime also copies a step's ``@artifact`` files in a pod (``KALE_ARTIFACT_DIR``),
for Argo to save them as the step's output artifacts."""


@dataclass(frozen=True)
class StepContext:
    """What every step template shares."""

    spec: PipelineSpec
    code: CodePlan
    volumes: VolumePlan
    python: str
    working_dir: str | None
    colocate: bool
    pod_security: dict[str, Any]
    """The pods' securityContext, whose identity every container repeats."""
    artifact_outputs: bool = True


def call_json(spec: PipelineSpec, step: StepSpec) -> str:
    """The ``--call`` text for ``step``, exactly as :func:`step_argv` writes it.

    A literal ``{{`` inside a string value is written as ``{\\u007b`` (the same JSON) so Argo does
    not take it for one of its variables.
    """
    argv = step_argv(python="", script="", marshal_dir="", call=step.runtime_call(spec.param_types()),
                     params={})
    return argv[argv.index("--call") + 1].replace("{{", "{\\u007b")


def step_params(step: StepSpec) -> dict[str, str]:
    """The ``--param`` values of a step's argv: references to the workflow parameters."""
    return {p: f"{{{{workflow.parameters.{p}}}}}" for p in step.parameters_used()}


def template_key(step: StepSpec) -> tuple[Any, ...]:
    """Calls with equal keys share a template."""
    return (step.step, step.function, step.options.model_dump_json(), tuple(step.parameters_used()),
            step.map_over is not None, tuple(sorted(step.exports.items())))


def step_template(ctx: StepContext, name: str, step: StepSpec, image: str,
                  packages: str | None = None) -> Container:
    """The template for ``step`` (and every call sharing its key); ``packages``: the folder its
    pip packages were installed into, put on PYTHONPATH after the code."""
    mapped = step.map_over is not None
    argv = step_argv(python=ctx.python, script=ctx.code.script, marshal_dir=ctx.volumes.marshal_dir,
                     call={}, params=step_params(step), item=ITEM_VALUE if mapped else None,
                     cache_dir=ctx.volumes.cache_dir)
    argv[argv.index("--call") + 1] = CALL_VALUE
    mounts = list(ctx.volumes.mounts)
    env = [m.EnvVar(name="PYTHONUNBUFFERED", value="1"), m.EnvVar(name=RUN_ID_ENV, value=RUN_ID)]
    if ctx.volumes.marshal_key_file is not None:
        env.append(m.EnvVar(name=MARSHAL_KEY_ENV, value=ctx.volumes.marshal_key_file))
    security = container_security(step, ctx.pod_security)
    init: list[UserContainer | m.UserContainer] | None = None
    volumes: list[m.Volume] | None = None
    if ctx.code.bundle is not None:
        code_mount = m.VolumeMount(name=CODE_VOLUME, mount_path=CODE_DIR)
        mounts.append(code_mount)
        volumes = [m.Volume(name=CODE_VOLUME, empty_dir=m.EmptyDirVolumeSource())]
        init = [m.UserContainer(
            name="kale-unpack", image=image, command=[ctx.python, "-c", UNPACK],
            env=[m.EnvVar(name=ENV_VAR, value=f"{{{{workflow.parameters.{BUNDLE_PARAMETER}}}}}")],
            volume_mounts=[code_mount], security_context=security)]
    if ctx.code.configmap is not None:
        mounts.append(m.VolumeMount(name=CODE_VOLUME, mount_path=CODE_DIR, read_only=True))
    pythonpath = ":".join(p for p in (ctx.code.pythonpath, packages) if p)
    if pythonpath:
        env.append(m.EnvVar(name="PYTHONPATH", value=pythonpath))
    own_env, env_from = pod_env(step)
    env += own_env
    outputs: list[Any] | None = step_artifacts(step) if ctx.artifact_outputs else None
    if outputs:
        env.append(m.EnvVar(name="KALE_ARTIFACT_DIR", value=ARTIFACT_DIR))
    if step.exports:
        env.append(m.EnvVar(name=OUTPUT_DIR_ENV, value=OUTPUT_DIR))
        outputs = [*(outputs or []), *export_parameters(step)]
    labels, annotations = pod_metadata(step)
    return Container(
        name=name,
        image=image,
        command=argv,
        env=env,
        inputs=[m.Parameter(name=CALL_PARAMETER),
                *([m.Parameter(name=ITEM_PARAMETER)] if mapped else [])],
        outputs=outputs,
        resources=resources(step),
        retry_strategy=retry_strategy(step),
        active_deadline_seconds=_text(timeout_seconds(step.options.timeout)),
        labels=labels,
        annotations=annotations,
        volume_mounts=mounts,
        volumes=volumes,
        init_containers=init,
        working_dir=ctx.working_dir,
        affinity=_colocated() if ctx.colocate else None,
        security_context=security,
        env_from=env_from or None,
        node_selector=dict(sorted(step.options.node_selector.items())) or None,
        tolerations=tolerations(step),
        image_pull_policy=step.options.image_pull_policy,
    )


def step_artifacts(step: StepSpec) -> list[m.Artifact] | None:
    """The step's ``@artifact`` files as Argo output artifacts (saved to the artifact repository,
    shown and opened in the Argo UI); None when it has none."""
    return [m.Artifact(name=a.name, path=f"{ARTIFACT_DIR}/{a.stored_name()}")
            for a in step.artifacts] or None


def _colocated() -> m.Affinity:
    """Pod affinity keeping every pod of a run on the node of the first one."""
    term = m.PodAffinityTerm(
        label_selector=m.LabelSelector(match_labels={ARGO_WORKFLOW_LABEL: "{{workflow.name}}"}),
        topology_key="kubernetes.io/hostname")
    return m.Affinity(pod_affinity=m.PodAffinity(required_during_scheduling_ignored_during_execution=[term]))


def _text(number: int | None) -> str | None:
    return None if number is None else str(number)
