"""``kale-argo``: the entry point. Each subcommand lives in its own module with
``register(subparsers)``; errors render as one line (exit 2 for user errors, 1 for failed runs),
with a traceback only under ``--debug``.

``-n/--namespace``, ``--debug``, ``-q`` and ``-v`` are accepted by every subcommand, before or
after it. Results go to stdout; progress, retries, warnings and errors to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from ..version import __version__
from .common import GLOBAL_DEFAULTS, global_parent

# Subcommand modules, in the order ``--help`` lists them.
COMMAND_MODULES = ("run", "compile", "graph", "runs", "schedule", "workspace", "migrate", "completion")

EPILOG = """\
scripts, Kale's way (flags read by `python SCRIPT` and `python -m kale_argo SCRIPT`):
  python SCRIPT                 run the pipeline locally
  python SCRIPT --kfp | --argo  submit it (as `kale-argo submit`)
  python SCRIPT --kfp --dry-run  compile it to SCRIPT.yaml, submit nothing (Kale: --dry-run
                                alone runs locally)
  python SCRIPT -p NAME=VALUE   override a parameter (also -n NS, --watch, -j N, --debug)

environment:
  ARGO_SERVER            the Argo Server (host:port or URL); when set, runs go through it
  ARGO_SECURE            false: the Argo Server speaks plain HTTP (default: https)
  ARGO_INSECURE_SKIP_VERIFY  true: do not verify the Argo Server's certificate (insecure)
  ARGO_BASE_HREF         the Argo Server's base path, e.g. /argo/
  ARGO_TOKEN             the Argo Server's bearer token
  ARGO_NAMESPACE         the namespace when -n is not given
  ARGO_INSTANCEID        the Argo controller instance: set on created runs, selects listed ones
  KUBECONFIG             the kubeconfig (used when no Argo Server is set, and for workspaces)
  REQUESTS_CA_BUNDLE     a private CA for the Argo Server's certificate
  KALE_ARGO_UI_URL       the Argo UI's address, for run links with the kubernetes backend
  KALE_ARGO_WARM_START   0: local steps start as new processes, not forked from a warm server
  NO_COLOR               no colour, even in a terminal

examples:
  kale-argo run pipeline.py -p lr=0.1
  NAME=$(kale-argo submit pipeline.py -o name)
  kale-argo get "$NAME" -o json | jq -r .status.phase
  kale-argo logs -f "$NAME"
  kale-argo graph pipeline.py --format svg > pipeline.svg
  kale-argo schedule pipeline.py --cron '0 3 * * *' --timezone Europe/Paris
  kale-argo template push pipeline.py
"""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="kale-argo", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Run Kale-style @pipeline scripts locally or on Argo Workflows.")
    parser.add_argument("--version", action="version", version=f"kale-argo {__version__}")
    for flags, kwargs in global_parent(suppress=False):
        parser.add_argument(*flags, **kwargs)
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


class _StderrHandler(logging.Handler):
    """Log records to whatever ``sys.stderr`` is now (tests swap it), one line each."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def configure_logging(debug: bool, verbose: int, quiet: int) -> None:
    """Route log records to stderr: warnings (retries) by default, info with -v, debug with
    --debug (or -vv), errors only with -q."""
    level = logging.DEBUG if debug or verbose > 1 else logging.INFO if verbose else \
        logging.ERROR if quiet else logging.WARNING
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler):
            root.removeHandler(handler)
    handler = _StderrHandler(level)
    if level != logging.DEBUG:  # other libraries' warnings (urllib3's retries) only with --debug
        handler.addFilter(logging.Filter("kale_argo"))
    detailed = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    handler.setFormatter(detailed if level == logging.DEBUG else logging.Formatter("kale-argo: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    from ..app.report import redact_logs

    redact_logs()  # credentials never reach stderr, even with --debug


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    from .schedule import default_verb

    args_list = default_verb(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(args_list)
    for key, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, key):
            setattr(args, key, value)
    configure_logging(args.debug, args.verbose, args.quiet)
    from ..app.report import report_errors

    return report_errors(lambda: int(args.handler(args) or 0), args.debug)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
