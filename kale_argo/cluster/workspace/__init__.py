"""Workspace volumes of a run: the notebook's PVCs snapshotted, cloned or mounted into every step.

Public surface (the application layer's submit calls these):

- :func:`prepare_workspace` -- discover, preflight, snapshot; returns a :class:`PreparedWorkspace`.
- :class:`PreparedWorkspace` -- ``result`` (the :class:`~kale_argo.spec.RunWorkspace` the compiler applies),
  ``rollback()`` and ``adopt(workflow)`` (both return lines describing what they could not do).
- :func:`explain_pending_claims` -- why a run's PVCs are stuck Pending (their events), or None.
- :func:`plan_workspace` -- what a submit would do, creating nothing (``kale-argo workspace``).
- :func:`marshal_colocation` -- why a run must be co-located (marshal storage without RWX), or None.
"""

from __future__ import annotations

from .api import (
    PreparedWorkspace,
    explain_pending_claims,
    marshal_colocation,
    plan_workspace,
    prepare_workspace,
)

__all__ = ["PreparedWorkspace", "explain_pending_claims", "marshal_colocation", "plan_workspace",
           "prepare_workspace"]
