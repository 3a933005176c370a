"""``kale-argo compile SCRIPT``: the pipeline as an Argo Workflow (YAML)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from ..choices import VOLUME_CLAIM_GC
from ..cron import KINDS
from .common import add_parser, add_script_args, load_spec


def register(subparsers: Any) -> None:
    """Add the ``compile`` subcommand."""
    parser = add_parser(
        subparsers, "compile", help="compile a pipeline to an Argo Workflow (YAML or JSON)",
        examples=["kale-argo compile pipeline.py > workflow.yaml",
                  "kale-argo compile pipeline.py -o json | jq .spec.templates",
                  "kale-argo compile pipeline.py --output-file wf.yaml -n kubeflow-user",
                  "argo submit workflow.yaml -p lr=0.1",
                  "kale-argo compile pipeline.py --kind cronworkflow --cron '0 3 * * *' > cron.yaml",
                  "kale-argo compile pipeline.py --kind workflowtemplate > template.yaml"],
        description="Trace SCRIPT and write its Argo Workflow as YAML (or JSON), to stdout or to a file. "
        "Needs no cluster. "
        "-p values become the Workflow's parameter values (argo submit -p can still override them). "
        "Image of each step: the step's image, else the pipeline's docker_image, else --image, else "
        "python:3.11-slim.")
    add_script_args(parser)
    parser.add_argument("-o", "--output", default="yaml", metavar="yaml|json",
                        help="the format, yaml (default) or json (one JSON document per object, as "
                             "kubectl and jq read them); any other value is a file to write "
                             "the YAML to (kept for older scripts: prefer --output-file)")
    parser.add_argument("--output-file", default=None, metavar="FILE",
                        help="write the Workflow to FILE (atomically) instead of stdout")
    parser.add_argument("--image", default=None, help="image for steps that name none")
    parser.add_argument("--service-account", default=None, metavar="SA",
                        help="service account the step pods run as")
    parser.add_argument("--volume-claim-gc", choices=VOLUME_CLAIM_GC, default="OnWorkflowSuccess",
                        help="when Argo deletes the run's volumes (default: OnWorkflowSuccess, so a "
                        "failed run keeps its values for a retry)")
    parser.add_argument("--colocate", action="store_true",
                        help="ReadWriteOnce volumes and every pod of a run on one node")
    kinds = parser.add_argument_group("schedules and templates")
    kinds.add_argument("--kind", choices=KINDS, default=None,
                       help="what to write: workflow (default), cronworkflow (with --cron; for argo cron "
                            "create) or workflowtemplate (for argo template create)")
    kinds.add_argument("--cron", default=None, metavar="EXPR",
                       help="the CronWorkflow's schedule, e.g. '0 3 * * *' (implies --kind cronworkflow)")
    kinds.add_argument("--timezone", default=None, metavar="TZ", help="the schedule's time zone")
    kinds.add_argument("--concurrency-policy", default=None, metavar="Allow|Forbid|Replace",
                       help="the CronWorkflow's concurrency policy")
    kinds.add_argument("--name", default=None,
                       help="the CronWorkflow's or WorkflowTemplate's name (default: the pipeline's)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Trace, compile, write."""
    from .. import app

    if args.cron is not None:  # a malformed schedule fails before the script is even read
        app.Schedule(args.cron, args.timezone, args.concurrency_policy).validated()
    spec, values = load_spec(args)
    options = app.CompileOptions(namespace=args.namespace, image=args.image,
                             service_account=args.service_account,
                             volume_claim_gc=args.volume_claim_gc, colocate=args.colocate)
    fmt, target = args.output, args.output_file
    if fmt not in ("yaml", "json"):
        fmt, target = "yaml", target or (None if fmt == "-" else fmt)
    kind = args.kind or ("cronworkflow" if args.cron is not None else "workflow")
    if kind == "workflow":
        if args.cron or args.timezone or args.concurrency_policy or args.name:
            from ..errors import ConfigError

            raise ConfigError("--cron, --timezone, --concurrency-policy and --name are for --kind "
                              "cronworkflow or workflowtemplate", where="--kind",
                              hint="add --kind cronworkflow --cron EXPR, or --kind workflowtemplate")
        text = app.compile(spec, values, options)
    else:
        if kind == "workflowtemplate" and (args.cron or args.timezone or args.concurrency_policy):
            from ..errors import ConfigError

            raise ConfigError("a WorkflowTemplate has no schedule", where="--cron",
                              hint="use --kind cronworkflow, or leave out --cron, --timezone and "
                                   "--concurrency-policy")
        when = None
        if kind == "cronworkflow":
            if args.cron is None:
                from ..errors import ConfigError

                raise ConfigError("a CronWorkflow needs a schedule", where="--cron",
                                  hint="e.g. --cron '0 3 * * *'")
            when = app.Schedule(args.cron, args.timezone, args.concurrency_policy).validated()
        text = app.compile_kind(spec, values, options, kind, name=args.name, schedule=when)
    if fmt == "json":
        import json

        import yaml

        text = "".join(json.dumps(doc, indent=2) + "\n" for doc in yaml.safe_load_all(text))
    if target is None:
        sys.stdout.write(text)
    else:
        app.write_atomic(os.path.abspath(target), text)
        if not args.quiet:
            print(f"compiled pipeline {spec.name!r} to {target}", file=sys.stderr)
    return 0
