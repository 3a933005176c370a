"""The code every step pod needs, shipped once per run: the script, its modules and the runtime.

By default the code travels in a ConfigMap, a second object beside the Workflow (``compile`` writes
it as the YAML's first document; ``submit`` creates it just before the Workflow, owned by it): the
script as a plain text key, readable in review, and a deterministic zip (fixed timestamps, sorted
entries, deflated) of the modules next to it that it imports (``script/<relative path>``) and,
unless the image is known to have kale-argo, the standard-library-only part of kale_argo a step
imports (the package without ``app``, ``argo``, ``cli``, ``cluster``, ``local``, ``views``, the IR
and the SDK beyond its decorators) under ``lib/``. Every step mounts it read-only at ``/kale-code``
(``script/<name>.py`` and ``code.zip``) and finds the zipped modules through ``PYTHONPATH``
(``code.zip/lib``, ``code.zip/script``: Python's zipimport), so the step's command stays exactly
the step-runtime argv and no init container is needed. Why a ConfigMap: Argo hands each pod its
template in one environment variable, which Linux caps at 128 KiB (MAX_ARG_STRLEN), so code inside
the Workflow (a parameter, an inline ``raw`` artifact) cannot pass that size; a ConfigMap holds up
to 1 MiB, zipped.

``inline`` shipping (for a backend without the Kubernetes API) is the older form: the zip of
everything, base64-encoded in the workflow parameter ``kale-bundle`` and unpacked by an init
container in each step, at most 100,000 characters.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ScriptError, UserError
from ..labels import MANAGED_BY, MANAGED_BY_LABEL
from ..spec import PipelineSpec

BUNDLE_PARAMETER = "kale-bundle"
CODE_VOLUME = "kale-code"
CODE_DIR = "/kale-code"
LIB_DIR = f"{CODE_DIR}/lib"
SCRIPT_DIR = f"{CODE_DIR}/script"
ENV_VAR = "KALE_BUNDLE"
# Linux caps one argv/env string at 128 KiB (MAX_ARG_STRLEN), and Argo hands each pod its template
# in one environment variable: keep the inline bundle, and so the template, well under it.
MAX_BUNDLE_CHARS = 100_000
UNPACK = ("import base64,io,os,zipfile;"
          f"zipfile.ZipFile(io.BytesIO(base64.b64decode(os.environ['{ENV_VAR}']))).extractall('{CODE_DIR}')")
EXCLUDED_PACKAGES = ("app", "argo", "cli", "cluster", "local", "views")
#: Of the SDK a step imports only the decorators and `when` (tracing, options and notebook reading
#: run where the pipeline is compiled); nor does it need the IR.
STEP_SDK = ("__init__.py", "context.py", "decorators.py", "entry.py", "flow.py", "refs.py")
EXCLUDED_FILES = ("spec.py", "cron.py", "lazy.py")
_EPOCH = (1980, 1, 1, 0, 0, 0)

SHIPPING = ("configmap", "inline")
SCRIPT_KEY = "script"
ZIP_KEY = "code.zip"
ZIP_PATH = f"{CODE_DIR}/{ZIP_KEY}"
CODE_NAME_PREFIX = "kale-code-"
CODE_COMPONENT_LABEL = "app.kubernetes.io/component"
CODE_COMPONENT = "kale-argo-code"
# Kubernetes refuses a ConfigMap whose data and binaryData together exceed 1 MiB.
MAX_CONFIGMAP_BYTES = 1024 * 1024
CODE_MODE = 0o444


@dataclass(frozen=True)
class CodeConfigMap:
    """The run's code as a ConfigMap: its name, text and binary keys, and where each key is mounted."""

    name: str
    data: dict[str, str]
    binary_data: dict[str, bytes]
    items: dict[str, str]
    """key -> path under CODE_DIR"""

    def manifest(self, namespace: str | None) -> dict[str, Any]:
        """The ConfigMap object (immutable: a run's code never changes)."""
        meta: dict[str, Any] = {"name": self.name, "labels": {
            CODE_COMPONENT_LABEL: CODE_COMPONENT, MANAGED_BY_LABEL: MANAGED_BY}}
        if namespace:
            meta["namespace"] = namespace
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                                "immutable": True}
        if self.data:
            body["data"] = dict(self.data)
        if self.binary_data:
            body["binaryData"] = {k: base64.b64encode(v).decode("ascii") for k, v in self.binary_data.items()}
        return body


