"""Label and annotation keys a run carries (one place; the compiler's labels use the same keys)."""

from __future__ import annotations

from ..argo.metadata import LABEL_EXPERIMENT, LABEL_PIPELINE

#: The compiler's keys for a run's pipeline and experiment (label-safe values).
PIPELINE_LABEL = LABEL_PIPELINE
EXPERIMENT_LABEL = LABEL_EXPERIMENT
#: A random id per submission, so a create whose answer was lost can be recognised (never duplicated).
SUBMISSION_LABEL = "kale-argo.io/submission"

# Argo's own keys.
ARGO_PHASE_LABEL = "workflows.argoproj.io/phase"
ARGO_COMPLETED_LABEL = "workflows.argoproj.io/completed"
ARGO_WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
ARGO_NODE_NAME_ANNOTATION = "workflows.argoproj.io/node-name"
ARGO_NODE_ID_ANNOTATION = "workflows.argoproj.io/node-id"
ARGO_POD_NAME_FORMAT_ANNOTATION = "workflows.argoproj.io/pod-name-format"

DONE_PHASES = frozenset({"Succeeded", "Failed", "Error"})
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Error")
