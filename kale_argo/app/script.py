"""What a pipeline call does: ``python SCRIPT [--kfp|--argo|--dry-run]`` as Kale's SDK did, and the
Python API's call in a notebook or a library.

Kale's flags are read from the command line only when the pipeline is defined in the script being
run (``python script.py --kfp``): ``--dry-run`` (``-D``) compiles to ``<script>.yaml`` next to the
script (even with ``--kfp``), ``--kfp`` (``-K``) / ``--argo`` submit, otherwise the run is local.
In a notebook or a library the call runs locally and errors raise.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ConfigError, PipelineError
from ..local.warm import WarmStarts
from .options import Connection, RunOptions, SubmitOptions
from .report import report_errors
from .running import prestarted

MODES = ("run", "compile", "submit")
DRY_RUN_NOTE = ("kale-argo: note: --dry-run without --kfp runs the pipeline locally, as Kale does "
                "(compile with --kfp --dry-run or kale-argo compile)")


USAGE = "%(prog)s [--kfp | --argo] [--dry-run] [-p NAME=VALUE] [--watch] [options] (see --help)"


def script_parser(prog: str | None = None, usage: str | None = None) -> argparse.ArgumentParser:
    """The flags of ``python SCRIPT``: Kale's (``-K/--kfp``, ``-D/--dry-run``) and kale-argo's.

    Strict, as Kale's: anything else is a usage error (exit 2)."""
    from ..choices import BACKENDS

    parser = argparse.ArgumentParser(prog=prog, usage=usage or USAGE,
                                     description="Run the pipeline locally; --kfp (or "
                                     "--argo) submits it, --kfp --dry-run compiles it to SCRIPT.yaml.")
    parser.add_argument("-K", "--kfp", action="store_true", help="submit to Argo (Kale's flag)")
    parser.add_argument("--argo", action="store_true", help="the same as --kfp")
    parser.add_argument("-D", "--dry-run", action="store_true",
                        help="with --kfp: compile to <script>.yaml, submit nothing; alone: run "
                             "locally (as Kale)")
    parser.add_argument("-p", "--param", dest="params", action="append", default=[],
                        metavar="NAME=VALUE", help="override a pipeline parameter (every mode)")
    parser.add_argument("--watch", action="store_true", help="after submitting, follow the run")
    parser.add_argument("-n", "--namespace", default=None, help="namespace to submit to")
    parser.add_argument("--image", default=None, help="image for steps that name none")
    parser.add_argument("--service-account", default=None, help="the pods' service account")
    parser.add_argument("--backend", choices=BACKENDS, default="auto", help="how to reach Argo")
    parser.add_argument("--argo-server", default=None, metavar="HOST:PORT",
                        help="the Argo Server (default: ARGO_SERVER, else the pipeline's kfp_host)")
    parser.add_argument("--context", default=None, help="kubeconfig context (kubernetes backend)")
    parser.add_argument("-j", "--jobs", type=_positive, default=None, metavar="N",
                        help="local run: at most N steps at once")
    parser.add_argument("--marshal-dir", default=None, metavar="DIR",
                        help="local run: the folder for values passed between steps")
    parser.add_argument("--no-warm-start", dest="warm_start", action="store_false", default=None,
                        help="local run: start every step as a new Python process")
    parser.add_argument("--resume", default=None, metavar="RUN_DIR",
                        help="local run: finish the earlier run in RUN_DIR, rerunning only the "
                             "steps that failed or never ran")
    parser.add_argument("--no-cache", dest="cache", action="store_false",
                        help="local run: run every step, reusing no outputs from the step cache")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


@dataclass(frozen=True)
class ScriptFlags:
    """What ``python SCRIPT``'s command line asks for."""

    mode: str = "run"
    params: dict[str, str] = field(default_factory=dict)
    debug: bool = False
    run: RunOptions = field(default_factory=RunOptions)
    submit: SubmitOptions = field(default_factory=SubmitOptions)
    connection: Connection = field(default_factory=Connection)


def script_flags(argv: list[str], prog: str | None = None) -> ScriptFlags:
    """Parse ``argv`` strictly (argparse exits 2 with a usage line on anything unknown)."""
    return flags_from_args(script_parser(prog).parse_args(argv))


