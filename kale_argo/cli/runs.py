"""``kale-argo submit|status|wait|logs|list|stop|terminate|retry|delete``: runs on Argo.

Parsing and rendering only; the work is in :mod:`kale_argo.app`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..choices import BACKENDS, OUTPUTS, PHASES, VOLUME_CLAIM_GC


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """Where the runs live: namespace, backend, Argo Server settings, kubeconfig."""
    group = parser.add_argument_group("cluster")
    group.add_argument("-n", "--namespace", default=None,
                       help="namespace (default: ARGO_NAMESPACE, the kubeconfig context's or the pod's)")
    group.add_argument("--backend", choices=BACKENDS, default="auto",
                       help="argo-server (REST) or kubernetes (Workflow objects); auto: argo-server when "
                            "--argo-server or ARGO_SERVER is set")
    group.add_argument("--argo-server", default=None, metavar="URL",
                       help="the Argo Server, e.g. https://argo.example.com:2746/argo/ "
                            "(default: ARGO_SERVER)")
    group.add_argument("--token", default=None, help="Argo Server bearer token (default: ARGO_TOKEN)")
    group.add_argument("--token-file", default=None, metavar="FILE",
                       help="read the Argo Server token from FILE (keeps it out of the process list)")
    group.add_argument("--insecure-skip-verify", action="store_true", default=None,
                       help="do not verify the Argo Server's TLS certificate (insecure)")
    group.add_argument("--base-href", default=None,
                       help="the Argo Server's base path (default: ARGO_BASE_HREF)")
    group.add_argument("--context", default=None, help="kubeconfig context")
    group.add_argument("--kubeconfig", default=None, metavar="FILE", help="kubeconfig file")


def connection(args: argparse.Namespace) -> Any:
    """The :class:`kale_argo.app.Connection` of :func:`add_connection_args`' flags."""
    from .. import app
    from ..app.manage import read_token

    token = read_token(args.token_file) if args.token_file else args.token
    return app.Connection(backend=args.backend, namespace=args.namespace, argo_server=args.argo_server,
                          token=token, insecure_skip_verify=args.insecure_skip_verify,
                          base_href=args.base_href, context=args.context, kubeconfig=args.kubeconfig)


def _backend(args: argparse.Namespace) -> Any:
    from .. import app

    return app.connect(connection(args))


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


def _phase(text: str) -> list[str]:
    phases = [p.strip().capitalize() for p in text.split(",") if p.strip()]
    for phase in phases:
        if phase not in PHASES:
            raise argparse.ArgumentTypeError(f"{phase!r} is not a phase (one of {', '.join(PHASES)})")
    return phases


