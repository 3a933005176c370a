"""A compiled Workflow as the other Argo kinds that start runs: a CronWorkflow (a schedule) and a
WorkflowTemplate (runs started from the Argo UI or ``argo submit --from workflowtemplate/NAME``).

Both carry the Workflow's spec unchanged (its parameters as ``arguments.parameters``, so they are
the defaults a run can override) and its labels and annotations, also as the metadata every run
they start gets (``workflowMetadata``), so runs stay findable by pipeline and experiment.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..cron import KINDS, check_concurrency_policy, check_schedule, check_timezone
from ..errors import ConfigError
from ..names import dns1123_label, is_dns1123_label

API_VERSION = "argoproj.io/v1alpha1"
CRON_WORKFLOW, WORKFLOW_TEMPLATE = "CronWorkflow", "WorkflowTemplate"
#: Argo names a scheduled run ``<name>-<unix time>`` within 63 characters, so a CronWorkflow's name
#: is at most 52 (validate.go's maxCharsInObjectName minus the timestamp and its dash).
CRON_NAME_MAX = 52
#: A template's name becomes the ``workflows.argoproj.io/workflow-template`` label of its runs.
TEMPLATE_NAME_MAX = 63


@dataclass(frozen=True)
class Schedule:
    """When a CronWorkflow starts runs: a cron expression, its time zone (default: the
    controller's), what happens when a run is still going (``Allow``, ``Forbid``, ``Replace``), and
    whether it starts suspended."""

    cron: str
    timezone: str | None = None
    concurrency_policy: str | None = None
    suspend: bool = False

    def validated(self) -> Schedule:
        """This schedule in Argo's spelling, or a ConfigError naming what Argo would reject."""
        return Schedule(
            check_schedule(self.cron),
            check_timezone(self.timezone),
            check_concurrency_policy(self.concurrency_policy),
            bool(self.suspend),
        )


def object_name(name: str | None, pipeline: str, kind: str) -> str:
    """The CronWorkflow's or WorkflowTemplate's name: ``name`` if valid, else the pipeline's name
    made valid (DNS-1123, within the kind's limit)."""
    limit = CRON_NAME_MAX if kind == CRON_WORKFLOW else TEMPLATE_NAME_MAX
    if name is None:
        return dns1123_label(pipeline, limit) or "pipeline"
    if not is_dns1123_label(name) or len(name) > limit:
        raise ConfigError(
            f"{kind} name {name!r} is not valid",
            where="--name",
            hint=f"at most {limit} lowercase letters, digits and '-', starting and ending "
            f"with a letter or digit, e.g. {dns1123_label(name, limit) or 'nightly-train'}",
        )
    return name


def _run_metadata(workflow: dict[str, Any]) -> dict[str, Any]:
    """The labels and annotations of ``workflow``, which every run it starts carries too."""
    meta = workflow.get("metadata") or {}
    return {k: copy.deepcopy(meta[k]) for k in ("labels", "annotations") if meta.get(k)}


def _wrap(kind: str, workflow: dict[str, Any], name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """An object of ``kind`` named after ``name``, in ``workflow``'s namespace, with its labels and
    annotations, on itself and (``workflowMetadata``) on the runs it starts."""
    run_meta = _run_metadata(workflow)
    if run_meta:
        spec["workflowMetadata"] = run_meta
    namespace = (workflow.get("metadata") or {}).get("namespace")
    metadata = {"name": object_name(name, name, kind), **({"namespace": namespace} if namespace else {}),
                **copy.deepcopy(run_meta)}
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def cron_workflow(workflow: dict[str, Any], name: str, schedule: Schedule) -> dict[str, Any]:
    """A CronWorkflow starting ``workflow`` on ``schedule`` (validated here)."""
    schedule = schedule.validated()
    spec: dict[str, Any] = {"schedules": [schedule.cron], "workflowSpec": copy.deepcopy(workflow["spec"])}
    if schedule.timezone:
        spec["timezone"] = schedule.timezone
    if schedule.concurrency_policy:
        spec["concurrencyPolicy"] = schedule.concurrency_policy
    if schedule.suspend:
        spec["suspend"] = True
    return _wrap(CRON_WORKFLOW, workflow, name, spec)


def workflow_template(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    """A WorkflowTemplate of ``workflow``: its parameters' values are the template's defaults."""
    return _wrap(WORKFLOW_TEMPLATE, workflow, name, copy.deepcopy(workflow["spec"]))


def as_kind(
    workflow: dict[str, Any], kind: str, name: str | None, pipeline: str, schedule: Schedule | None = None
) -> dict[str, Any]:
    """``workflow`` as ``kind`` (one of :data:`KINDS`); a CronWorkflow needs ``schedule``."""
    if kind == "workflow":
        return workflow
    if kind == "cronworkflow":
        if schedule is None:
            raise ConfigError(
                "a CronWorkflow needs a schedule", where="--cron", hint="e.g. --cron '0 3 * * *'"
            )
        return cron_workflow(workflow, object_name(name, pipeline, CRON_WORKFLOW), schedule)
    if kind == "workflowtemplate":
        return workflow_template(workflow, object_name(name, pipeline, WORKFLOW_TEMPLATE))
    raise ConfigError(f"unknown kind {kind!r}", where="--kind", hint=f"one of {', '.join(KINDS)}")
