"""Cluster-side costs as figures, for chains of 10, 100 and 1,000 steps.

- containers per step pod: the compiled template's init containers + its main container (Argo
  adds its own ``wait`` sidecar to every pod at run time, and an ``init`` container only for input
  artifacts, which kale-argo does not use).
- bytes of the compiled run (the code ConfigMap and the Workflow, as YAML): in total, per step, and
  the marginal bytes one more step adds (between 100 and 1,000 steps; the code is stored once, in
  the ConfigMap).
- per-step work before user code starts, measured on this machine: a trivial step's whole run as
  its pod runs it (the step command, with the code imported from the mounted ConfigMap's zip through
  ``PYTHONPATH``) and as the local executor runs it (the installed package), each minus a bare
  ``python -c pass``. Image pulls, volume mounts and pod scheduling are the cluster's, not measured.
"""

from __future__ import annotations

import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_compile import write_script
from common import Row, emit, main_args, spread_of

from kale_argo.argo import compile_dict, compile_manifests, compile_yaml
from kale_argo.argo.bundle import CODE_DIR, CODE_VOLUME
from kale_argo.local.executor import step_commands
from kale_argo.sdk.loader import load_pipeline


def figure(name: str, value: float, unit: str, note: str = "") -> Row:
    return Row(name, value, value, unit, "figure (reported)", True, note)


def wall(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def mounted_step(docs: list[dict[str, Any]], root: str) -> tuple[list[str], dict[str, str]]:
    """The first task's argv and environment, with the code ConfigMap's keys written under ``root``
    where the pod mounts them and the pod's paths (code, marshal volume) mapped there."""
    *configmaps, manifest = docs
    (volume,) = [v for v in manifest["spec"]["volumes"] if v["name"] == CODE_VOLUME]
    (code,) = [c for c in configmaps if c["metadata"]["name"] == volume["configMap"]["name"]]
    for item in volume["configMap"]["items"]:
        key = item["key"]
        data = (code["data"][key].encode() if key in code.get("data", {})
                else base64.b64decode(code["binaryData"][key]))
        path = Path(root, "code", item["path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    marshal = manifest["spec"]["templates"]
    template = next(t for t in marshal if "container" in t)
    container = template["container"]
    mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] != CODE_VOLUME
                 and m["mountPath"] != CODE_DIR)
    paths = {CODE_DIR: os.path.join(root, "code"), mount: os.path.join(root, "marshal"),
             "{{workflow.uid}}": "uid"}

    def local(text: str) -> str:
        for pod_path, here in paths.items():
            text = text.replace(pod_path, here)
        return text

    dag = next(t for t in marshal if "dag" in t)
    task = dag["dag"]["tasks"][0]
    inputs = {p["name"]: p.get("value", "") for p in task.get("arguments", {}).get("parameters", [])}
    given = manifest["spec"]["arguments"]["parameters"]
    workflow_params = {p["name"]: str(p.get("value", "")) for p in given}
    argv = [local(a) for a in container.get("command", []) + container.get("args", [])]
    argv = [_substitute(a, inputs, workflow_params) for a in argv]
    env = {e["name"]: local(e["value"]) for e in container.get("env", []) if "value" in e}
    return [sys.executable, *argv[1:]], {**env, "PATH": os.environ.get("PATH", "")}


def _substitute(text: str, inputs: dict[str, str], workflow_params: dict[str, str]) -> str:
    for name, value in inputs.items():
        text = text.replace("{{inputs.parameters." + name + "}}", _substitute(value, {}, workflow_params))
    for name, value in workflow_params.items():
        text = text.replace("{{workflow.parameters." + name + "}}", value)
    return text


def main() -> None:
    args = main_args(__doc__.splitlines()[0])
    sizes = (10, 30) if args.quick else (10, 100, 1000)
    repeat = max(args.repeat, 5)
    rows: list[Row] = []
    sizes_bytes: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="kale-bench-cluster-") as tmp:
        for n in sizes:
            spec = load_pipeline(write_script(tmp, "chain", n)).trace()
            manifest = compile_dict(spec)
            text = compile_yaml(spec)
            sizes_bytes[n] = len(text.encode())
            steps = [t for t in manifest["spec"]["templates"] if "container" in t]
            per_pod = statistics.median(1 + len(t.get("initContainers", [])) + len(t.get("sidecars", []))
                                        for t in steps)
            rows.append(figure(f"chain of {n}: containers per step pod", per_pod, "",
                               "what the template declares (init containers, main, sidecars); "
                               "Argo adds its wait sidecar"))
            rows.append(figure(f"chain of {n}: compiled Workflow", sizes_bytes[n] / 1024, "KiB"))
            rows.append(figure(f"chain of {n}: compiled Workflow per step", sizes_bytes[n] / n / 1024,
                               "KiB", "the code ConfigMap (once per run) shared out"))
        big, mid = sizes[-1], sizes[-2]
        marginal = (sizes_bytes[big] - sizes_bytes[mid]) / (big - mid)
        rows.append(figure(f"bytes one more step adds (between {mid} and {big} steps)",
                           marginal / 1024, "KiB"))
        pod_argv, pod_env = mounted_step(compile_manifests(spec, {"start": 1}), os.path.join(tmp, "pod"))
        local_argv = next(iter(step_commands(spec, {"start": 1}, os.path.join(tmp, "m")).values()))
        pods, bares, runs = [], [], []
        for _ in range(repeat):
            pods.append(wall(pod_argv, pod_env))
            bares.append(wall([sys.executable, "-c", "pass"]))
            runs.append(wall(local_argv))
    bare = statistics.median(bares)
    rows.append(Row("trivial step as its pod runs it (code from the mounted zip) vs python -c pass",
                    statistics.median(pods), bare, "s", "figure (reported)", True,
                    f"+{(statistics.median(pods) - bare) * 1e3:.0f} ms: zipimport of the runtime, "
                    "supervisor fork, value save with fsync, record", spread_of(pods, bares)))
    rows.append(Row("trivial step as the local executor runs it (installed package) vs python -c pass",
                    statistics.median(runs), bare, "s", "figure (reported)", True,
                    f"+{(statistics.median(runs) - bare) * 1e3:.0f} ms: imports, "
                    "supervisor fork, value save with fsync, record", spread_of(runs, bares)))
    emit(rows, args)


if __name__ == "__main__":
    main()
