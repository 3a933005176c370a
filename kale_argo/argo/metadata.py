"""The Workflow's labels and annotations: how runs are found (by pipeline, by experiment) and traced
back to their script."""

from __future__ import annotations

import os

from .. import __version__
from ..spec import PipelineSpec
from .names import label_value

PREFIX = "kale-argo.io"
LABEL_PIPELINE = f"{PREFIX}/pipeline"
LABEL_EXPERIMENT = f"{PREFIX}/experiment"
ANNOTATION_PIPELINE = f"{PREFIX}/pipeline-name"
ANNOTATION_EXPERIMENT = f"{PREFIX}/experiment-name"
ANNOTATION_VERSION = f"{PREFIX}/version"
ANNOTATION_SCRIPT = f"{PREFIX}/script"
ANNOTATION_SCRIPT_SHA256 = f"{PREFIX}/script-sha256"
ANNOTATION_VOLUMES = f"{PREFIX}/volumes"
ANNOTATION_DESCRIPTION = "workflows.argoproj.io/description"  # shown by the Argo UI


def workflow_labels(spec: PipelineSpec, extra: dict[str, str]) -> dict[str, str]:
    """Pipeline and experiment labels (values made valid), then ``extra``; sorted."""
    labels = {LABEL_PIPELINE: label_value(spec.name)}
    if spec.experiment and label_value(spec.experiment):
        labels[LABEL_EXPERIMENT] = label_value(spec.experiment)
    labels.update(extra)
    return dict(sorted(labels.items()))


def workflow_annotations(spec: PipelineSpec, extra: dict[str, str], volumes: str | None) -> dict[str, str]:
    """Raw names, tool version, script name and hash, workspace volumes, then ``extra``; sorted."""
    notes = {
        ANNOTATION_PIPELINE: spec.name,
        ANNOTATION_VERSION: __version__,
        ANNOTATION_SCRIPT: os.path.basename(spec.script.path),
        ANNOTATION_SCRIPT_SHA256: spec.script.sha256,
    }
    if spec.experiment:
        notes[ANNOTATION_EXPERIMENT] = spec.experiment
    if spec.description:
        notes[ANNOTATION_DESCRIPTION] = spec.description
    if volumes:
        notes[ANNOTATION_VOLUMES] = volumes
    notes.update(extra)
    return dict(sorted(notes.items()))
