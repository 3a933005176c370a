"""The run's marshal key: a Kubernetes Secret made for one run, mounted only into its step pods.

Steps sign every value they save with it (HMAC) and refuse a value without a valid tag, so a value
planted on a shared volume is never unpickled. The Secret is created before the Workflow (the
pods mount it by name), owned by the Workflow once it exists (deleted with the run), and deleted
again if the submission fails. The key itself is never printed or logged.
"""

from __future__ import annotations

import base64
import secrets

from ..labels import MANAGED_BY, MANAGED_BY_LABEL, RUN_LABEL
from ..runtime.marshal.binding import POD_KEY_FILE
from .failures import Call
from .kube import Kube, Obj
from .redact import register_secret

KEY_FIELD = POD_KEY_FILE.rsplit("/", 1)[1]  # the Secret's data key the compiler mounts as that file
KEY_BYTES = 32


def new_key_name() -> str:
    """A fresh Secret name for one submission."""
    return f"kale-argo-marshal-key-{secrets.token_hex(4)}"


def create_run_key(kube: Kube, namespace: str, name: str) -> None:
    """Create the Secret ``name`` holding a new random key (never repeated: a lost answer is an
    error, and the caller deletes the name on failure)."""
    value = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")
    register_secret(value)
    body: Obj = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                 "metadata": {"name": name, "namespace": namespace, "labels": {MANAGED_BY_LABEL: MANAGED_BY}},
                 "data": {KEY_FIELD: value}}
    kube.call(Call("create", "secrets", namespace, name, ""), kube.core.create_namespaced_secret,
              namespace, body, safe=False)


def adopt_run_key(kube: Kube, namespace: str, name: str, workflow: Obj, owner: Obj) -> None:
    """Label the Secret with its run and make the Workflow its owner (``owner``: an ownerReference)."""
    run = str((workflow.get("metadata") or {}).get("name", ""))
    patch = {"metadata": {"labels": {RUN_LABEL: run}, "ownerReferences": [owner]}}
    kube.call(Call("patch", "secrets", namespace, name, ""), kube.core.patch_namespaced_secret,
              name, namespace, patch)


def delete_run_key(kube: Kube, namespace: str, name: str) -> None:
    """Delete the Secret (idempotent: one already gone is fine)."""
    kube.get(Call("delete", "secrets", namespace, name, ""), kube.core.delete_namespaced_secret,
             name, namespace)
