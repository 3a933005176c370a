"""``kale-argo graph SCRIPT``: show the pipeline's DAG (a tree, Mermaid or Graphviz)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..choices import GRAPH_FORMATS
from .common import add_script_args, load_spec


def register(subparsers: Any) -> None:
    """Add the ``graph`` subcommand."""
    parser = subparsers.add_parser(
        "graph", help="show the pipeline's steps and their dependencies",
        description="Trace SCRIPT and print its DAG: a readable tree by default, or Mermaid / "
        "Graphviz (dot) text to paste into docs. Nothing runs.")
    add_script_args(parser)
    parser.add_argument("--format", choices=GRAPH_FORMATS, default="text",
                        help="output format (default: text)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Trace and print."""
    from ..views.graph import render_graph

    spec, _ = load_spec(args)
    sys.stdout.write(render_graph(spec, args.format))
    return 0
