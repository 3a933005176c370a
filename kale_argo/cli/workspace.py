"""``kale-argo workspace [SCRIPT]``: what a submit from here would snapshot, clone or mount, and why.

Reads the cluster (this pod, its claims, storage and snapshot classes); creates nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..choices import WORKSPACE_MODES


def add_workspace_args(parser: argparse.ArgumentParser, *, submit: bool = False) -> None:
    """--workspace, --volume, --snapshot-class; with ``submit`` also --keep-snapshots and
    --snapshot-timeout (see :func:`workspace_options`)."""
    parser.add_argument("--workspace", choices=WORKSPACE_MODES, default=None,
                        help="how the notebook's volumes reach the steps (default: snapshot inside a "
                             "pod whose storage supports it, none elsewhere)")
    parser.add_argument("--volume", dest="volumes", action="append", default=[],
                        metavar="CLAIM:/PATH[:MODE]",
                        help="a PVC to snapshot, clone or mount into every step (repeatable)")
    parser.add_argument("--snapshot-class", default=None, metavar="NAME",
                        help="the VolumeSnapshotClass to use (default: the one for the claim's driver)")
    if submit:
        parser.add_argument("--keep-snapshots", action="store_true",
                            help="keep the run's VolumeSnapshots when the run is deleted")
        parser.add_argument("--snapshot-timeout", type=float, default=300.0, metavar="SECONDS",
                            help="how long to wait for snapshots to be ready (default: 300)")


def workspace_options(args: argparse.Namespace) -> Any:
    """The :class:`kale_argo.app.WorkspaceOptions` of :func:`add_workspace_args`' flags."""
    from .. import app

    extra = ({"keep_snapshots": args.keep_snapshots, "snapshot_timeout": args.snapshot_timeout}
             if hasattr(args, "keep_snapshots") else {})
    return app.WorkspaceOptions(mode=args.workspace, volumes=tuple(args.volumes),
                                snapshot_class=args.snapshot_class, **extra)


def register(subparsers: Any) -> None:
    """Add the ``workspace`` subcommand."""
    from .common import add_parser

    parser = add_parser(
        subparsers, "workspace", help="show what a submit would snapshot, clone or mount (creates nothing)",
        description="Show the workspace a submit from here would give the run: this pod's image and "
                    "each PersistentVolumeClaim it mounts, whether it is snapshotted, cloned or "
                    "mounted, and why. Nothing is created. Needs the Kubernetes API (kubeconfig or the "
                    "pod's service account) even when ARGO_SERVER is set: the claims are read there.",
        examples=["kale-argo workspace", "kale-argo workspace pipeline.py -o json",
                  "kale-argo workspace --volume workspace-nb:/home/jovyan:clone"])
    parser.add_argument("script", nargs="?", default=None,
                        help="a Python script with a @pipeline (for its volumes and autosnapshot)")
    parser.add_argument("--pipeline", default=None, help="which pipeline, if the script has several")
    parser.add_argument("--context", default=None, help="kubeconfig context")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig file")
    add_workspace_args(parser)
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Plan the workspace and print it."""
    from .. import app
    from ..views.workspace import plan_lines

    spec = app.load_spec(args.script, args.pipeline) if args.script else None
    plan = app.plan_workspace(spec, workspace_options(args), app.Connection(
        namespace=args.namespace, context=args.context, kubeconfig=args.kubeconfig))
    if args.output == "json":
        print(json.dumps(plan.to_json(), indent=2, sort_keys=True))
    else:
        sys.stdout.write("\n".join(plan_lines(plan)) + "\n")
    return 0
