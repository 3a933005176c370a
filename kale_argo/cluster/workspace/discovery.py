"""Where kale-argo runs: its own pod, container, pinned image and mounted PersistentVolumeClaims.

Inside a pod the service-account namespace file exists and ``HOSTNAME`` is the pod's name. The
container is the one Kubeflow names after the notebook (the last part of ``NB_PREFIX``), else the
only non-sidecar container. ``KALE_ARGO_NAMESPACE_FILE`` (or the cluster layer's
``KALE_ARGO_SERVICEACCOUNT_DIR``) overrides the namespace file's path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import WorkspaceError
from ..kube import Kube, Obj, service_account_dir

NAMESPACE_FILE_ENV = "KALE_ARGO_NAMESPACE_FILE"
CONTAINER_ENV = "KALE_ARGO_CONTAINER"
NO_DIGEST = "the pod status has no digest"
SIDECARS = frozenset({"istio-proxy", "linkerd-proxy", "vault-agent", "oauth2-proxy", "kube-rbac-proxy"})


@dataclass(frozen=True)
class PodIdentity:
    """Who we are when running in a pod: namespace and pod name (None outside a pod)."""

    namespace: str
    name: str


@dataclass(frozen=True)
class MountedClaim:
    """A PVC the notebook container mounts (``sub_path`` set when only a subdirectory is)."""

    claim: str
    mount_path: str
    sub_path: str | None = None


@dataclass(frozen=True)
class NotebookPod:
    """The notebook pod as discovered: its container, pinned image and mounted claims."""

    namespace: str
    name: str
    container: str
    image: str
    pinned_image: str | None
    working_dir: str | None
    mounts: list[MountedClaim] = field(default_factory=list)
    node: str | None = None
    pin_note: str = NO_DIGEST  # why ``pinned_image`` is None (when it is)


def pod_identity(environ: Mapping[str, str] | None = None) -> PodIdentity | None:
    """Our namespace and pod name when running inside a Kubernetes pod, else None."""
    env = os.environ if environ is None else environ
    path = Path(env.get(NAMESPACE_FILE_ENV) or service_account_dir(env) / "namespace")
    hostname = env.get("HOSTNAME", "").strip()
    try:
        namespace = path.read_text().strip()
    except OSError:
        return None
    if not namespace or not hostname:
        return None
    return PodIdentity(namespace=namespace, name=hostname)


def choose_container(pod: Obj, environ: Mapping[str, str] | None = None) -> Obj:
    """The notebook's container in ``pod`` (see the module docstring for the rules)."""
    env = os.environ if environ is None else environ
    containers = list((pod.get("spec") or {}).get("containers") or [])
    by_name = {c.get("name"): c for c in containers}
    pod_name = (pod.get("metadata") or {}).get("name", "")
    explicit = env.get(CONTAINER_ENV, "")
    if explicit and explicit not in by_name:
        raise WorkspaceError(f"pod {pod_name!r} has no container {explicit!r}",
                             where=CONTAINER_ENV, hint=f"containers: {', '.join(by_name)}")
    wanted = [explicit, env.get("NB_PREFIX", "").rstrip("/").rsplit("/", 1)[-1],
              pod_name.rsplit("-", 1)[0] if pod_name.rsplit("-", 1)[-1].isdigit() else "", pod_name]
    for name in wanted:
        if name and name in by_name:
            return by_name[name]
    main = [c for c in containers if c.get("name") not in SIDECARS]
    if len(main) == 1:
        return main[0]
    raise WorkspaceError(f"cannot tell which container of pod {pod_name!r} is the notebook",
                         hint=f"set {CONTAINER_ENV} to one of: {', '.join(by_name) or 'none'}")


def pin_image(image: str, image_id: str | None) -> str | None:
    """``image`` pinned to the digest in a container status' ``imageID``, or None (see :func:`pin`)."""
    return pin(image, image_id)[0]


