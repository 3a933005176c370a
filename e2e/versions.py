"""Every version the e2e suite pins: the one place that names them (README files refer here).

Each pin can be overridden with the environment variable named beside it. Argo is the line
Kubeflow Pipelines ships and Hera's models target: KFP 2.17.0's manifests install the
workflow-controller v4.0.5 (manifests/kustomize/third-party/argo), and Hera 7.1's models are
generated from Argo v4.0.5's OpenAPI spec (hera/workflows/models/__init__.py).
"""

from __future__ import annotations

import os


def _pin(var: str, default: str) -> str:
    return os.environ.get(var) or default


# component -> (environment variable overriding it, pinned version)
PINS: dict[str, tuple[str, str]] = {
    "kind": ("KALE_E2E_KIND_VERSION", "v0.24.0"),
    # kind v0.24.0's default node image, by digest as kind's release notes ask
    "node image": ("KALE_E2E_NODE_IMAGE", "kindest/node:v1.31.0@sha256:"
                   "53df588e04085fd41ae12de0c3fe4c72f7013bba32a20e7325357a1ac94ba865"),
    "kubectl": ("KALE_E2E_KUBECTL_VERSION", "v1.31.0"),
    "argo workflows": ("KALE_E2E_ARGO_VERSION", "v4.0.5"),
    # the snapshot CRDs/controller; csi-driver-host-path v1.14.1 deploys csi-snapshotter v8.0.1
    "external-snapshotter": ("KALE_E2E_SNAPSHOTTER_VERSION", "v8.0.1"),
    "csi-driver-host-path": ("KALE_E2E_HOSTPATH_VERSION", "v1.14.1"),
}

KIND_VERSION = _pin(*PINS["kind"])
NODE_IMAGE = _pin(*PINS["node image"])
KUBECTL_VERSION = _pin(*PINS["kubectl"])
ARGO_VERSION = _pin(*PINS["argo workflows"])
SNAPSHOTTER_VERSION = _pin(*PINS["external-snapshotter"])
HOSTPATH_VERSION = _pin(*PINS["csi-driver-host-path"])
# what manifests/overlays/kfp-argo-ui deploys next to KFP's controller (tests check they agree)
KFP_ARGO_VERSION = PINS["argo workflows"][1]
