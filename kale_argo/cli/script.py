"""``python -m kale_argo SCRIPT [--kfp | --argo | --dry-run] [-p NAME=VALUE] [--debug]`` (plus
``--namespace``/``--watch`` for submissions, ``--jobs``/``--marshal-dir`` for local runs).

Kale's script flags, for a script whose pipeline call is not under ``__main__`` (or to pass
parameters from the shell): run locally by default, ``--dry-run`` compiles to ``<script>.yaml``,
``--kfp``/``--argo`` submit (``--kfp --dry-run`` compiles, as in Kale).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .common import add_script_args, parse_params, positive_int


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m kale_argo``."""
    parser = argparse.ArgumentParser(prog="python -m kale_argo",
                                     description="Run, compile or submit the pipeline of SCRIPT.")
    add_script_args(parser)
    parser.add_argument("-K", "--kfp", action="store_true", help="submit (Kale's flag)")
    parser.add_argument("--argo", action="store_true", help="submit to Argo")
    parser.add_argument("-D", "--dry-run", action="store_true",
                        help="compile to <script>.yaml next to the script, submit nothing")
    parser.add_argument("-n", "--namespace", default=None, help="namespace to submit to")
    parser.add_argument("--watch", action="store_true", help="after submitting, follow the run")
    parser.add_argument("-j", "--jobs", type=positive_int, default=None, metavar="N",
                        help="local run: at most N steps at once")
    parser.add_argument("--marshal-dir", default=None, metavar="DIR",
                        help="local run: the folder for values passed between steps")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    from .. import app
    from ..app.report import report_errors
    from ..app.script import dispatch

    args = build_parser().parse_args(argv)
    mode = "compile" if args.dry_run else "submit" if (args.kfp or args.argo) else "run"

    def run_script() -> int:
        spec = app.load_spec(args.script, args.pipeline)
        dispatch(spec, parse_params(args.params), mode,
                 run=app.RunOptions(jobs=args.jobs, marshal_dir=args.marshal_dir),
                 submit=app.SubmitOptions(watch=args.watch),
                 connection=app.Connection(namespace=args.namespace))
        return 0

    return report_errors(run_script, args.debug)
