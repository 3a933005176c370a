"""The code every step pod needs, shipped inside the Workflow once: the script and the runtime.

The bundle is a deterministic zip (fixed timestamps, sorted entries, deflated) of the user's script
(as ``script/<name>.py``, so it imports under the same module name as locally), the modules next to
it that it imports (``script/<relative path>``, recorded when it was traced) and, unless the image
is known to have kale-argo, the standard-library-only part of kale_argo that a step imports (the
package without its ``app``, ``argo``, ``cli``, ``cluster``, ``local`` and ``views`` subpackages,
the IR and the SDK beyond its decorators), under ``lib/``. It travels base64-encoded in one
workflow parameter; each step's init container unpacks it into an emptyDir, so the step's own
command stays exactly the step-runtime argv.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ScriptError, UserError
from ..spec import PipelineSpec

BUNDLE_PARAMETER = "kale-bundle"
CODE_VOLUME = "kale-code"
CODE_DIR = "/kale-code"
LIB_DIR = f"{CODE_DIR}/lib"
SCRIPT_DIR = f"{CODE_DIR}/script"
ENV_VAR = "KALE_BUNDLE"
# Linux caps one argv/env string at 128 KiB (MAX_ARG_STRLEN), and Argo hands each pod its template
# in one environment variable: keep the bundle, and so the template, well under it.
MAX_BUNDLE_CHARS = 100_000
UNPACK = ("import base64,io,os,zipfile;"
          f"zipfile.ZipFile(io.BytesIO(base64.b64decode(os.environ['{ENV_VAR}']))).extractall('{CODE_DIR}')")
EXCLUDED_PACKAGES = ("app", "argo", "cli", "cluster", "local", "views")
#: Of the SDK a step imports only the decorators (tracing, options and notebook reading run where
#: the pipeline is compiled); nor does it need the IR.
STEP_SDK = ("__init__.py", "context.py", "decorators.py", "entry.py")
EXCLUDED_FILES = ("spec.py",)
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class CodePlan:
    """How a step finds its code: the script's path in the pod, the bundle (if any), PYTHONPATH."""

    script: str
    bundle: str | None
    pythonpath: str | None


def plan_code(spec: PipelineSpec, script_path: str | None, ship_runtime: bool) -> CodePlan:
    """Ship the script (unless ``script_path`` runs it from a mounted volume) and the runtime."""
    files: dict[str, bytes] = {}
    if script_path is None:
        name = os.path.basename(spec.script.path)
        files[f"script/{name}"] = read_script(spec)
        files.update(read_modules(spec))
        script = f"{SCRIPT_DIR}/{name}"
    else:
        script = script_path
    if ship_runtime:
        files.update(runtime_files())
    if not files:
        return CodePlan(script, None, None)
    bundle = encode(files)
    if len(bundle) > MAX_BUNDLE_CHARS:
        raise UserError(
            f"the script{', the modules it imports' if spec.script.modules else ''} and the runtime "
            f"take {len(bundle)} characters in the Workflow, more than the {MAX_BUNDLE_CHARS} a pod "
            "can receive", where=spec.script.path,
            hint="keep the script (and the modules beside it that it imports) smaller, or run it "
                 "from a workspace volume (--workspace clone)")
    return CodePlan(script, bundle, LIB_DIR if ship_runtime else None)


def read_script(spec: PipelineSpec) -> bytes:
    """The traced script's bytes; a ScriptError if it changed since it was traced."""
    try:
        data = Path(spec.script.path).read_bytes()
    except OSError as exc:
        raise ScriptError(f"cannot read the script: {exc.strerror}", where=spec.script.path) from None
    if hashlib.sha256(data).hexdigest() != spec.script.sha256:
        raise ScriptError("the script changed since it was traced", where=spec.script.path,
                          hint="compile again")
    return data


def read_modules(spec: PipelineSpec) -> dict[str, bytes]:
    """``script/<path>`` -> bytes for the modules next to the script that it imports."""
    root = Path(spec.script.path).parent
    files: dict[str, bytes] = {}
    for rel, digest in spec.script.modules.items():
        where = str(root / rel)
        try:
            data = (root / rel).read_bytes()
        except OSError as exc:
            raise ScriptError(f"cannot read the module {rel!r} the script imports: {exc.strerror}",
                              where=where) from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise ScriptError(f"the module {rel!r} the script imports changed since it was traced",
                              where=where, hint="compile again")
        files[f"script/{rel}"] = data
    return files


@functools.lru_cache(maxsize=1)
def runtime_files() -> dict[str, bytes]:
    """``lib/kale_argo/...`` -> source, for the parts of kale_argo a step pod imports."""
    root = Path(__file__).resolve().parents[1]
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in EXCLUDED_PACKAGES or "__pycache__" in rel.parts:
            continue
        if rel.as_posix() in EXCLUDED_FILES:
            continue
        if rel.parts[0] == "sdk" and rel.name not in STEP_SDK:
            continue
        files[f"lib/kale_argo/{rel.as_posix()}"] = path.read_bytes()
    return files


def encode(files: dict[str, bytes]) -> str:
    """A deterministic zip of ``files`` as base64 text."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name], compresslevel=9)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode(bundle: str) -> dict[str, bytes]:
    """The files in a bundle (the inverse of :func:`encode`; used by tests and ``inspect``)."""
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(bundle))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