def pin(image: str, image_id: str | None, status_image: str | None = None) -> tuple[str | None, str]:
    """``(image pinned by digest or None, why it is not pinned)`` from a container's status.

    The digest is used only under the repository it was recorded for, when that is the container's
    own: ``image`` (as written), else the runtime's ``status_image`` (a short name it expanded):
    ``docker-pullable://repo@sha256:abc`` and ``docker.io/library/repo@sha256:abc`` both give
    ``repo@sha256:abc`` for ``image`` ``repo:tag``. A bare ``sha256:...`` is a local image ID,
    and a digest recorded under another name cannot be pulled by ``image``'s: containerd names
    an image loaded with ``kind load`` (``ctr images import --digests``)
    ``import-YYYY-MM-DD@sha256:...``, a name that exists on that node only.
    """
    if not image_id or "@sha256:" not in image_id:
        return None, NO_DIGEST
    id_repo, digest = image_id.split("://", 1)[-1].rsplit("@", 1)
    for repo in (_repository(image), _repository(status_image or "")):
        if repo and _normalized(repo) == _normalized(id_repo):
            return f"{repo}@{digest}", ""
    return None, (f"the pod status' digest belongs to {id_repo}, not {_repository(image)} (an image "
                  "loaded into the node, e.g. with `kind load`, has no registry digest)")


def _repository(image: str) -> str:
    """``image`` without its tag and digest."""
    repo = image.split("@", 1)[0]
    if repo.rfind(":") > repo.rfind("/"):
        repo = repo[:repo.rfind(":")]
    return repo


def _normalized(repo: str) -> str:
    """A repository as container runtimes spell it in full (``x`` -> ``docker.io/library/x``)."""
    first, _, rest = repo.partition("/")
    if not rest or not ("." in first or ":" in first or first == "localhost"):
        first, rest = "docker.io", repo
    if first in ("index.docker.io", "registry-1.docker.io"):
        first = "docker.io"
    if first == "docker.io" and "/" not in rest:
        rest = f"library/{rest}"
    return f"{first}/{rest}"


def mounted_claims(pod: Obj, container: Obj) -> list[MountedClaim]:
    """The PVCs ``container`` mounts, in mount order."""
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    result: list[MountedClaim] = []
    for mount in container.get("volumeMounts") or []:
        source = (volumes.get(mount.get("name")) or {}).get("persistentVolumeClaim")
        if not source or not source.get("claimName"):
            continue
        path = mount["mountPath"].rstrip("/") or "/"
        result.append(MountedClaim(claim=source["claimName"], mount_path=path,
                                   sub_path=mount.get("subPath") or mount.get("subPathExpr") or None))
    return result


def describe_pod(pod: Obj, environ: Mapping[str, str] | None = None) -> NotebookPod:
    """A pod object as a :class:`NotebookPod`."""
    meta = pod.get("metadata") or {}
    container = choose_container(pod, environ)
    statuses = {s.get("name"): s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    image = container.get("image", "")
    status = statuses.get(container.get("name")) or {}
    pinned, note = pin(image, status.get("imageID"), status.get("image"))
    return NotebookPod(namespace=meta.get("namespace", ""), name=meta.get("name", ""),
                       container=container.get("name", ""), image=image, pinned_image=pinned,
                       working_dir=container.get("workingDir"), mounts=mounted_claims(pod, container),
                       node=(pod.get("spec") or {}).get("nodeName"), pin_note=note)


def discover_notebook(kube: Kube, environ: Mapping[str, str] | None = None) -> NotebookPod | None:
    """The pod we run in, read from the API server; None outside a pod.

    Inside a pod whose object cannot be read, a WorkspaceError says why (the namespace file says
    we are in a pod, so silently ignoring its volumes would surprise).
    """
    identity = pod_identity(environ)
    if identity is None:
        return None
    pod = kube.pod(identity.namespace, identity.name)
    if pod is None:
        raise WorkspaceError(f"running in namespace {identity.namespace!r} but pod {identity.name!r} "
                             "was not found", where="HOSTNAME",
                             hint="run where HOSTNAME is the pod's name, or use --workspace none")
    return describe_pod(pod, environ)
