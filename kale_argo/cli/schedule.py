"""``kale-argo schedule`` (alias ``cron``) and ``kale-argo template``: pipelines that Argo starts,
on a cron schedule (CronWorkflows) or from its UI and ``argo submit --from`` (WorkflowTemplates).

Verbs as the argo CLI names them (``argo cron create|list|suspend|resume|delete``, ``argo template
create|list|delete``); ``kale-argo schedule SCRIPT --cron ...`` is ``schedule create``, and
``template push`` is ``template create`` (or update). Parsing and rendering only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from ..choices import VOLUME_CLAIM_GC
from .common import add_parser, add_script_args
from .runs import NEEDS, add_connection_args, connection

SCHEDULE_VERBS = ("create", "list", "ls", "suspend", "resume", "delete", "rm")
TEMPLATE_VERBS = ("push", "create", "list", "ls", "delete", "rm")
PUBLISH_OUTPUTS = ("text", "name", "json", "yaml")
_VALUED_GLOBALS = ("-n", "--namespace")


def default_verb(argv: Sequence[str]) -> list[str]:
    """``schedule SCRIPT ...`` as ``schedule create SCRIPT ...`` (and ``template SCRIPT`` as
    ``template push SCRIPT``): the command's first word after it, when not a verb, is a script."""
    args = list(argv)
    command = _first_word(args, 0)
    verbs = (
        {
            "schedule": ("create", SCHEDULE_VERBS),
            "cron": ("create", SCHEDULE_VERBS),
            "template": ("push", TEMPLATE_VERBS),
        }.get(args[command])
        if command is not None
        else None
    )
    if command is None or verbs is None:
        return args
    word = _first_word(args, command + 1)
    if word is not None and args[word] not in verbs[1]:
        args.insert(command + 1, verbs[0])
    return args


def _first_word(args: list[str], start: int) -> int | None:
    """The index of the first argument from ``start`` that is neither an option nor its value."""
    i = start
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in _VALUED_GLOBALS else 1
    return i if i < len(args) else None


def _publish_args(parser: argparse.ArgumentParser) -> None:
    add_script_args(parser)
    parser.add_argument("--name", default=None, help="its name (default: the pipeline's name)")
    parser.add_argument("--image", default=None, help="the steps' default image")
    parser.add_argument("--service-account", default=None, help="the pods' service account")
    parser.add_argument(
        "--volume-claim-gc",
        choices=VOLUME_CLAIM_GC,
        default=None,
        help="when Argo deletes a run's volumes (default: OnWorkflowSuccess)",
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=PUBLISH_OUTPUTS,
        default="text",
        help="what to print: text (default), name, json or yaml (the object)",
    )
    add_connection_args(parser)


def _name_parser(
    sub: Any, verb: str, what: str, text: str, aliases: tuple[str, ...] = ()
) -> argparse.ArgumentParser:
    parser = add_parser(
        sub,
        verb,
        help=text,
        description=f"{text[0].upper()}{text[1:]}. {NEEDS}",
        examples=[f"kale-argo {what} {verb} NAME"],
        aliases=aliases,
    )
    parser.add_argument("name", help=f"the {what}'s name")
    add_connection_args(parser)
    return parser


def _list_parser(sub: Any, what: str, kind: str, description: str, output: str) -> None:
    """``list`` (alias ``ls``) of ``what`` objects of ``kind``, with ``-o``."""
    parser = add_parser(
        sub,
        "list",
        aliases=("ls",),
        help=f"the namespace's {what}s",
        description=f"{description} {NEEDS}",
        examples=[f"kale-argo {what} list", f"kale-argo {what} list -o {output}"],
    )
    parser.add_argument("-o", "--output", choices=("table", "name", "json", "yaml"), default="table")
    add_connection_args(parser)
    parser.set_defaults(handler=handle_list, kind=kind)


