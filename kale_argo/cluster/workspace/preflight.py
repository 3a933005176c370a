"""Checks made before anything is created: may the caller create what the run needs?"""

from __future__ import annotations

from ...errors import NotFoundError, WorkspaceError
from ..kube import SNAPSHOT_GROUP, WORKFLOW_GROUP, Kube
from .plan import WorkspacePlan

WORKFLOW_VERBS = ("create",)
SNAPSHOT_VERBS = ("create", "get", "list", "watch", "delete")


def required_access(plan: WorkspacePlan, keep_snapshots: bool = False) -> list[tuple[str, str, str]]:
    """(verb, group, resource) the submission needs in ``plan.namespace``."""
    needed = [(verb, WORKFLOW_GROUP, "workflows") for verb in WORKFLOW_VERBS]
    if plan.to_snapshot():
        verbs = SNAPSHOT_VERBS if keep_snapshots else (*SNAPSHOT_VERBS, "patch")
        needed += [(verb, SNAPSHOT_GROUP, "volumesnapshots") for verb in verbs]
    return needed


def check_access(kube: Kube, plan: WorkspacePlan, keep_snapshots: bool = False) -> None:
    """SelfSubjectAccessReviews for everything the run creates; one WorkspaceError naming all gaps."""
    missing: list[str] = []
    for verb, group, resource in required_access(plan, keep_snapshots):
        try:
            allowed, reason = kube.can_i(plan.namespace, verb, group, resource)
        except NotFoundError:
            return  # no authorization API (some test servers): the create calls will tell
        if not allowed:
            missing.append(f"{verb} {resource}.{group}" + (f" ({reason})" if reason else ""))
    if missing:
        raise WorkspaceError(f"not allowed in namespace {plan.namespace!r}: {'; '.join(missing)}",
                             hint="ask for a Role granting these verbs (see manifests/ for an example),"
                                  " or use --workspace none")
