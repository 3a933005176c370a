"""Why a run's PersistentVolumeClaims are stuck Pending, from their events."""

from __future__ import annotations

from typing import Any

from ..kube import Kube, Obj

# Pending for these reasons is normal: the claim binds once a pod is scheduled.
NORMAL_REASONS = frozenset({"WaitForFirstConsumer", "ExternalProvisioning", "Provisioning",
                            "WaitForPodScheduled"})
ACCESS_WORDS = ("ReadWriteMany", "access mode", "accessmode", "RWX")


def run_claims(claims: list[Obj], workflow_name: str) -> list[Obj]:
    """The claims a Workflow created (owned by it, or named ``<workflow>-<template>``)."""
    result = []
    for claim in claims:
        meta = claim.get("metadata") or {}
        owners = [o.get("name") for o in meta.get("ownerReferences") or [] if o.get("kind") == "Workflow"]
        if workflow_name in owners or str(meta.get("name", "")).startswith(f"{workflow_name}-"):
            result.append(claim)
    return result


def explain_claim(kube: Kube, namespace: str, claim: Obj) -> str | None:
    """A line saying why ``claim`` is stuck, or None if it is not (or not yet) stuck."""
    meta = claim.get("metadata") or {}
    if (claim.get("status") or {}).get("phase") != "Pending":
        return None
    events = kube.events(namespace, "PersistentVolumeClaim", meta.get("name", ""))
    warnings = [e for e in events if e.get("type") == "Warning" and e.get("reason") not in NORMAL_REASONS]
    if not warnings:
        return None
    last = warnings[-1]
    storage_class = (claim.get("spec") or {}).get("storageClassName") or "the default storage class"
    modes = "/".join((claim.get("spec") or {}).get("accessModes") or [])
    line = (f"claim {meta.get('name')} ({modes}, {storage_class}) is stuck Pending: "
            f"{last.get('reason')}: {' '.join(str(last.get('message', '')).split())}")
    if "ReadWriteMany" in modes and any(w.lower() in line.lower() for w in ACCESS_WORDS):
        line += " (hint: this storage lacks ReadWriteMany: use ReadWriteOnce claims with co-located steps)"
    return line


def explain_pending_claims(api_client: Any, namespace: str, workflow_name: str) -> str | None:
    """One line naming the run's claims stuck Pending with their latest warning events, or None."""
    kube = Kube(api_client)
    lines = [line for claim in run_claims(kube.claims(namespace), workflow_name)
             if (line := explain_claim(kube, namespace, claim))]
    return "; ".join(lines) or None
