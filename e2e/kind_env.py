"""The kind cluster the e2e suite runs against: pinned add-ons, readiness waits, diagnostics.

Everything the suite installs is pinned in ``versions.py``. kind and kubectl are downloaded for
this machine (linux or darwin, amd64 or arm64) and checked against their published sha256.
Setting up is idempotent, so a cluster kept with ``KALE_ARGO_E2E_KEEP=1`` is reused by the next run.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from versions import (
    ARGO_VERSION,
    HOSTPATH_VERSION,
    KIND_VERSION,
    KUBECTL_VERSION,
    NODE_IMAGE,
    SNAPSHOTTER_VERSION,
)

UI_URL_ENV = "KALE_ARGO_UI_URL"  # kale_argo.cluster.kubernetes.UI_URL_ENV
ROOT = Path(__file__).resolve().parents[1]
E2E_DIR = ROOT / "e2e"
PIPELINES = E2E_DIR / "pipelines"


CLUSTER_NAME = os.environ.get("KALE_E2E_CLUSTER") or "kale-argo-e2e"
# Argo's quick-start is its cluster install in namespace "argo" (plus MinIO, httpbin, webhooks)
NAMESPACE = "argo"
IMAGE = "kale-argo-step:e2e"
RUNNER_SA = "kale-argo-runner"
STEP_SA = "kale-argo-step"
STORAGE_CLASS = "csi-hostpath-sc"

ARGO_MANIFEST = (f"https://github.com/argoproj/argo-workflows/releases/download/{ARGO_VERSION}/"
                 "quick-start-minimal.yaml")
_SNAP = f"https://raw.githubusercontent.com/kubernetes-csi/external-snapshotter/{SNAPSHOTTER_VERSION}"
SNAPSHOT_CRDS = [f"{_SNAP}/client/config/crd/snapshot.storage.k8s.io_{kind}.yaml"
                 for kind in ("volumesnapshotclasses", "volumesnapshotcontents", "volumesnapshots")]
SNAPSHOT_CONTROLLER = [f"{_SNAP}/deploy/kubernetes/snapshot-controller/{name}.yaml"
                       for name in ("rbac-snapshot-controller", "setup-snapshot-controller")]
HOSTPATH_TARBALL = (f"https://github.com/kubernetes-csi/csi-driver-host-path/archive/refs/tags/"
                    f"{HOSTPATH_VERSION}.tar.gz")
ROLLOUT_TIMEOUT = "300s"
# Flags every off-cluster submission passes: the step image loaded into kind and the
# least-privilege step service account. The e2e pipelines ask for ReadWriteOnce marshal volumes
# (kind's local-path storage has no RWX); the seed example adds --colocate for the same reason.
SUBMIT_FLAGS = ("--namespace", NAMESPACE, "--image", IMAGE, "--service-account", STEP_SA)
COLOCATE = "--colocate"


# --- whether the suite can run here --------------------------------------------------------------

def skip_reason() -> str | None:
    """Why the e2e suite cannot run on this machine (one line), or None when it can."""
    if os.environ.get("KALE_ARGO_E2E") != "1":
        return "the kind e2e suite is opt-in: run `make e2e` (sets KALE_ARGO_E2E=1)"
    if shutil.which("docker") is None:
        return "e2e needs Docker: no `docker` command on PATH"
    try:
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                              capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "e2e needs a running Docker engine: `docker info` did not answer in 20 s"
    if info.returncode != 0:
        last = (info.stderr.strip().splitlines() or ["no answer"])[-1]
        return f"e2e needs a running Docker engine: `docker info` failed ({last})"
    if not _online("https://github.com"):
        return ("e2e needs internet access (https://github.com unreachable): it downloads kind, "
                "kubectl, Argo and the CSI manifests")
    kind_bin = os.environ.get("KALE_E2E_KIND_BIN")
    if kind_bin and not os.access(kind_bin, os.X_OK):
        return f"e2e needs kind: KALE_E2E_KIND_BIN={kind_bin} is not an executable"
    if host_platform() is None and not (kind_bin and os.environ.get("KALE_E2E_KUBECTL_BIN")):
        return (f"e2e downloads kind and kubectl for linux/darwin on amd64/arm64, not "
                f"{platform.system()}/{platform.machine()}: set KALE_E2E_KIND_BIN and KALE_E2E_KUBECTL_BIN")
    if not kind_bin and not _online(_kind_url()):
        return f"e2e needs kind {KIND_VERSION}: {_kind_url()} cannot be downloaded (or set KALE_E2E_KIND_BIN)"
    return None


def _online(url: str, timeout: float = 8.0) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return True
    except urllib.error.HTTPError as exc:  # the host answered
        return exc.code < 500
    except (urllib.error.URLError, OSError, ValueError):
        return False


def host_platform(system: str | None = None, machine: str | None = None) -> tuple[str, str] | None:
    """(os, arch) as kind and kubectl name their downloads, or None on a platform they lack."""
    os_name = (system or platform.system()).lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        (machine or platform.machine()).lower())
    return (os_name, arch) if os_name in ("linux", "darwin") and arch else None


def kind_url(where: tuple[str, str]) -> str:
    """The pinned kind release for ``where`` (its checksum is at ``+ ".sha256sum"``)."""
    return f"https://github.com/kubernetes-sigs/kind/releases/download/{KIND_VERSION}/kind-{where[0]}-{where[1]}"


def kubectl_url(where: tuple[str, str]) -> str:
    """The pinned kubectl release for ``where`` (its checksum is at ``+ ".sha256"``)."""
    return f"https://dl.k8s.io/release/{KUBECTL_VERSION}/bin/{where[0]}/{where[1]}/kubectl"


def _kind_url() -> str:
    where = host_platform()
    return kind_url(where) if where else "(no kind release for this platform)"


def download_tool(url: str, checksum_url: str, target: Path) -> Path:
    """``url`` saved as the executable ``target`` (once), after checking it against ``checksum_url``."""
    if target.is_file():
        return target
    with urllib.request.urlopen(checksum_url, timeout=60) as answer:
        expected = answer.read().decode().split()[0].lower()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=600) as answer, partial.open("wb") as out:
        for chunk in iter(lambda: answer.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != expected:
        partial.unlink()
        raise RuntimeError(f"{url}: sha256 {digest.hexdigest()} is not the published {expected}")
    partial.chmod(0o755)
    partial.replace(target)
    return target


# --- the cluster ---------------------------------------------------------------------------------

@dataclass
class Cluster:
    """A kind cluster with kubectl and the kale-argo CLI pointed at it."""

    kind: Any  # pytest_kind.KindCluster
    bin_dir: Path

    @property
    def kubeconfig(self) -> Path:
        return Path(self.kind.kubeconfig_path).resolve()

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for commands against this cluster (kubectl first on PATH, no Argo or UI vars)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARGO_") and k != UI_URL_ENV}
        env.update(KUBECONFIG=str(self.kubeconfig), PATH=f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}")
        env.update(extra)
        return env

    def kubectl(self, *args: str, input: str | None = None, timeout: float = 600,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run kubectl; on failure (with ``check``) raise with its output."""
        return run(["kubectl", *args], env=self.env(), input=input, timeout=timeout, check=check)

    def kale(self, *args: str, env: dict[str, str] | None = None, timeout: float = 900,
             cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
        """Run this checkout's ``kale-argo`` (never raises on a non-zero exit: tests check it)."""
        exe = Path(sys.executable).with_name("kale-argo")
        argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "kale_argo.cli.main"]
        return run([*argv, *args], env=env or self.env(), timeout=timeout, check=False, cwd=cwd)

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def workflows(self) -> dict[str, dict[str, Any]]:
        """Workflow name -> object, in the e2e namespace."""
        return {w["metadata"]["name"]: w for w in self.json("get", "workflows", "-n", NAMESPACE)["items"]}

    def run_pods(self, run_name: str) -> list[dict[str, Any]]:
        """The pods Argo made for a run."""
        selector = f"workflows.argoproj.io/workflow={run_name}"
        return list(self.json("get", "pods", "-n", NAMESPACE, "-l", selector)["items"])

    def phase(self, run_name: str) -> str:
        wf = self.json("get", "workflow", run_name, "-n", NAMESPACE)
        return str(wf.get("status", {}).get("phase", ""))

    def wait_phase(self, run_name: str, phases: Sequence[str], timeout: float = 600) -> str:
        """Poll the Workflow until its phase is one of ``phases`` (the suite's own clock, not kale's)."""
        deadline = time.monotonic() + timeout
        while True:
            phase = self.phase(run_name)
            if phase in phases or time.monotonic() > deadline:
                return phase
            time.sleep(3)

    def token(self, service_account: str = RUNNER_SA) -> str:
        out = self.kubectl("create", "token", service_account, "-n", NAMESPACE, "--duration=2h")
        return out.stdout.strip()

    def diagnostics(self) -> str:
        """What someone debugging a failure wants first: objects, events, controller logs."""
        parts = []
        for args in (["get", "nodes,pods,pvc", "-A", "-o", "wide"],
                     ["get", "workflows,volumesnapshots,volumesnapshotcontents", "-A", "-o", "wide"],
                     ["get", "events", "-A", "--sort-by=.lastTimestamp"],
                     ["describe", "workflows", "-n", NAMESPACE],
                     ["describe", "pvc,volumesnapshots", "-n", NAMESPACE],
                     ["logs", "-n", NAMESPACE, "deploy/workflow-controller", "--tail=80"],
                     ["logs", "-n", NAMESPACE, "deploy/argo-server", "--tail=40"],
                     ["logs", "-n", NAMESPACE, "deploy/argo-ui", "--tail=40"],
                     ["logs", "-n", "kube-system", "deploy/snapshot-controller", "--tail=40"]):
            out = self.kubectl(*args, check=False, timeout=60)
            parts.append(f"$ kubectl {' '.join(args)}\n{out.stdout}{out.stderr}")
        return "\n".join(parts)

    @contextmanager
    def port_forward(self, target: str, port: int) -> Iterator[int]:
        """``kubectl port-forward`` to ``target`` in the e2e namespace; yields the local port."""
        with self.kind.port_forward(target, port, "-n", NAMESPACE) as local:
            yield local