def register(subparsers: Any) -> None:
    """Add submit, status, wait, logs, list, stop, terminate, retry and delete."""
    from .common import add_script_args
    from .workspace import add_workspace_args

    submit = subparsers.add_parser("submit", help="compile a pipeline and run it on Argo",
                                   description="Compile SCRIPT's pipeline and create it as a run on Argo "
                                               "(through the Argo Server or the Kubernetes API).")
    add_script_args(submit)
    add_workspace_args(submit, submit=True)
    submit.add_argument("--image", default=None, help="the steps' default image")
    submit.add_argument("--service-account", default=None, help="the pods' service account")
    submit.add_argument("--colocate", action="store_true",
                        help="ReadWriteOnce volumes and every pod of the run on one node "
                             "(for storage without ReadWriteMany)")
    submit.add_argument("--volume-claim-gc", choices=VOLUME_CLAIM_GC,
                        default=None, help="when Argo deletes the run's volumes (default: OnWorkflowSuccess)")
    submit.add_argument("--watch", action="store_true",
                        help="follow the run's steps until it ends; exit 0 only if it Succeeded")
    submit.add_argument("--timeout", type=_positive, default=None, metavar="SECONDS",
                        help="with --watch: give up after SECONDS")
    add_connection_args(submit)
    submit.set_defaults(handler=handle_submit)

    status = subparsers.add_parser("status", help="a run's phase and steps")
    status.add_argument("run")
    status.add_argument("-o", "--output", choices=OUTPUTS, default="table")
    add_connection_args(status)
    status.set_defaults(handler=handle_status)

    wait = subparsers.add_parser("wait", help="wait for a run to end; exit 0 only if it Succeeded")
    wait.add_argument("run")
    wait.add_argument("--timeout", type=_positive, default=None, metavar="SECONDS")
    add_connection_args(wait)
    wait.set_defaults(handler=handle_wait)

    logs = subparsers.add_parser("logs", help="a run's step logs")
    logs.add_argument("run")
    logs.add_argument("--step", default=None, help="only this step")
    logs.add_argument("-f", "--follow", action="store_true", help="keep streaming while the step runs")
    logs.add_argument("--tail", type=int, default=None, metavar="N",
                      help="only the last N lines of each step")
    add_connection_args(logs)
    logs.set_defaults(handler=handle_logs)

    listing = subparsers.add_parser("list", help="runs in the namespace, by pipeline/experiment/phase")
    listing.add_argument("--pipeline", default=None)
    listing.add_argument("--experiment", default=None)
    listing.add_argument("--phase", type=_phase, action="append", default=[], metavar="PHASE[,PHASE]",
                         help=f"only runs in these phases ({', '.join(PHASES)})")
    listing.add_argument("-o", "--output", choices=OUTPUTS, default="table")
    add_connection_args(listing)
    listing.set_defaults(handler=handle_list)

    for verb, text in (("stop", "stop a run (exit handlers still run)"),
                       ("terminate", "terminate a run now (no exit handlers)"),
                       ("retry", "re-run a failed run's failed steps"),
                       ("delete", "delete a run")):
        parser = subparsers.add_parser(verb, help=text)
        parser.add_argument("run")
        add_connection_args(parser)
        parser.set_defaults(handler=handle_action, action=verb)


def handle_submit(args: argparse.Namespace) -> int:
    from .. import app
    from .common import load_spec
    from .workspace import workspace_options

    spec, values = load_spec(args)
    options = app.SubmitOptions(image=args.image, service_account=args.service_account,
                                volume_claim_gc=args.volume_claim_gc, colocate=args.colocate,
                                workspace=workspace_options(args), watch=args.watch, timeout=args.timeout)
    app.submit(spec, values, options, connection(args), out=sys.stdout)
    return 0


def handle_status(args: argparse.Namespace) -> int:
    from .. import app
    from ..views.runs import render_status

    render_status(app.status(_backend(args), args.run), args.output, sys.stdout)
    return 0


def handle_wait(args: argparse.Namespace) -> int:
    from .. import app
    from ..views.runs import render_failure

    _, failed = app.wait(_backend(args), args.run, timeout=args.timeout)
    if failed is None:
        print(f"run {args.run} Succeeded")
        return 0
    render_failure(failed, sys.stdout)
    return 1


def handle_logs(args: argparse.Namespace) -> int:
    from .. import app

    for line in app.logs(_backend(args), args.run, step=args.step, follow=args.follow, tail=args.tail):
        print(f"[{line.step}] {line.text}" if args.step is None else line.text, flush=args.follow)
    return 0


def handle_list(args: argparse.Namespace) -> int:
    from .. import app
    from ..views.runs import render_list

    phases = [p for group in args.phase for p in group]
    runs = app.list_runs(_backend(args), pipeline=args.pipeline, experiment=args.experiment, phases=phases)
    render_list(runs, args.output, sys.stdout)
    return 0


def handle_action(args: argparse.Namespace) -> int:
    from .. import app

    result = getattr(app, args.action)(_backend(args), args.run)
    done = {"stop": "stopping", "terminate": "terminating", "retry": "retrying", "delete": "deleted"}
    suffix = ""
    if isinstance(result, dict):
        suffix = f" ({(result.get('status') or {}).get('phase') or 'Pending'})"
    print(f"run {args.run} {done[args.action]}{suffix if args.action == 'retry' else ''}")
    return 0