def flags_from_args(args: argparse.Namespace) -> ScriptFlags:
    """:class:`ScriptFlags` from what :func:`script_parser` parsed."""
    submit = args.kfp or args.argo
    mode = "compile" if submit and args.dry_run else "submit" if submit else "run"
    if args.dry_run and not submit:
        print(DRY_RUN_NOTE, file=sys.stderr)
    params: dict[str, str] = {}
    for item in args.params:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"-p {item!r} is not NAME=VALUE", where="-p",
                              hint="e.g. -p learning_rate=0.1")
        params[name.strip()] = value
    return ScriptFlags(
        mode=mode, params=params, debug=args.debug,
        run=RunOptions(jobs=args.jobs, marshal_dir=args.marshal_dir, warm_start=args.warm_start,
                       cache=args.cache, resume=args.resume),
        submit=SubmitOptions(image=args.image, service_account=args.service_account,
                             watch=args.watch),
        connection=Connection(backend=args.backend, namespace=args.namespace,
                              argo_server=args.argo_server, context=args.context))


def script_mode(argv: list[str]) -> tuple[str, bool]:
    """``("submit" | "compile" | "run", debug)`` from the script's flags in ``argv``."""
    flags = script_flags(argv)
    return flags.mode, flags.debug


def pipeline_called(pipe: Any, args: tuple[Any, ...], params: Mapping[str, Any], where: str) -> Any:
    """Calling ``pipe(**params)`` at ``where``: in the script being run, its flags choose the mode
    and errors end the process as the CLI's do; elsewhere it runs locally and errors raise."""
    as_script = pipe.func.__module__ == "__main__"
    flags = ScriptFlags()
    if as_script:
        try:
            flags = script_flags(sys.argv[1:], prog=f"python {os.path.basename(sys.argv[0])}")
        except ConfigError as exc:
            print(f"kale-argo: error: {exc.one_line()}", file=sys.stderr)
            raise SystemExit(exc.exit_code) from None
    debug = flags.debug

    def call() -> Any:
        if args:
            raise PipelineError(f"pipeline {pipe.name!r} was called with positional arguments", where=where,
                                hint=f"pass parameters by name: {pipe.func.__name__}(name=value)")
        script = getattr(sys.modules.get(pipe.func.__module__), "__file__", None)
        with server_for(script if as_script else None, flags) as server:
            spec = pipe.trace()
            values = dict(params)
            values.update(flags.params)  # the command line's -p wins over the call's keywords
            return dispatch(spec, values, flags.mode, where=None if flags.params else where,
                            run=flags.run, submit=flags.submit, connection=flags.connection,
                            server=server)

    if not as_script:
        return call()
    result: list[Any] = []

    def call_and_keep() -> int:
        result.append(call())
        return 0

    code = report_errors(call_and_keep, debug)
    if code:
        raise SystemExit(code)
    return result[0]


def server_for(script: str | None,
               flags: ScriptFlags) -> contextlib.AbstractContextManager[WarmStarts | None]:
    """The fork server of a local run of the file ``script``, started before the pipeline is traced
    (:func:`.running.prestarted`); None for another mode, or no script."""
    if script is None or flags.mode != "run":
        return contextlib.nullcontext()
    return prestarted(script, flags.run.warm_start)


def dispatch(spec: Any, params: Mapping[str, Any] | None, mode: str, *, where: str | None = None,
             run: RunOptions | None = None, submit: SubmitOptions | None = None,
             connection: Connection | None = None, server: WarmStarts | None = None) -> Any:
    """Run (``"run"``), compile next to the script (``"compile"``) or submit (``"submit"``) ``spec``.

    Returns the LocalRun, the YAML's path, or the submitted run's name. A bad parameter is reported
    at ``where`` (the pipeline call's ``file:line``), else as ``-p NAME``. ``server``: a local run's
    fork server, from :func:`server_for`.
    """
    from . import compiling
    from .pipelines import resolve

    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}", hint=f"one of {', '.join(MODES)}")
    values = resolve(spec, params, where)
    if mode == "submit" and spec.kfp_host and not (connection and connection.argo_server) \
            and not os.environ.get("ARGO_SERVER"):
        # Kale's kfp_host: where --kfp submits; here the Argo Server of the argo-server backend
        connection = replace(connection or Connection(), argo_server=spec.kfp_host)
    if mode == "run":
        from .running import run as run_local

        return run_local(spec, values, run, server=server)
    if mode == "compile":
        path = compiling.compiled_path(spec.script.path)
        compiling.write_atomic(path, compiling.compile(spec, values))
        for note in compiling.compile_notes(spec):
            print(f"kale-argo: note: {note}", file=sys.stderr)
        print(f"compiled pipeline {spec.name!r} to {path}", file=sys.stdout)
        return path
    from .submitting import submit as submit_run

    return submit_run(spec, values, submit, connection).name
