"""Options and helpers shared by the kale-argo subcommands (parsing only)."""

from __future__ import annotations

import argparse
import re
from typing import Any

from ..errors import ConfigError

#: The options every subcommand accepts, before or after its name, and their defaults.
GLOBAL_DEFAULTS: dict[str, Any] = {"namespace": None, "debug": False, "quiet": 0, "verbose": 0}


def global_parent(*, suppress: bool = True) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """``-n/--namespace``, ``--debug``, ``-q``, ``-v`` as (flags, add_argument keywords); with
    ``suppress`` a subcommand's copy leaves an option the user did not give untouched (so one given
    before the subcommand is kept)."""
    default = (lambda value: argparse.SUPPRESS) if suppress else (lambda value: value)
    return [
        (("-n", "--namespace"), {"default": default(None), "metavar": "NS",
                                 "help": "namespace (default: ARGO_NAMESPACE, the kubeconfig context's or "
                                         "the pod's)"}),
        (("--debug",), {"action": "store_true", "default": default(False),
                        "help": "show tracebacks and debug logs (on stderr)"}),
        (("-q", "--quiet"), {"action": "count", "default": default(0),
                             "help": "only results and errors (no progress or retry lines)"}),
        (("-v", "--verbose"), {"action": "count", "default": default(0),
                               "help": "more progress detail on stderr (-vv: debug logs)"}),
    ]


def add_global_args(parser: argparse.ArgumentParser) -> None:
    """Give a subcommand the global options (see :func:`global_parent`)."""
    group = parser.add_argument_group("global options")
    for flags, kwargs in global_parent():
        group.add_argument(*flags, **kwargs)


def add_parser(subparsers: Any, name: str, *, help: str, description: str, examples: list[str],
               aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """A subcommand with its one-line help, its description, examples and the global options."""
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
    parser = subparsers.add_parser(name, help=help, description=description, epilog=epilog,
                                   aliases=list(aliases),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_global_args(parser)
    return parser


def add_script_args(parser: argparse.ArgumentParser) -> None:
    """SCRIPT, -p name=value and --pipeline, for commands that trace a script."""
    parser.add_argument("script", help="a Python script with a @pipeline function")
    parser.add_argument("-p", "--param", dest="params", action="append", default=[],
                        metavar="NAME=VALUE", help="override a pipeline parameter (repeatable)")
    parser.add_argument("--pipeline", default=None, help="which pipeline, if the script has several")


def parse_params(items: list[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; a malformed item is a ConfigError."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"-p {item!r} is not NAME=VALUE", where="-p",
                              hint="e.g. -p learning_rate=0.1")
        result[name.strip()] = value
    return result


def load_spec(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """Trace ``args.script`` and resolve ``-p`` overrides: ``(spec, parameter values)``."""
    from .. import app

    spec = app.load_spec(args.script, args.pipeline)
    return spec, app.resolve(spec, parse_params(args.params))


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> int:
    """argparse type: ``30s``, ``10m``, ``2h``, ``1d``, ``1h30m`` (or plain seconds) as seconds."""
    value = text.strip().lower()
    if value.isdigit():
        return int(value)
    parts = re.findall(r"(\d+)([smhd])", value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 30s, 10m, 2h, 1d)")
    return sum(int(n) * _UNITS[u] for n, u in parts)