def register(subparsers: Any) -> None:
    """Add ``schedule`` (alias ``cron``) and ``template``, each with its verbs."""
    schedule = add_parser(
        subparsers,
        "schedule",
        aliases=("cron",),
        help="run a pipeline on a cron schedule (CronWorkflow)",
        description="Create and manage schedules: Argo CronWorkflows that start the pipeline's runs. "
        "`kale-argo schedule SCRIPT --cron ...` is `schedule create`.",
        examples=[
            "kale-argo schedule train.py --cron '0 3 * * *' -p lr=0.1 --timezone Europe/Paris",
            "kale-argo schedule list",
            "kale-argo schedule suspend train",
            "kale-argo schedule resume train",
            "kale-argo schedule delete train",
        ],
    )
    verbs = schedule.add_subparsers(dest="verb", metavar="VERB", required=True)
    create = add_parser(
        verbs,
        "create",
        help="create a schedule from a script",
        description="Compile SCRIPT's pipeline and create an Argo CronWorkflow that starts a run on "
        "every tick of --cron (checked here first: a malformed expression or an unknown "
        "time zone fails before anything is created). -p values are the runs' parameters. "
        f"{NEEDS}",
        examples=[
            "kale-argo schedule create train.py --cron '0 3 * * *'",
            "kale-argo schedule train.py --cron @hourly --concurrency-policy Forbid --name hourly-train",
        ],
    )
    _publish_args(create)
    create.add_argument(
        "--cron",
        required=True,
        metavar="EXPR",
        help="when to start runs: five fields (minute hour day-of-month month day-of-week), "
        "e.g. '0 3 * * *', or @hourly, @daily, @weekly, @monthly, @every 2h",
    )
    create.add_argument(
        "--timezone",
        default=None,
        metavar="TZ",
        help="the time zone of --cron, e.g. Europe/Paris (default: the controller's)",
    )
    create.add_argument(
        "--concurrency-policy",
        default=None,
        metavar="Allow|Forbid|Replace",
        help="when a run is still going at the next tick: Allow another (default), "
        "Forbid (skip the tick) or Replace it",
    )
    create.add_argument("--suspend", action="store_true", help="create it suspended (resume it later)")
    create.set_defaults(handler=handle_schedule)
    _list_parser(verbs, "schedule", "CronWorkflow",
                 "List the namespace's schedules (CronWorkflows).", "name")
    for verb, text in (
        ("suspend", "suspend a schedule: no new runs until resumed (running ones go on)"),
        ("resume", "resume a suspended schedule"),
    ):
        _name_parser(verbs, verb, "schedule", text).set_defaults(
            handler=handle_suspend, suspend=verb == "suspend"
        )
    _name_parser(
        verbs,
        "delete",
        "schedule",
        "delete a schedule, its code and key (and, through Argo's owner references, its runs)",
        aliases=("rm",),
    ).set_defaults(handler=handle_delete, kind="CronWorkflow")

    template = add_parser(
        subparsers,
        "template",
        help="publish a pipeline as a WorkflowTemplate",
        description="Publish the pipeline as an Argo WorkflowTemplate, so runs start from the Argo UI or "
        "`argo submit --from workflowtemplate/NAME` (its parameters, with their defaults, are "
        "the template's arguments). `kale-argo template SCRIPT` is `template push`.",
        examples=[
            "kale-argo template push train.py -p lr=0.1",
            "kale-argo template list",
            "argo submit --from workflowtemplate/train -p lr=0.5",
            "kale-argo template delete train",
        ],
    )
    tverbs = template.add_subparsers(dest="verb", metavar="VERB", required=True)
    push = add_parser(
        tverbs,
        "push",
        aliases=("create",),
        help="create or update a template from a script",
        description="Compile SCRIPT's pipeline and create its WorkflowTemplate, or replace the one of that "
        f"name (at the version read: a concurrent change is refused). {NEEDS}",
        examples=["kale-argo template push train.py", "kale-argo template push train.py --name train-v2"],
    )
    _publish_args(push)
    push.set_defaults(handler=handle_push)
    _list_parser(tverbs, "template", "WorkflowTemplate",
                 "List the namespace's WorkflowTemplates.", "yaml")
    _name_parser(
        tverbs, "delete", "template", "delete a template and its code and key", aliases=("rm",)
    ).set_defaults(handler=handle_delete, kind="WorkflowTemplate")


def _options(args: argparse.Namespace) -> Any:
    from .. import app

    return app.PublishOptions(
        name=args.name,
        image=args.image,
        service_account=args.service_account,
        volume_claim_gc=args.volume_claim_gc,
    )


def _progress(args: argparse.Namespace) -> Any:
    from .runs import _progress as progress

    return progress(args)


def handle_schedule(args: argparse.Namespace) -> int:
    from .. import app
    from ..views.schedules import render_published
    from .common import load_spec

    when = app.Schedule(args.cron, args.timezone, args.concurrency_policy, args.suspend).validated()
    spec, values = load_spec(args)
    published = app.schedule(spec, values, when, _options(args), connection(args), out=_progress(args))
    render_published(published, args.output, sys.stdout)
    return 0


def handle_push(args: argparse.Namespace) -> int:
    from .. import app
    from ..views.schedules import render_published
    from .common import load_spec

    spec, values = load_spec(args)
    published = app.push_template(spec, values, _options(args), connection(args), out=_progress(args))
    render_published(published, args.output, sys.stdout)
    return 0


def handle_list(args: argparse.Namespace) -> int:
    from .. import app
    from ..views.schedules import render_schedules, render_templates

    items = app.list_published(app.connect(connection(args)), args.kind)
    (render_schedules if args.kind == "CronWorkflow" else render_templates)(items, args.output, sys.stdout)
    return 0


def handle_suspend(args: argparse.Namespace) -> int:
    from .. import app

    app.suspend_schedule(app.connect(connection(args)), args.name, args.suspend)
    print(f"schedule {args.name} {'suspended' if args.suspend else 'resumed'}")
    return 0


def handle_delete(args: argparse.Namespace) -> int:
    from .. import app

    app.delete_published(app.connect(connection(args)), args.kind, args.name)
    print(f"{'schedule' if args.kind == 'CronWorkflow' else 'template'} {args.name} deleted")
    return 0
