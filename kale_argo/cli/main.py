"""``kale-argo``: the entry point. Each subcommand lives in its own module with
``register(subparsers)``; errors render as one line (exit 2 for user errors, 1 for failed runs),
with a traceback only under ``--debug``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..errors import KaleArgoError

# Subcommand modules, in the order ``--help`` lists them.
COMMAND_MODULES = ("run", "compile", "graph", "runs", "workspace")


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
    return report_errors(lambda: int(args.handler(args) or 0), debug)


def report_errors(action: Callable[[], int], debug: bool) -> int:
    """``action()``'s exit code; a KaleArgoError is one line on stderr and its exit code (raised
    again with ``debug``), Ctrl-C is 130, a closed stdout (``| head``) 1 without a traceback."""
    try:
        return action()
    except KaleArgoError as exc:
        if debug:
            raise
        print(f"kale-argo: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kale-argo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return closed_stdout()


def closed_stdout() -> int:
    """The reader of our output went away (``kale-argo run x.py | head``): stop quietly, exit 1.

    Whatever was running has been stopped by then; stdout is pointed at /dev/null so that the
    interpreter's final flush does not fail with a second traceback.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
