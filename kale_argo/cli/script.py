"""``python -m kale_argo SCRIPT [--kfp | --argo] [--dry-run] [-p NAME=VALUE] [--debug]`` (plus the
submit options ``--watch``, ``--namespace``, ``--image``... and ``--jobs``/``--marshal-dir`` for
local runs): the flags of ``python SCRIPT`` (:func:`kale_argo.app.script.script_parser`), for a
script whose pipeline call is not under ``__main__``.

As in Kale: run locally by default, ``--kfp``/``--argo`` submit, ``--kfp --dry-run`` compiles to
``<script>.yaml``; ``--dry-run`` alone runs locally. Unknown flags are a usage error (exit 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m kale_argo``."""
    from ..app.script import script_parser

    parser = script_parser("python -m kale_argo", usage="%(prog)s SCRIPT [--kfp | --argo] "
                           "[--dry-run] [-p NAME=VALUE] [--watch] [options] (see --help)")
    parser.description = "Run, compile or submit the pipeline of SCRIPT."
    parser.add_argument("script", help="a Python script with a @pipeline function")
    parser.add_argument("--pipeline", default=None, help="which pipeline, if the script has several")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    from .. import app
    from ..app.report import report_errors
    from ..app.script import dispatch, flags_from_args, server_for

    args = build_parser().parse_args(argv)

    def run_script() -> int:
        flags = flags_from_args(args)
        with server_for(args.script, flags) as server:  # imports while the script is traced
            spec = app.load_spec(args.script, args.pipeline)
            dispatch(spec, flags.params, flags.mode, run=flags.run, submit=flags.submit,
                     connection=flags.connection, server=server)
        return 0

    return report_errors(run_script, args.debug)
