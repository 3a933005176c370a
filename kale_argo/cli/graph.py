"""``kale-argo graph SCRIPT|RUN_FOLDER|RUN``: the pipeline's DAG (a tree, Mermaid, Graphviz, SVG or
PNG); a local run folder or a submitted run is coloured by step status."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..choices import GRAPH_FORMATS as TEXT_FORMATS
from .common import add_parser

#: ``graph --format``: the text formats and the pictures (:mod:`kale_argo.views.svg`).
GRAPH_FORMATS = (*TEXT_FORMATS, "svg", "png")


def register(subparsers: Any) -> None:
    """Add the ``graph`` subcommand."""
    from .runs import add_connection_args

    parser = add_parser(
        subparsers, "graph", help="draw the pipeline's steps, dependencies and values (text, svg, png...)",
        description="Draw a pipeline's DAG, each edge labelled with the values it carries: from SCRIPT "
        "(traced, nothing runs), from a local run's folder (./.kale-runs/...) or from a submitted run "
        "by name, the last two coloured by each step's status. Formats: a readable tree (text), "
        "Mermaid or Graphviz dot to paste into docs, or an SVG/PNG picture (laid out in Python: no "
        "Graphviz needed; PNG needs cairosvg). A run name is read from the cluster (ARGO_SERVER or "
        "the kubeconfig).",
        examples=["kale-argo graph pipeline.py", "kale-argo graph pipeline.py --format svg > dag.svg",
                  "kale-argo graph .kale-runs/demo-20260101-120000 --format svg -o run.svg",
                  "kale-argo graph NAME --format png -o run.png", "kale-argo graph NAME --format mermaid"])
    parser.add_argument("target", metavar="SCRIPT|RUN_FOLDER|RUN",
                        help="a Python script with a @pipeline, a local run's folder, or a run's name")
    parser.add_argument("-p", "--param", dest="params", action="append", default=[],
                        metavar="NAME=VALUE", help="with SCRIPT: override a pipeline parameter")
    parser.add_argument("--pipeline", default=None, help="which pipeline, if the script has several")
    parser.add_argument("--format", choices=GRAPH_FORMATS, default="text",
                        help="output format (default: text)")
    parser.add_argument("-o", "--output", default=None, metavar="FILE",
                        help="write the picture to FILE (atomically) instead of stdout")
    add_connection_args(parser)
    parser.set_defaults(handler=handle)


def _source(args: argparse.Namespace) -> tuple[Any, dict[str, str] | None]:
    """(what to draw, step -> phase or None)."""
    target = args.target
    if os.path.isdir(target):
        from ..app.manage import local_run_graph

        return local_run_graph(target)
    if target.endswith(".py") or os.path.isfile(target):
        from .common import load_spec

        args.script = target
        spec, _ = load_spec(args)
        return spec, None
    from .. import app
    from ..app.manage import run_status
    from ..views.graph import dag_of_workflow
    from .runs import connection

    workflow = app.status(app.connect(connection(args)), target)
    return dag_of_workflow(workflow), run_status(workflow)


def handle(args: argparse.Namespace) -> int:
    """Load what to draw, render, write."""
    source, status = _source(args)
    data: bytes | str
    if args.format in ("svg", "png"):
        from ..views.svg import render_svg, svg_to_png

        svg = render_svg(source, status)
        data = svg_to_png(svg) if args.format == "png" else svg
    else:
        from ..views.graph import render_graph

        data = render_graph(source, args.format, status)
    if args.output:
        from .. import app

        if isinstance(data, bytes):
            _write_bytes(os.path.abspath(args.output), data)
        else:
            app.write_atomic(os.path.abspath(args.output), data)
        if not args.quiet:
            print(f"wrote {args.output}", file=sys.stderr)
    elif isinstance(data, bytes):
        if sys.stdout.isatty():
            from ..errors import ConfigError

            raise ConfigError("a PNG is not for a terminal", where="--format png",
                              hint="write it to a file with -o run.png, or redirect stdout")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(data)
    return 0


def _write_bytes(path: str, data: bytes) -> None:
    import tempfile

    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".kale-graph-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