@dataclass(frozen=True)
class CodePlan:
    """How a step finds its code: the script's path in the pod, the inline bundle or the
    ConfigMap (if any), PYTHONPATH."""

    script: str
    bundle: str | None
    pythonpath: str | None
    configmap: CodeConfigMap | None = field(default=None)


def plan_code(spec: PipelineSpec, script_path: str | None, ship_runtime: bool,
              shipping: str = "configmap", name: str | None = None) -> CodePlan:
    """Ship the script (unless ``script_path`` runs it from a mounted volume) and the runtime, in a
    ConfigMap named ``name`` (default: from its content) or, with ``shipping="inline"``, inline."""
    if shipping == "inline":
        return _plan_inline(spec, script_path, ship_runtime)
    zipped: dict[str, bytes] = {}
    data: dict[str, str] = {}
    binary: dict[str, bytes] = {}
    items: dict[str, str] = {}
    paths = []
    if script_path is None:
        script_name = os.path.basename(spec.script.path)
        source = read_script(spec)
        try:
            data[SCRIPT_KEY] = source.decode("utf-8")
        except UnicodeDecodeError:
            binary[SCRIPT_KEY] = source
        items[SCRIPT_KEY] = f"script/{script_name}"
        zipped.update(read_modules(spec))
        script = f"{SCRIPT_DIR}/{script_name}"
    else:
        script = script_path
    if ship_runtime:
        zipped.update(runtime_files())
        paths.append(f"{ZIP_PATH}/lib")
    if zipped:
        binary[ZIP_KEY] = zip_bytes(zipped)
        items[ZIP_KEY] = ZIP_KEY
        if any(n.startswith("script/") for n in zipped):
            paths.append(f"{ZIP_PATH}/script")
    if not items:
        return CodePlan(script, None, None)
    size = sum(len(v.encode("utf-8")) for v in data.values()) + sum(len(v) for v in binary.values())
    if size > MAX_CONFIGMAP_BYTES:
        raise UserError(
            f"the script{', the modules it imports' if spec.script.modules else ''} and the runtime "
            f"take {size} bytes (the modules zipped), more than the {MAX_CONFIGMAP_BYTES} bytes a "
            "ConfigMap can hold", where=spec.script.path,
            hint="move data out of the code (read it from a volume), or run the script from a "
                 "workspace volume (--workspace clone)")
    digest = hashlib.sha256()
    for key in sorted(items):
        digest.update(key.encode() + b"\0" + (data[key].encode("utf-8") if key in data else binary[key]))
    configmap = CodeConfigMap(name or f"{CODE_NAME_PREFIX}{digest.hexdigest()[:16]}", data, binary, items)
    return CodePlan(script, None, ":".join(paths) or None, configmap)


def _plan_inline(spec: PipelineSpec, script_path: str | None, ship_runtime: bool) -> CodePlan:
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
            hint="keep the script (and the modules beside it that it imports) smaller, submit with "
                 "the Kubernetes API at hand (--backend kubernetes) to ship it in a ConfigMap, or run "
                 "it from a workspace volume (--workspace clone)")
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


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """A deterministic zip of ``files``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name], compresslevel=6)  # 9: 0.1% smaller, 30% slower
    return buffer.getvalue()


def encode(files: dict[str, bytes]) -> str:
    """A deterministic zip of ``files`` as base64 text."""
    return base64.b64encode(zip_bytes(files)).decode("ascii")


def decode(bundle: str) -> dict[str, bytes]:
    """The files in a bundle (the inverse of :func:`encode`; used by tests and ``inspect``)."""
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(bundle))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
