"""``kale-argo schedule SCRIPT`` is ``schedule create SCRIPT`` and ``template SCRIPT`` is
``template push SCRIPT``; the verbs, and options before them, are left as they are."""

from __future__ import annotations

import pytest

from kale_argo.cli.main import build_parser
from kale_argo.cli.schedule import default_verb


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["schedule", "x.py", "--cron", "@daily"], ["schedule", "create", "x.py", "--cron", "@daily"]),
        (["--debug", "cron", "x.py"], ["--debug", "cron", "create", "x.py"]),
        (["schedule", "--cron", "0 3 * * *", "x.py"], ["schedule", "create", "--cron", "0 3 * * *", "x.py"]),
        (["schedule", "x.py", "-h"], ["schedule", "create", "x.py", "-h"]),
        (["template", "x.py"], ["template", "push", "x.py"]),
        (["-n", "ns", "schedule", "list"], ["-n", "ns", "schedule", "list"]),
        (["schedule", "-n", "ns", "rm", "a"], ["schedule", "-n", "ns", "rm", "a"]),
        (["template", "create", "x.py"], ["template", "create", "x.py"]),
        (["schedule", "--help"], ["schedule", "--help"]),
        (["list", "schedule"], ["list", "schedule"]),
    ],
)
def test_the_default_verb(argv: list[str], expected: list[str]) -> None:
    assert default_verb(argv) == expected


def test_every_verb_and_alias_parses() -> None:
    parser = build_parser()
    for argv in (
        ["schedule", "create", "x.py", "--cron", "@daily"],
        ["cron", "ls"],
        ["schedule", "suspend", "a"],
        ["schedule", "resume", "a"],
        ["schedule", "rm", "a"],
        ["template", "push", "x.py"],
        ["template", "create", "x.py"],
        ["template", "ls"],
        ["template", "delete", "a"],
    ):
        assert callable(parser.parse_args(argv).handler), argv
