"""Options and helpers shared by the kale-argo subcommands (parsing only)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigError


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
