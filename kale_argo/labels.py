"""Every label and annotation key kale-argo writes or reads, each defined once (standard library only).

Runs are found by these labels (``list --pipeline/--experiment``), submissions recognised by
theirs (a create whose answer was lost is never duplicated), and the snapshots of a run tied to it.
"""

from __future__ import annotations

PREFIX = "kale-argo.io"

# On Workflows (and their pods): how runs are found.
PIPELINE_LABEL = f"{PREFIX}/pipeline"
EXPERIMENT_LABEL = f"{PREFIX}/experiment"
#: A random id per submission, so a create whose answer was lost can be recognised.
SUBMISSION_LABEL = f"{PREFIX}/submission"

# On Workflows: where a run came from.
PIPELINE_ANNOTATION = f"{PREFIX}/pipeline-name"
EXPERIMENT_ANNOTATION = f"{PREFIX}/experiment-name"
VERSION_ANNOTATION = f"{PREFIX}/version"
SCRIPT_ANNOTATION = f"{PREFIX}/script"
SCRIPT_SHA256_ANNOTATION = f"{PREFIX}/script-sha256"
VOLUMES_ANNOTATION = f"{PREFIX}/volumes"
#: The workspace a submit gave the run (mode, reason, pod, image, volumes), as JSON.
WORKSPACE_ANNOTATION = f"{PREFIX}/workspace"

# On VolumeSnapshots a submit creates.
#: The token shared by one submission's snapshots.
SNAPSHOT_TOKEN_LABEL = f"{PREFIX}/workspace"
#: The run a snapshot belongs to (set once the Workflow exists).
RUN_LABEL = f"{PREFIX}/workflow"
SOURCE_CLAIM_ANNOTATION = f"{PREFIX}/source-claim"

# On CronWorkflows and WorkflowTemplates: what their runs need, which they own.
#: The code ConfigMap every run mounts, and the one the previous push made (kept for runs in flight).
CODE_ANNOTATION = f"{PREFIX}/code-configmap"
PREVIOUS_CODE_ANNOTATION = f"{PREFIX}/previous-code-configmap"
#: The marshal-key Secret shared by every run of a schedule or template.
MARSHAL_KEY_ANNOTATION = f"{PREFIX}/marshal-key-secret"
#: The CronWorkflow or WorkflowTemplate a ConfigMap or Secret belongs to.
OWNER_LABEL = f"{PREFIX}/owner"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "kale-argo"

# Argo's own keys.
ARGO_DESCRIPTION_ANNOTATION = "workflows.argoproj.io/description"  # shown by the Argo UI
ARGO_PHASE_LABEL = "workflows.argoproj.io/phase"
ARGO_COMPLETED_LABEL = "workflows.argoproj.io/completed"
ARGO_ARCHIVING_LABEL = "workflows.argoproj.io/workflow-archiving-status"
#: Argo puts it, with the Workflow's name, on every pod of a run.
ARGO_WORKFLOW_LABEL = "workflows.argoproj.io/workflow"
ARGO_NODE_NAME_ANNOTATION = "workflows.argoproj.io/node-name"
ARGO_POD_NAME_FORMAT_ANNOTATION = "workflows.argoproj.io/pod-name-format"
ARGO_INSTANCEID_LABEL = "workflows.argoproj.io/controller-instanceid"

# Kubernetes' own keys.
DEFAULT_SNAPSHOT_CLASS_ANNOTATION = "snapshot.storage.kubernetes.io/is-default-class"
DEFAULT_STORAGE_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