def run(argv: Sequence[str], *, env: dict[str, str], timeout: float, check: bool,
        input: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a command, echoing it; with ``check``, a failure raises with the command's output."""
    print(f"$ {' '.join(argv)}", flush=True)
    proc = subprocess.run(list(argv), env=env, input=input, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def create_cluster() -> Cluster:
    """A kind cluster (created, or reused when kept) with kubectl of the pinned version on PATH.

    kind and kubectl are the pinned releases for this machine, downloaded into
    .pytest-kind/<cluster>/bin, unless KALE_E2E_KIND_BIN / KALE_E2E_KUBECTL_BIN name binaries.
    """
    from pytest_kind import KindCluster

    cluster = KindCluster(CLUSTER_NAME, image=NODE_IMAGE)
    bin_dir = Path(cluster.path).resolve() / "bin"
    where = host_platform()
    for tool, url, suffix in (("kind", kind_url, ".sha256sum"), ("kubectl", kubectl_url, ".sha256")):
        given = os.environ.get(f"KALE_E2E_{tool.upper()}_BIN")
        link = bin_dir / tool
        if given:
            target = Path(given).resolve()
        else:
            assert where is not None, "skip_reason() lets no unsupported platform through"
            version = KIND_VERSION if tool == "kind" else KUBECTL_VERSION
            target = download_tool(url(where), url(where) + suffix, bin_dir / f"{tool}-{version}")
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
        setattr(cluster, f"{tool}_path", target)  # pytest-kind then downloads nothing (amd64 only)
    cluster.create()
    return Cluster(cluster, bin_dir)


def install(cluster: Cluster) -> None:
    """Snapshot CRDs and controller, the CSI host-path driver, Argo, the step image, our manifests."""
    k = cluster.kubectl
    k("wait", "--for=condition=Ready", "nodes", "--all", f"--timeout={ROLLOUT_TIMEOUT}")
    for url in SNAPSHOT_CRDS:
        k("apply", "-f", url)
    for crd in ("volumesnapshotclasses", "volumesnapshotcontents", "volumesnapshots"):
        k("wait", "--for=condition=Established", f"crd/{crd}.snapshot.storage.k8s.io", "--timeout=120s")
    for url in SNAPSHOT_CONTROLLER:
        k("apply", "-n", "kube-system", "-f", url)
    k("rollout", "status", "-n", "kube-system", "deploy/snapshot-controller", f"--timeout={ROLLOUT_TIMEOUT}")

    checkout = _hostpath_checkout(Path(cluster.kind.path).resolve())
    deploy = checkout / "deploy" / "kubernetes-latest" / "deploy.sh"
    run(["bash", str(deploy)], env=cluster.env(), timeout=900, check=True, cwd=deploy.parent)
    k("wait", "--for=condition=Ready", "pods", "--all", "-n", "default", f"--timeout={ROLLOUT_TIMEOUT}")

    namespace = k("create", "namespace", NAMESPACE, "--dry-run=client", "-o", "yaml").stdout
    k("apply", "-f", "-", input=namespace)
    k("apply", "--server-side", "--force-conflicts", "-n", NAMESPACE, "-f", ARGO_MANIFEST)
    # The quick-start archives step logs to its MinIO, which makes every step's executor read the
    # MinIO secret; kale-argo's runs use no artifacts, and its step role grants no secrets.
    k("delete", "configmap", "artifact-repositories", "-n", NAMESPACE, "--ignore-not-found")
    k("patch", "configmap", "workflow-controller-configmap", "-n", NAMESPACE, "--type=merge",
      "-p", '{"data": {"artifactRepository": null}}')
    k("rollout", "restart", "-n", NAMESPACE, "deploy/workflow-controller")
    for deployment in ("workflow-controller", "argo-server"):
        k("rollout", "status", "-n", NAMESPACE, f"deploy/{deployment}", f"--timeout={ROLLOUT_TIMEOUT}")

    run(["docker", "build", "-t", IMAGE, str(ROOT)], env=cluster.env(), timeout=1800, check=True)
    cluster.kind.load_docker_image(IMAGE)
    k("apply", "-k", str(ROOT / "manifests" / "overlays" / "e2e"))


def _hostpath_checkout(cache: Path) -> Path:
    """The csi-driver-host-path sources at the pinned tag (downloaded once into the cluster's cache).

    At the pinned tag ``deploy/kubernetes-latest`` is a symlink (to kubernetes-1.28, itself one to
    kubernetes-1.27) and its ``deploy.sh`` one to ``../util/deploy-hostpath.sh``: links inside the
    tree, which both extraction paths below keep.
    """
    target = cache / f"csi-driver-host-path-{HOSTPATH_VERSION.lstrip('v')}"
    if not target.is_dir():
        archive = cache / f"csi-driver-host-path-{HOSTPATH_VERSION}.tar.gz"
        urllib.request.urlretrieve(HOSTPATH_TARBALL, archive)
        with tarfile.open(archive) as tar:
            safe_extract(tar, cache)
    return target


def safe_extract(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract ``tar`` into ``dest``, refusing members that would land outside it.

    Python 3.10.12+/3.11.4+/3.12 have ``filter="data"``; on older patch releases (which
    ``requires-python`` allows) the same rules are checked here: no absolute or ``..`` paths, no
    links leaving ``dest``, only files, directories and links.
    """
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = dest.resolve()
    for member in tar.getmembers():
        problem = member_problem(member, root)
        if problem:
            raise RuntimeError(f"refusing to extract {member.name!r}: {problem}")
    tar.extractall(dest)  # every member was checked above


def member_problem(member: tarfile.TarInfo, root: Path) -> str | None:
    """Why extracting ``member`` under ``root`` is unsafe, or None."""
    path = (root / member.name).resolve()
    if Path(member.name).is_absolute() or not path.is_relative_to(root):
        return "it is outside the destination"
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        return "it is a device, fifo or other special file"
    if member.issym():
        link = (path.parent / member.linkname).resolve()
        if Path(member.linkname).is_absolute() or not link.is_relative_to(root):
            return f"it links outside the destination ({member.linkname})"
    if member.islnk() and not (root / member.linkname).resolve().is_relative_to(root):
        return f"it links outside the destination ({member.linkname})"
    return None


def delete_cluster(cluster: Cluster) -> None:
    """Delete the kind cluster unless ``KALE_ARGO_E2E_KEEP=1``."""
    if os.environ.get("KALE_ARGO_E2E_KEEP") == "1":
        print(f"keeping kind cluster {CLUSTER_NAME} (KUBECONFIG={cluster.kubeconfig})")
        return
    cluster.kind.delete()
