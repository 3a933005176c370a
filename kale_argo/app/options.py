"""The options of the application layer's verbs, as typed frozen values (no keyword sprawl)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..choices import DEFAULT_EXECUTOR_SERVICE_ACCOUNT


@dataclass(frozen=True)
class RunOptions:
    """A local run: at most ``jobs`` steps at once (default: the CPUs), values in ``marshal_dir``
    (default: a fresh ``./.kale-runs/<pipeline>-<timestamp>/``), retries as the steps say; steps
    forked from a warm server unless ``warm_start`` is False (None: ``KALE_ARGO_WARM_START``);
    unchanged steps reuse outputs from the step cache unless ``cache`` is False; ``resume``: the
    marshal folder of an earlier run to finish instead (only what failed or never ran reruns)."""

    jobs: int | None = None
    marshal_dir: str | None = None
    retries: bool = True
    warm_start: bool | None = None
    cache: bool = True
    resume: str | None = None


@dataclass(frozen=True)
class Connection:
    """Where runs live: the backend and how to reach it (flags first, then the argo CLI's
    environment: ARGO_SERVER, ARGO_TOKEN, ARGO_NAMESPACE, ... or the kubeconfig)."""

    backend: str = "auto"
    namespace: str | None = None
    argo_server: str | None = None
    token: str | None = field(default=None, repr=False)
    insecure_skip_verify: bool | None = None
    base_href: str | None = None
    context: str | None = None
    kubeconfig: str | None = None


@dataclass(frozen=True)
class WorkspaceOptions:
    """How the notebook's volumes reach the run (``--workspace``, ``--volume CLAIM:/path[:mode]``)."""

    mode: str | None = None
    volumes: tuple[str, ...] = ()
    snapshot_class: str | None = None
    keep_snapshots: bool = False
    snapshot_timeout: float = 300.0


@dataclass(frozen=True)
class SubmitOptions:
    """A submission: compile settings, the workspace, and whether to follow the run."""

    image: str | None = None
    service_account: str | None = None
    executor_service_account: str | None = DEFAULT_EXECUTOR_SERVICE_ACCOUNT
    """The account Argo's executor runs as in the step pods (its Role ships in ``manifests/``);
    None leaves it to the cluster's default (the step token is then mounted)."""
    volume_claim_gc: str | None = None
    colocate: bool = False
    workspace: WorkspaceOptions = field(default_factory=WorkspaceOptions)
    watch: bool = False
    timeout: float | None = None


@dataclass(frozen=True)
class ListOptions:
    """``list``'s filters beyond pipeline/experiment/phase: a label ``selector`` (``-l``), every
    namespace (``-A``), only running or completed runs, and only those created in the last
    ``since`` seconds."""

    selector: str | None = None
    all_namespaces: bool = False
    running: bool = False
    completed: bool = False
    since: float | None = None


@dataclass(frozen=True)
class LogOptions:
    """``logs``: only the last ``since`` seconds of each step; each line with its timestamp."""

    since: int | None = None
    timestamps: bool = False


@dataclass(frozen=True)
class PublishOptions:
    """A schedule or a template: its name (default: the pipeline's), and the compile settings of
    the runs it starts (as :class:`SubmitOptions`; no notebook workspace)."""

    name: str | None = None
    image: str | None = None
    service_account: str | None = None
    executor_service_account: str | None = DEFAULT_EXECUTOR_SERVICE_ACCOUNT
    volume_claim_gc: str | None = None
    colocate: bool = False
