"""The kind cluster the e2e suite runs against: pinned add-ons, readiness waits, diagnostics.

Everything the suite installs is pinned here (override any pin with the environment variable
named beside it). Setting up is idempotent, so a cluster kept with ``KALE_ARGO_E2E_KEEP=1`` is
reused by the next run.
"""

from __future__ import annotations

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

ROOT = Path(__file__).resolve().parents[1]
E2E_DIR = ROOT / "e2e"
PIPELINES = E2E_DIR / "pipelines"


def _pin(var: str, default: str) -> str:
    return os.environ.get(var) or default


KIND_VERSION = _pin("KALE_E2E_KIND_VERSION", "v0.24.0")
NODE_IMAGE = _pin("KALE_E2E_NODE_IMAGE", "kindest/node:v1.31.0")
KUBECTL_VERSION = _pin("KALE_E2E_KUBECTL_VERSION", "v1.31.0")
ARGO_VERSION = _pin("KALE_E2E_ARGO_VERSION", "v3.6.2")
SNAPSHOTTER_VERSION = _pin("KALE_E2E_SNAPSHOTTER_VERSION", "v8.0.1")
HOSTPATH_VERSION = _pin("KALE_E2E_HOSTPATH_VERSION", "v1.14.1")

CLUSTER_NAME = _pin("KALE_E2E_CLUSTER", "kale-argo-e2e")
NAMESPACE = "argo"  # the quick-start install's controller is namespaced: runs live with it
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


def _kind_url() -> str:
    """The pinned kind release for this OS (what pytest-kind downloads)."""
    return (f"https://github.com/kubernetes-sigs/kind/releases/download/{KIND_VERSION}/"
            f"kind-{platform.system().lower()}-amd64")


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
        """The environment for commands against this cluster (kubectl first on PATH, no Argo vars)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARGO_")}
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

    kind and kubectl are the pinned releases pytest-kind downloads into .pytest-kind/, unless
    KALE_E2E_KIND_BIN / KALE_E2E_KUBECTL_BIN name binaries to use instead.
    """
    import pytest_kind.cluster as kind_module

    kind_module.KIND_VERSION = KIND_VERSION  # read by KindCluster when it downloads
    kind_module.KUBECTL_VERSION = KUBECTL_VERSION
    kind_bin, kubectl_bin = os.environ.get("KALE_E2E_KIND_BIN"), os.environ.get("KALE_E2E_KUBECTL_BIN")
    cluster = kind_module.KindCluster(CLUSTER_NAME, image=NODE_IMAGE,
                                      kind_path=Path(kind_bin) if kind_bin else None,
                                      kubectl_path=Path(kubectl_bin) if kubectl_bin else None)
    cluster.create()
    cluster.ensure_kubectl()
    bin_dir = Path(cluster.path).resolve() / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, target in (("kubectl", cluster.kubectl_path), ("kind", cluster.kind_path)):
        link = bin_dir / name
        if not link.exists():
            link.symlink_to(Path(target).resolve())
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
    """The csi-driver-host-path sources at the pinned tag (downloaded once into the cluster's cache)."""
    target = cache / f"csi-driver-host-path-{HOSTPATH_VERSION.lstrip('v')}"
    if not target.is_dir():
        archive = cache / f"csi-driver-host-path-{HOSTPATH_VERSION}.tar.gz"
        urllib.request.urlretrieve(HOSTPATH_TARBALL, archive)
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data")
    return target


def delete_cluster(cluster: Cluster) -> None:
    """Delete the kind cluster unless ``KALE_ARGO_E2E_KEEP=1``."""
    if os.environ.get("KALE_ARGO_E2E_KEEP") == "1":
        print(f"keeping kind cluster {CLUSTER_NAME} (KUBECONFIG={cluster.kubeconfig})")
        return
    cluster.kind.delete()
