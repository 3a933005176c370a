"""The step command: one argv, built the same way by the local executor and the Argo compiler.

``python -c BOOTSTRAP --script S --marshal-dir D --call JSON [--param NAME=VALUE]... [--item N]
[--cache-dir C]``

:data:`BOOTSTRAP` is ``python -m kale_argo.runtime`` without the working directory on
``sys.path``: ``-m`` (and ``-c``) put it first, where a ``json.py`` or ``kale_argo.py`` would
shadow the standard library or kale-argo itself. The code still comes from ``sys.path`` as usual
(``PYTHONPATH`` in the pods, the installed package locally), and the module runs as ``-m`` runs
it (``__main__`` is ``kale_argo.runtime.__main__``). ``-P`` would do the same from Python 3.11 on
only.

``--call`` is :meth:`kale_argo.spec.StepSpec.runtime_call` as compact JSON. Parameter values
travel as separate ``--param`` items so Argo can template them (``{{workflow.parameters.x}}``).
``--item N`` runs instance N of a fan-out (``train.map(configs)``): the step is then named
``train[N]``, takes element N of the call's ``map_over`` list and saves its outputs as ``key.N``.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

MODULE = "kale_argo.runtime"
OUTPUT_DIR_ENV = "KALE_OUTPUT_DIR"
"""Where a pod writes the small exported outputs Argo reads as output parameters."""
BOOTSTRAP = ("import sys;getattr(sys.flags,'safe_path',0) or sys.path.pop(0);import runpy;"
             f"runpy.run_module('{MODULE}',run_name='__main__',alter_sys=True)")


def step_argv(
    *,
    python: str,
    script: str,
    marshal_dir: str,
    call: Mapping[str, Any],
    params: Mapping[str, str],
    item: str | None = None,
    cache_dir: str | None = None,
) -> list[str]:
    """The argv that runs one step. ``params`` maps each parameter the step reads to its text;
    ``item``: the index of the fan-out instance to run."""
    argv = [python, "-c", BOOTSTRAP, "--script", script, "--marshal-dir", marshal_dir,
            "--call", json.dumps(call, sort_keys=True, separators=(",", ":"))]
    for name in sorted(params):
        argv += ["--param", f"{name}={params[name]}"]
    if item is not None:
        argv += ["--item", item]
    if cache_dir is not None:
        argv += ["--cache-dir", cache_dir]
    return argv


def instance_name(step: str, item: int | str) -> str:
    """The name of instance ``item`` of the fan-out step ``step``: ``train[3]``."""
    return f"{step}[{item}]"


def element_key(key: str, item: int | str) -> str:
    """Where instance ``item`` of a fan-out stores its output ``key``: ``key.3``."""
    return f"{key}.{item}"


def export_name(key: str, kind: str) -> str:
    """The name of the exported form of output ``key`` (an Argo output parameter, a file in
    ``KALE_OUTPUT_DIR``): ``accuracy`` for a compared value, ``configs-items`` for a fan-out's
    indices; characters Argo refuses become ``_``."""
    base = re.sub(r"[^A-Za-z0-9_-]", "_", key)
    return base if kind == "value" else f"{base}-items"


class StepCommand(NamedTuple):
    """A parsed step command (a named tuple: dataclasses would cost every step ~5 ms to import)."""

    script: str
    marshal_dir: str
    call: dict[str, Any]
    params: dict[str, str]
    item: int | None = None
    cache_dir: str | None = None

    def step_name(self) -> str:
        """The step's name, ``train[3]`` for an instance of a fan-out."""
        step = str(self.call["step"])
        return step if self.item is None else instance_name(step, self.item)

    def output_keys(self) -> list[str]:
        """The marshal keys this command stores (``key.N`` for a fan-out's instance N)."""
        keys = [str(k) for k in self.call.get("outputs") or []]
        return keys if self.item is None else [element_key(k, self.item) for k in keys]


@functools.lru_cache(maxsize=1)
def _parser() -> argparse.ArgumentParser:
    """The step command's parser (built once: a warm-start server builds it for its steps;
    parsing does not change it)."""
    # A fixed help width: argparse would otherwise import shutil (and bz2, lzma) in every step
    # to ask the terminal's width, even when no help is printed.
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description="Run one step.",
                                     formatter_class=lambda prog: argparse.HelpFormatter(prog, width=88))
    parser.add_argument("--script", required=True)
    parser.add_argument("--marshal-dir", required=True)
    parser.add_argument("--call", required=True, help="the step call as JSON")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--item", type=int, default=None, help="the fan-out instance to run")
    parser.add_argument("--cache-dir", default=None, help="the step cache (see runtime.cache)")
    return parser


def parse_argv(argv: Sequence[str]) -> StepCommand:
    """Parse the arguments after ``-m kale_argo.runtime`` (inverse of :func:`step_argv`)."""
    parser = _parser()
    ns = parser.parse_args(list(argv))
    params: dict[str, str] = {}
    for item in ns.param:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--param {item!r}: expected NAME=VALUE")
        params[name] = value
    if ns.item is not None and ns.item < 0:
        parser.error(f"--item {ns.item}: expected an index (0 or more)")
    return StepCommand(ns.script, ns.marshal_dir, json.loads(ns.call), params, ns.item, ns.cache_dir)


def when_literal(value: Any) -> str:
    """``value`` (a bool, number or str) as a literal of Argo's ``when`` expressions (govaluate):
    ``true``, ``0.93``, ``'cat'`` (quotes and backslashes escaped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"
