"""``python -m kale_argo SCRIPT [--kfp | --argo | --dry-run] [-p NAME=VALUE] [--debug]``: see
:mod:`kale_argo.cli.script`."""

from __future__ import annotations

import sys

from .cli.script import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
