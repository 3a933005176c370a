"""``kale-argo``: the entry point. Each subcommand lives in its own module with
``register(subparsers)``; errors render as one line (exit 2 for user errors, 1 for failed runs),
with a traceback only under ``--debug``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from ..version import __version__

# Subcommand modules, in the order ``--help`` lists them.
COMMAND_MODULES = ("run", "compile", "graph", "runs", "workspace", "migrate")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="kale-argo",
        description="Run Kale-style @pipeline scripts locally or on Argo Workflows.")
    parser.add_argument("--version", action="version", version=f"kale-argo {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(args_list)
    from ..app.report import report_errors

    return report_errors(lambda: int(args.handler(args) or 0), debug)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
