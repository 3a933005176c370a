"""The Workflow's labels and annotations: how runs are found (by pipeline, by experiment) and traced
back to their script. The keys are :mod:`kale_argo.labels`'."""

from __future__ import annotations

import os

from ..labels import (
    ARGO_DESCRIPTION_ANNOTATION,
    EXPERIMENT_ANNOTATION,
    EXPERIMENT_LABEL,
    PIPELINE_ANNOTATION,
    PIPELINE_LABEL,
    SCRIPT_ANNOTATION,
    SCRIPT_SHA256_ANNOTATION,
    VERSION_ANNOTATION,
    VOLUMES_ANNOTATION,
)
from ..names import label_value
from ..spec import PipelineSpec
from ..version import __version__


def workflow_labels(spec: PipelineSpec, extra: dict[str, str]) -> dict[str, str]:
    """Pipeline and experiment labels (values made valid), then ``extra``; sorted."""
    labels = {PIPELINE_LABEL: label_value(spec.name)}
    if spec.experiment and label_value(spec.experiment):
        labels[EXPERIMENT_LABEL] = label_value(spec.experiment)
    labels.update(extra)
    return dict(sorted(labels.items()))


def workflow_annotations(spec: PipelineSpec, extra: dict[str, str], volumes: str | None) -> dict[str, str]:
    """Raw names, tool version, script name and hash, workspace volumes, then ``extra``; sorted."""
    notes = {
        PIPELINE_ANNOTATION: spec.name,
        VERSION_ANNOTATION: __version__,
        SCRIPT_ANNOTATION: os.path.basename(spec.script.path),
        SCRIPT_SHA256_ANNOTATION: spec.script.sha256,
    }
    if spec.experiment:
        notes[EXPERIMENT_ANNOTATION] = spec.experiment
    if spec.description:
        notes[ARGO_DESCRIPTION_ANNOTATION] = spec.description
    if volumes:
        notes[VOLUMES_ANNOTATION] = volumes
    notes.update(extra)
    return dict(sorted(notes.items()))
