"""What the compiler needs besides the pipeline: where and how the Workflow will run."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..choices import DEFAULT_EXECUTOR_SERVICE_ACCOUNT, VOLUME_CLAIM_GC
from ..errors import ConfigError
from ..names import is_dns1123_label, is_dns1123_subdomain, is_image_reference
from ..spec import RunWorkspace, VolumeSpec
from .names import check_label_key, check_label_value


@dataclass(frozen=True)
class CompileOptions:
    """Compile-time settings. ``None`` means "not set": the Workflow leaves the field out.

    Image precedence, for each step: the step's own ``image``, else the pipeline's
    ``docker_image``, else ``image`` (``--image``), else ``default_image`` (e.g. the notebook's image
    pinned by digest), else :data:`kale_argo.spec.DEFAULT_IMAGE`.
    """

    namespace: str | None = None
    image: str | None = None
    service_account: str | None = None
    volume_claim_gc: str = "OnWorkflowSuccess"
    volumes: list[VolumeSpec] | None = None
    """The resolved workspace volumes; overrides the pipeline's ``volumes`` when not None."""
    default_image: str | None = None
    script_path: str | None = None
    """Run the script from this path (on a mounted workspace volume) instead of shipping it."""
    working_dir: str | None = None
    colocate: bool = False
    """ReadWriteOnce claims, and pod affinity keeping all of a run's pods on one node."""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    fs_group: int | None = 100
    """The pods' fsGroup, so images running as a non-root user can write the volumes."""
    python: str = "python"
    ship_runtime: bool = True
    """Ship kale_argo's step runtime with the script; False when every image has kale-argo."""
    executor_service_account: str | None = DEFAULT_EXECUTOR_SERVICE_ACCOUNT
    """The account Argo's executor (its init and wait containers) runs as, holding only its
    WorkflowTaskResult rights (``manifests/``), so step pods need no token of their own. None: the
    executor uses the pods' account, whose token every step then mounts."""
    marshal_key_secret: str | None = None
    """A Secret (key ``key``) every step mounts read-only: the run's key for authenticating values."""
    artifact_outputs: bool = True
    """Steps' ``@artifact`` files become Argo output artifacts (needs an artifact repository);
    False keeps them on the marshal volume only."""
    code_shipping: str = "configmap"
    """How the code reaches the pods: ``configmap`` (a ConfigMap beside the Workflow) or ``inline``
    (a workflow parameter unpacked by an init container; at most 100,000 characters)."""
    code_configmap: str | None = None
    """The code ConfigMap's name; None: ``kale-code-`` and a hash of its content."""

    def with_workspace(self, workspace: RunWorkspace) -> CompileOptions:
        """These options for a run with ``workspace`` (its volumes, image, script location; its
        co-location adds to ``colocate``, its annotations to ``annotations``)."""
        return replace(
            self, volumes=list(workspace.volumes), colocate=self.colocate or workspace.colocate,
            default_image=workspace.image or self.default_image,
            script_path=workspace.script_path or self.script_path,
            working_dir=workspace.working_dir or self.working_dir,
            annotations={**self.annotations, **workspace.annotations})

    def validate(self) -> None:
        """Raise a ConfigError naming the first invalid option."""
        if self.namespace is not None and not is_dns1123_label(self.namespace):
            raise ConfigError(f"namespace {self.namespace!r} is not a valid Kubernetes namespace",
                              where="--namespace", hint="lowercase letters, digits and '-'")
        for flag, image in (("--image", self.image), ("default image", self.default_image)):
            check_image(image, flag)
        if self.service_account is not None and not is_dns1123_subdomain(self.service_account):
            raise ConfigError(f"service account {self.service_account!r} is not a valid name",
                              where="--service-account", hint="lowercase letters, digits, '-' and '.'")
        if self.volume_claim_gc not in VOLUME_CLAIM_GC:
            raise ConfigError(f"volume claim GC {self.volume_claim_gc!r} is not supported",
                              where="--volume-claim-gc", hint=f"one of {', '.join(VOLUME_CLAIM_GC)}")
        for key, value in self.labels.items():
            check_label_key(key, "label")
            check_label_value(value, f"label {key!r}")
        for key in self.annotations:
            check_label_key(key, "annotation")
        if self.code_shipping not in ("configmap", "inline"):
            raise ConfigError(f"code shipping {self.code_shipping!r} is not supported",
                              hint="configmap or inline")
        if self.fs_group is not None and (isinstance(self.fs_group, bool) or self.fs_group < 0):
            raise ConfigError(f"fsGroup {self.fs_group!r} must be a group id >= 0", where="--fs-group")
        for what, path in (("script path", self.script_path), ("working dir", self.working_dir)):
            if path is not None and not path.startswith("/"):
                raise ConfigError(f"{what} {path!r} must be an absolute path in the pod")
        for what, flag, name in (("executor service account", "--executor-service-account",
                                  self.executor_service_account),
                                 ("marshal key secret", "marshal key secret", self.marshal_key_secret),
                                 ("code ConfigMap", "code ConfigMap", self.code_configmap)):
            if name is not None and not is_dns1123_subdomain(name):
                raise ConfigError(f"{what} {name!r} is not a valid name", where=flag,
                                  hint="lowercase letters, digits, '-' and '.'")


def check_image(image: str | None, where: str) -> None:
    """An image reference must be non-empty and have no spaces."""
    if image is not None and not is_image_reference(image):
        raise ConfigError(f"image {image!r} is not a valid image reference (it has spaces)", where=where,
                          hint="e.g. python:3.11-slim or registry/name@sha256:...")
