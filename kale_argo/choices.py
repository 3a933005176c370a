"""The values flags and options accept, defined once (standard library only): the CLI offers them
as choices without importing the layers that act on them, and those layers check against them."""

from __future__ import annotations

#: Argo's phases of a run.
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Error")
DONE_PHASES = frozenset({"Succeeded", "Failed", "Error"})
#: How a notebook's volumes reach the steps (``--workspace``); a volume's own mode is one of the
#: first three.
VOLUME_MODES = ("snapshot", "clone", "mount")
WORKSPACE_MODES = (*VOLUME_MODES, "none")
#: When Argo deletes a run's volumes (``volumeClaimGC.strategy``).
VOLUME_CLAIM_GC = ("OnWorkflowSuccess", "OnWorkflowCompletion")
#: The cluster backends (``--backend``): the Argo Server's REST API, or Workflow objects through
#: the Kubernetes API.
BACKENDS = ("auto", "argo-server", "kubernetes")
#: ``-o`` of status and list.
OUTPUTS = ("table", "yaml", "json")
#: ``graph --format``.
GRAPH_FORMATS = ("text", "mermaid", "dot")
#: The account Argo's executor runs as unless told otherwise (``manifests/`` create it).
DEFAULT_EXECUTOR_SERVICE_ACCOUNT = "kale-argo-executor"
