"""``kale-argo compile SCRIPT``: the pipeline as an Argo Workflow (YAML)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..choices import VOLUME_CLAIM_GC
from .common import add_script_args, load_spec


def register(subparsers: Any) -> None:
    """Add the ``compile`` subcommand."""
    parser = subparsers.add_parser(
        "compile", help="compile a pipeline to an Argo Workflow (YAML)",
        description="Trace SCRIPT and write its Argo Workflow as YAML, to stdout or to a file. "
        "-p values become the Workflow's parameter values (argo submit -p can still override them). "
        "Image of each step: the step's image, else the pipeline's docker_image, else --image, else "
        "python:3.11-slim.")
    add_script_args(parser)
    parser.add_argument("-o", "--output", default="-", metavar="FILE",
                        help="write the YAML to FILE (atomically); '-' for stdout (the default)")
    parser.add_argument("--namespace", default=None, help="the Workflow's namespace")
    parser.add_argument("--image", default=None, help="image for steps that name none")
    parser.add_argument("--service-account", default=None, metavar="SA",
                        help="service account the step pods run as")
    parser.add_argument("--volume-claim-gc", choices=VOLUME_CLAIM_GC, default="OnWorkflowSuccess",
                        help="when Argo deletes the run's volumes (default: OnWorkflowSuccess, so a "
                        "failed run keeps its values for a retry)")
    parser.add_argument("--colocate", action="store_true",
                        help="ReadWriteOnce volumes and every pod of a run on one node")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Trace, compile, write."""
    from .. import app

    spec, values = load_spec(args)
    options = app.CompileOptions(namespace=args.namespace, image=args.image,
                             service_account=args.service_account,
                             volume_claim_gc=args.volume_claim_gc, colocate=args.colocate)
    text = app.compile(spec, values, options)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        app.write_atomic(os.path.abspath(args.output), text)
        print(f"compiled pipeline {spec.name!r} to {args.output}", file=sys.stderr)
    return 0
