"""The run's code ConfigMap: created before the Workflow (the pods mount it by name), owned by the
Workflow once it exists (deleted with the run), deleted again if the submission fails.

The compiler builds the object; this module only writes it (the cluster layer never imports the
compiler): plain dicts in, nothing read back.
"""

from __future__ import annotations

import secrets

from ..labels import RUN_LABEL
from .failures import Call
from .kube import Kube, Obj

NAME_PREFIX = "kale-code-"


def new_code_name() -> str:
    """A fresh ConfigMap name for one submission."""
    return f"{NAME_PREFIX}{secrets.token_hex(6)}"


def create_code(kube: Kube, namespace: str, body: Obj) -> None:
    """Create the ConfigMap ``body`` in ``namespace`` (never repeated: a lost answer is an error,
    and the caller deletes the name on failure)."""
    body = {**body, "metadata": {**body.get("metadata", {}), "namespace": namespace}}
    name = str(body["metadata"].get("name", ""))
    kube.call(Call("create", "configmaps", namespace, name, ""), kube.core.create_namespaced_config_map,
              namespace, body, safe=False)


def adopt_code(kube: Kube, namespace: str, name: str, workflow: Obj, owner: Obj) -> None:
    """Label the ConfigMap with its run and make the Workflow its owner (``owner``: an ownerReference)."""
    run = str((workflow.get("metadata") or {}).get("name", ""))
    patch = {"metadata": {"labels": {RUN_LABEL: run}, "ownerReferences": [owner]}}
    kube.call(Call("patch", "configmaps", namespace, name, ""), kube.core.patch_namespaced_config_map,
              name, namespace, patch)


def delete_code(kube: Kube, namespace: str, name: str) -> None:
    """Delete the ConfigMap (idempotent: one already gone is fine)."""
    kube.get(Call("delete", "configmaps", namespace, name, ""), kube.core.delete_namespaced_config_map,
             name, namespace)
