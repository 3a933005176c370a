"""Kale's ``@artifact`` files: after a step succeeds, each file it wrote is kept in the run's
marshal folder, ``<marshal dir>/artifacts/<step>/<name><suffix>`` (written atomically), and, in an
Argo pod, also copied to ``$KALE_ARTIFACT_DIR`` for Argo to save as the step's output artifact.

A missing file fails the step (exit 2), as in Kale. Standard library only.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import KaleArgoError
from .marshal.files import atomic_writer

FOLDER = "artifacts"
ENV_VAR = "KALE_ARTIFACT_DIR"


class ArtifactMissing(KaleArgoError):
    """A step finished without writing a file its ``@artifact`` names. Exit code 2."""

    exit_code = 2


def _copy(source: str, target: str) -> None:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(source, "rb") as src, atomic_writer(target) as out:
        import shutil

        shutil.copyfileobj(src, out, 1 << 20)


def collect(marshal_dir: str, call: dict[str, Any], step: str) -> dict[str, str]:
    """Keep the step's artifact files; returns ``{name: kept path}``. Raises ArtifactMissing."""
    kept: dict[str, str] = {}
    for item in call.get("artifacts") or []:
        name, path, stored = str(item["name"]), str(item["path"]), str(item["file"])
        source = os.path.abspath(os.path.expanduser(path))
        if not os.path.isfile(source):
            raise ArtifactMissing(f"step {step!r}: artifact {name!r}: the step wrote no file at "
                                  f"{path!r} (hint: write it before the step returns, or fix "
                                  "@artifact's path)")
        target = os.path.join(marshal_dir, FOLDER, step, stored)
        _copy(source, target)
        kept[name] = target
        pod_dir = os.environ.get(ENV_VAR)
        if pod_dir:
            _copy(source, os.path.join(pod_dir, stored))
        print(f"kale-argo: artifact {name!r} ({path}) kept at {target}", file=sys.stderr)
    return kept


def list_artifacts(marshal_dir: str) -> dict[str, dict[str, str]]:
    """The artifacts a run kept: ``{step: {name: path}}``, sorted."""
    root = os.path.join(marshal_dir, FOLDER)
    result: dict[str, dict[str, str]] = {}
    if not os.path.isdir(root):
        return result
    for step in sorted(os.listdir(root)):
        folder = os.path.join(root, step)
        files = sorted(f for f in os.listdir(folder) if not f.startswith(".")) if os.path.isdir(
            folder) else []
        if files:
            result[step] = {f.split(".", 1)[0]: os.path.join(folder, f) for f in files}
    return result
