"""``kale-argo submit|get|status|watch|wait|logs|list|stop|terminate|retry|resubmit|delete``: runs on
Argo, with the argo CLI's flags and output formats.

Parsing and rendering only; the work is in :mod:`kale_argo.app`. Results on stdout, everything
else (progress, the live view, warnings) on stderr.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from ..choices import BACKENDS, PHASES, VOLUME_CLAIM_GC
from .common import add_parser, duration

GET_OUTPUTS = ("table", "wide", "json", "yaml", "name", "summary")
LIST_OUTPUTS = GET_OUTPUTS
SUBMIT_OUTPUTS = ("text", "name", "json", "yaml")
NEEDS = ("Runs are reached through the Argo Server when ARGO_SERVER (or --argo-server) is set, else "
         "through the Kubernetes API (kubeconfig, or the pod's service account).")


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """Where the runs live: backend, Argo Server settings, kubeconfig (``-n`` is global)."""
    group = parser.add_argument_group("cluster")
    group.add_argument("--backend", choices=BACKENDS, default="auto",
                       help="argo-server (REST) or kubernetes (Workflow objects); auto: argo-server when "
                            "--argo-server or ARGO_SERVER is set")
    group.add_argument("--argo-server", "-s", default=None, metavar="URL",
                       help="the Argo Server, e.g. https://argo.example.com:2746/argo/ "
                            "(default: ARGO_SERVER; http://... or ARGO_SECURE=false for plain HTTP)")
    group.add_argument("--token", default=None, help="Argo Server bearer token (default: ARGO_TOKEN)")
    group.add_argument("--token-file", default=None, metavar="FILE",
                       help="read the Argo Server token from FILE (keeps it out of the process list)")
    group.add_argument("--insecure-skip-verify", "-k", action="store_true", default=None,
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


def _regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular expression: {exc}") from None


def _run_parser(sub: Any, name: str, help: str, description: str, examples: list[str],
                aliases: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    parser = add_parser(sub, name, help=help, description=f"{description} {NEEDS}", examples=examples,
                        aliases=aliases)
    parser.add_argument("run", help="the run's name")
    return parser


def register(subparsers: Any) -> None:
    """Add submit, get/status, watch, wait, logs, list, stop, terminate, retry, resubmit and delete."""
    from .common import add_script_args
    from .workspace import add_workspace_args

    submit = add_parser(
        subparsers, "submit", help="compile a pipeline and run it on Argo",
        description="Compile SCRIPT's pipeline and create it as a run on Argo (through the Argo Server "
                    f"or the Kubernetes API). {NEEDS} --workspace/--volume (and a pipeline with volumes) "
                    "need the Kubernetes API as well, even with ARGO_SERVER: PersistentVolumeClaims are "
                    "read and snapshotted there. The run's name (or with -o json|yaml the Workflow) goes "
                    "to stdout, progress to stderr.",
        examples=["kale-argo submit pipeline.py -p lr=0.1", "NAME=$(kale-argo submit pipeline.py -o name)",
                  "kale-argo submit pipeline.py --watch -n kubeflow-user"])
    add_script_args(submit)
    add_workspace_args(submit, submit=True)
    submit.add_argument("-o", "--output", choices=SUBMIT_OUTPUTS, default="text",
                        help="what to print of the created run: text (default), name, json or yaml")
    submit.add_argument("--image", default=None, help="the steps' default image")
    submit.add_argument("--service-account", default=None, help="the pods' service account")
    submit.add_argument("--colocate", action="store_true",
                        help="ReadWriteOnce volumes and every pod of the run on one node "
                             "(for storage without ReadWriteMany)")
    submit.add_argument("--volume-claim-gc", choices=VOLUME_CLAIM_GC,
                        default=None, help="when Argo deletes the run's volumes (default: OnWorkflowSuccess)")
    submit.add_argument("-w", "--watch", action="store_true",
                        help="follow the run's steps until it ends (on stderr); exit 0 only if it Succeeded")
    submit.add_argument("--timeout", type=_positive, default=None, metavar="SECONDS",
                        help="with --watch: give up after SECONDS")
    add_connection_args(submit)
    submit.set_defaults(handler=handle_submit)

    get = _run_parser(subparsers, "get", "a run's phase and steps",
                      "Show a run: its phase and each step's phase and duration, in pipeline order. "
                      "-o json|yaml is the Workflow object itself, as `argo get -o json` prints it; "
                      "-o summary is kale-argo's short JSON summary.",
                      ["kale-argo get NAME", "kale-argo get NAME -o json | jq -r .status.phase",
                       "kale-argo status NAME -o wide"], aliases=("status",))
    get.add_argument("-o", "--output", choices=GET_OUTPUTS, default="table",
                     help="table (default), wide (with Argo task and pod names), json, yaml, name or summary")
    add_connection_args(get)
    get.set_defaults(handler=handle_status)

    watch = _run_parser(subparsers, "watch", "follow a run's steps live until it ends",
                        "Follow a run: in a terminal one table redrawn in place, otherwise one line per "
                        "change. Exit 0 if it Succeeded, 1 otherwise.",
                        ["kale-argo watch NAME", "kale-argo watch NAME --timeout 600"])
    watch.add_argument("--timeout", type=_positive, default=None, metavar="SECONDS")
    add_connection_args(watch)
    watch.set_defaults(handler=handle_watch)

    wait = _run_parser(subparsers, "wait", "wait for a run to end; exit 0 only if it Succeeded",
                       "Wait until the run ends; if it did not succeed, print which step failed and the "
                       "tail of its log, and exit 1.",
                       ["kale-argo wait NAME && echo done", "kale-argo wait NAME --timeout 600"])
    wait.add_argument("--timeout", type=_positive, default=None, metavar="SECONDS")
    add_connection_args(wait)
    wait.set_defaults(handler=handle_wait)

    logs = _run_parser(subparsers, "logs", "a run's step logs (-f follows every step at once)",
                       "Print the steps' logs, each line prefixed by its step. -f follows every step of "
                       "the run at once, including steps that start later, until the run ends.",
                       ["kale-argo logs NAME", "kale-argo logs -f NAME",
                        "kale-argo logs NAME --step train_model --since 10m --grep loss"])
    logs.add_argument("--step", default=None, help="only this step (as written, or its Argo task name)")
    logs.add_argument("-f", "--follow", action="store_true",
                      help="keep streaming every step until the run ends")
    logs.add_argument("--tail", type=int, default=None, metavar="N",
                      help="only the last N lines of each step")
    logs.add_argument("--since", type=duration, default=None, metavar="DURATION",
                      help="only lines newer than DURATION (e.g. 30s, 10m, 2h)")
    logs.add_argument("--timestamps", action="store_true", help="start each line with its timestamp")
    logs.add_argument("--grep", type=_regex, default=None, metavar="REGEX",
                      help="only lines that match REGEX")
    logs.add_argument("--no-prefix", action="store_true", help="do not prefix lines with their step")
    add_connection_args(logs)
    logs.set_defaults(handler=handle_logs)

    listing = add_parser(
        subparsers, "list", help="runs in the namespace (or every namespace), newest first",
        description="List runs, newest first, filtered by pipeline, experiment, label selector, phase "
                    f"and age. With ARGO_INSTANCEID only that controller instance's runs. {NEEDS}",
        examples=["kale-argo list --running", "kale-argo list -l kale-argo.io/pipeline=demo -o name",
                  "kale-argo list -A --since 1h -o wide", "kale-argo list --phase Failed,Error"])
    listing.add_argument("-l", "--selector", default=None, metavar="SELECTOR",
                         help="label selector, e.g. -l key1=value1,key2!=value2")
    listing.add_argument("-A", "--all-namespaces", action="store_true", help="runs of every namespace")
    listing.add_argument("--pipeline", default=None, help="only runs of this pipeline")
    listing.add_argument("--experiment", default=None, help="only runs of this experiment")
    listing.add_argument("--phase", "--status", type=_phase, action="append", default=[],
                         metavar="PHASE[,PHASE]", help=f"only runs in these phases ({', '.join(PHASES)})")
    listing.add_argument("--running", action="store_true", help="only runs not yet done")
    listing.add_argument("--completed", action="store_true", help="only runs that are done")
    listing.add_argument("--since", type=duration, default=None, metavar="DURATION",
                         help="only runs created within DURATION (e.g. 10m, 2h, 1d)")
    listing.add_argument("-o", "--output", choices=LIST_OUTPUTS, default="table",
                         help="table (default), wide, name, json, yaml (the Workflow objects) or summary")
    add_connection_args(listing)
    listing.set_defaults(handler=handle_list)

    actions = (
        ("stop", "stop a run (exit handlers still run)",
         "Stop the run: no new steps start; running steps finish and exit handlers run."),
        ("terminate", "terminate a run now (no exit handlers)",
         "Terminate the run at once: running steps are killed, exit handlers skipped."),
        ("retry", "re-run a failed run's failed steps",
         "Re-run the failed steps of a Failed or Error run, keeping the values of the steps that "
         "succeeded. A Succeeded run is refused (use resubmit)."),
        ("delete", "delete a run", "Delete the run and what it owns (its pods, volumes and snapshots)."),
    )
    for verb, text, description in actions:
        parser = _run_parser(subparsers, verb, text, description, [f"kale-argo {verb} NAME"])
        add_connection_args(parser)
        parser.set_defaults(handler=handle_action, action=verb)

    resubmit = _run_parser(subparsers, "resubmit", "run a run's Workflow again, as a new run",
                           "Create a new run from an existing run's Workflow (same spec and parameters), "
                           "named after it; the old run is untouched.",
                           ["kale-argo resubmit NAME", "NEW=$(kale-argo resubmit NAME -o name)"])
    resubmit.add_argument("-o", "--output", choices=SUBMIT_OUTPUTS, default="text")
    resubmit.add_argument("-w", "--watch", action="store_true", help="follow the new run until it ends")
    resubmit.add_argument("--timeout", type=_positive, default=None, metavar="SECONDS")
    add_connection_args(resubmit)
    resubmit.set_defaults(handler=handle_resubmit)


def handle_submit(args: argparse.Namespace) -> int:
    from .. import app
    from ..views.runs import render_submitted
    from .common import load_spec
    from .workspace import workspace_options

    spec, values = load_spec(args)
    options = app.SubmitOptions(image=args.image, service_account=args.service_account,
                                volume_claim_gc=args.volume_claim_gc, colocate=args.colocate,
                                workspace=workspace_options(args), watch=args.watch, timeout=args.timeout)
    progress = _progress(args)
    app.submit(spec, values, options, connection(args), out=progress,
               on_created=lambda s: render_submitted(s.workflow, s.link, args.output, sys.stdout))
    return 0


def _progress(args: argparse.Namespace) -> Any:
    """Where progress goes: stderr, or nowhere with -q."""
    if args.quiet:
        import io

        return io.StringIO()
    return sys.stderr


def handle_status(args: argparse.Namespace) -> int:
    from .. import app
    from ..views.runs import render_status

    render_status(app.status(_backend(args), args.run), args.output, sys.stdout)
    return 0


def handle_watch(args: argparse.Namespace) -> int:
    from ..app.submitting import follow

    follow(_backend(args), args.run, _progress(args), timeout=args.timeout)
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
    from ..app.options import LogOptions

    options = LogOptions(since=args.since, timestamps=args.timestamps)
    prefix = args.step is None and not args.no_prefix
    lines = app.logs(_backend(args), args.run, step=args.step, follow=args.follow, tail=args.tail,
                     options=options)
    for line in lines:
        if args.grep is not None and not args.grep.search(line.text):
            continue
        print(f"[{line.step}] {line.text}" if prefix else line.text, flush=args.follow)
    return 0


def handle_list(args: argparse.Namespace) -> int:
    from .. import app
    from ..app.options import ListOptions
    from ..views.runs import render_list

    if args.running and args.completed:
        from ..errors import ConfigError

        raise ConfigError("--running and --completed exclude each other", where="list",
                          hint="give one of them, or --phase")
    phases = [p for group in args.phase for p in group]
    options = ListOptions(selector=args.selector, all_namespaces=args.all_namespaces, running=args.running,
                          completed=args.completed, since=args.since)
    runs = app.list_runs(_backend(args), pipeline=args.pipeline, experiment=args.experiment, phases=phases,
                         options=options)
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


def handle_resubmit(args: argparse.Namespace) -> int:
    from ..app.manage import resubmit
    from ..app.submitting import follow
    from ..views.runs import render_submitted

    backend = _backend(args)
    created = resubmit(backend, args.run)
    name = str((created.get("metadata") or {}).get("name", ""))
    render_submitted(created, backend.ui_link(name), args.output, sys.stdout)
    if args.watch:
        follow(backend, name, _progress(args), timeout=args.timeout)
    return 0
