"""``kale-argo migrate SCRIPT|NOTEBOOK [--write]``: show (or apply) what a Kale SDK script needs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import add_parser


def register(subparsers: Any) -> None:
    """Add the ``migrate`` subcommand."""
    parser = add_parser(
        subparsers, "migrate", help="show or apply the changes a Kale SDK script or notebook needs",
        description="Rewrite kale.sdk imports to kale_argo and the 'python -m kale' deploy line, "
        "and note what kale-argo does differently. Shows a diff; --write applies it.",
        examples=["kale-argo migrate pipeline.py            # show the diff",
                  "kale-argo migrate notebook.ipynb --write  # apply it"])
    parser.add_argument("path", metavar="SCRIPT|NOTEBOOK", help="a .py script or an .ipynb notebook")
    parser.add_argument("--write", action="store_true", help="apply the changes to the file")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Plan, print, and write when asked."""
    from ..app.migrate import plan_migration, write_migration
    from ..views.migrate import render_migration

    migration = plan_migration(args.path)
    if args.write:
        write_migration(migration)
    sys.stdout.write(render_migration(migration, args.write))
    return 0
