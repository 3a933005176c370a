"""``kale-argo run SCRIPT``: run a pipeline on this machine, one process per step."""

from __future__ import annotations

import argparse
from typing import Any

from .common import add_parser, add_script_args, load_spec, positive_int


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand."""
    parser = add_parser(
        subparsers, "run", help="run a pipeline locally (each step in its own process)",
        description="Run the pipeline of SCRIPT on this machine: each step runs in its own process "
        "through the step runtime, independent steps in parallel. Values pass through a local "
        "marshal folder, by default ./.kale-runs/<pipeline>-<timestamp>/. Needs no cluster.",
        examples=["kale-argo run pipeline.py", "kale-argo run pipeline.py -p lr=0.1 -j 2",
                  "kale-argo graph .kale-runs/<run folder>   # the run's steps, coloured"])
    add_script_args(parser)
    parser.add_argument("-j", "--jobs", type=positive_int, default=None, metavar="N",
                        help="run at most N steps at once (default: the number of CPUs)")
    parser.add_argument("--marshal-dir", default=None, metavar="DIR",
                        help="the folder that holds the values passed between steps")
    parser.add_argument("--no-retries", dest="retries", action="store_false",
                        help="do not retry failed steps (ignore their retry_count)")
    parser.add_argument("--no-warm-start", dest="warm_start", action="store_false", default=None,
                        help="start every step as a new Python process instead of forking it from "
                             "one that imported the script's libraries once (also "
                             "KALE_ARGO_WARM_START=0)")
    parser.add_argument("--no-cache", dest="cache", action="store_false",
                        help="run every step, reusing no outputs from the step cache")
    parser.add_argument("--resume", default=None, metavar="RUN_DIR",
                        help="finish the earlier run in RUN_DIR (its marshal dir): rerun only the "
                             "steps that failed or never ran, after verifying the values kept")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Trace, resolve -p overrides, run; RunFailed propagates (exit 1)."""
    from .. import app

    with app.prestarted(args.script, args.warm_start) as server:  # imports while the script is traced
        spec, values = load_spec(args)
        app.run(spec, values, app.RunOptions(jobs=args.jobs, marshal_dir=args.marshal_dir,
                                             retries=args.retries, warm_start=args.warm_start,
                                             cache=args.cache, resume=args.resume), server=server)
    return 0
