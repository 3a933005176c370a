"""Step environments off-notebook: the pip packages a run's steps declare, installed once per run.

Steps that need the same packages on the same image share one install: a first DAG task (template
``kale-packages``) runs ``python -m pip install --target DIR ...`` on that image, DIR a folder of
the run on the marshal volume, and each step depending on it finds the packages through
``PYTHONPATH``. Pip's output is that task's log. A step with packages of its own (``@step(packages=
...)``) gets its own install of the pipeline's packages plus its own, so pip resolves them together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from hera.workflows import Container
from hera.workflows import models as m

from ..spec import PipelineSpec, StepSpec
from .resources import container_security
from .step import StepContext, _colocated
from .volumes import VolumePlan

PACKAGES_TEMPLATE = "kale-packages"
PACKAGES_FOLDER = ".kale-packages"
PIP_ENV = {"HOME": "/tmp", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1",
           "PYTHONUNBUFFERED": "1"}


@dataclass
class Install:
    """One pip install: its image, requirements, target folder and the steps that use it."""

    image: str
    packages: tuple[str, ...]
    target: str
    steps: list[StepSpec] = field(default_factory=list)
    template: str = PACKAGES_TEMPLATE


def step_packages(spec: PipelineSpec, step: StepSpec) -> tuple[str, ...]:
    """The pipeline's packages, then the step's own (steps_defaults' included), once each."""
    return tuple(dict.fromkeys([*spec.packages, *step.options.packages]))


def plan_installs(spec: PipelineSpec, images: dict[str, str], volumes: VolumePlan) -> list[Install]:
    """One install per distinct (image, packages) among the steps (``images``: step -> image)."""
    installs: dict[tuple[str, tuple[str, ...]], Install] = {}
    for step in spec.steps:
        packages = step_packages(spec, step)
        if not packages:
            continue
        key = (images[step.name], packages)
        if key not in installs:
            digest = hashlib.sha256("\n".join([key[0], *packages, *spec.pip_index_urls]).encode())
            target = f"{volumes.marshal_dir}/{PACKAGES_FOLDER}/{digest.hexdigest()[:12]}"
            installs[key] = Install(key[0], packages, target)
        installs[key].steps.append(step)
    return list(installs.values())


def pip_argv(python: str, install: Install, index_urls: list[str]) -> list[str]:
    """``python -m pip install`` of the install's packages into its target folder."""
    argv = [python, "-m", "pip", "install", "--no-input", "--progress-bar", "off", "--upgrade",
            "--target", install.target]
    for i, url in enumerate(index_urls):
        argv += ["--index-url" if i == 0 else "--extra-index-url", url]
    return [*argv, *install.packages]


def install_template(ctx: StepContext, install: Install) -> Container:
    """The task that installs ``install``: the first step's image, pull policy and placement."""
    first = install.steps[0]
    opts = first.options
    return Container(
        name=install.template,
        image=install.image,
        command=pip_argv(ctx.python, install, ctx.spec.pip_index_urls),
        env=[m.EnvVar(name=k, value=v) for k, v in sorted(PIP_ENV.items())],
        volume_mounts=list(ctx.volumes.mounts),
        security_context=container_security(first, ctx.pod_security),
        retry_strategy=m.RetryStrategy(limit=m.IntOrString(root="2"), retry_policy="Always",
                                       backoff=m.Backoff(duration="10s", factor=m.IntOrString(root="2"))),
        image_pull_policy=opts.image_pull_policy,
        node_selector=dict(sorted(opts.node_selector.items())) or None,
        tolerations=[m.Toleration.model_validate(t) for t in opts.tolerations] or None,
        affinity=_colocated() if ctx.colocate else None,
    )
