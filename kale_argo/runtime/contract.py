"""The step command: one argv, built the same way by the local executor and the Argo compiler.

``python -c BOOTSTRAP --script S --marshal-dir D --call JSON [--param NAME=VALUE]...``

:data:`BOOTSTRAP` is ``python -m kale_argo.runtime`` without the working directory on
``sys.path``: ``-m`` (and ``-c``) put it first, where a ``json.py`` or ``kale_argo.py`` would
shadow the standard library or kale-argo itself. The code still comes from ``sys.path`` as usual
(``PYTHONPATH`` in the pods, the installed package locally), and the module runs as ``-m`` runs
it (``__main__`` is ``kale_argo.runtime.__main__``). ``-P`` would do the same from Python 3.11 on
only.

``--call`` is :meth:`kale_argo.spec.StepSpec.runtime_call` as compact JSON. Parameter values
travel as separate ``--param`` items so Argo can template them (``{{workflow.parameters.x}}``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MODULE = "kale_argo.runtime"
BOOTSTRAP = ("import sys;getattr(sys.flags,'safe_path',0) or sys.path.pop(0);import runpy;"
             f"runpy.run_module('{MODULE}',run_name='__main__',alter_sys=True)")


def step_argv(
    *,
    python: str,
    script: str,
    marshal_dir: str,
    call: Mapping[str, Any],
    params: Mapping[str, str],
) -> list[str]:
    """The argv that runs one step. ``params`` maps each parameter the step reads to its text."""
    argv = [python, "-c", BOOTSTRAP, "--script", script, "--marshal-dir", marshal_dir,
            "--call", json.dumps(call, sort_keys=True, separators=(",", ":"))]
    for name in sorted(params):
        argv += ["--param", f"{name}={params[name]}"]
    return argv


@dataclass(frozen=True)
class StepCommand:
    """A parsed step command."""

    script: str
    marshal_dir: str
    call: dict[str, Any]
    params: dict[str, str] = field(default_factory=dict)


def parse_argv(argv: Sequence[str]) -> StepCommand:
    """Parse the arguments after ``-m kale_argo.runtime`` (inverse of :func:`step_argv`)."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description="Run one step.")
    parser.add_argument("--script", required=True)
    parser.add_argument("--marshal-dir", required=True)
    parser.add_argument("--call", required=True, help="the step call as JSON")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    ns = parser.parse_args(list(argv))
    params: dict[str, str] = {}
    for item in ns.param:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--param {item!r}: expected NAME=VALUE")
        params[name] = value
    return StepCommand(ns.script, ns.marshal_dir, json.loads(ns.call), params)
