"""Cron expressions, time zones and concurrency policies, checked as Argo's controller parses them."""

from __future__ import annotations

import pytest

from kale_argo.cron import check_concurrency_policy, check_schedule, check_timezone
from kale_argo.errors import ConfigError


@pytest.mark.parametrize(
    "expression",
    [
        "0 3 * * *",
        "*/15 * * * *",
        "0 0 1,15 * *",
        "30 2 * JAN-MAR MON-FRI",
        "0 9-17/2 * * 1-5",
        "0 0 ? * SUN",
        "@daily",
        "@hourly",
        "@every 1h30m",
        "  0   3 * * *  ",
    ],
)
def test_argo_schedules_are_accepted(expression: str) -> None:
    assert check_schedule(expression) == " ".join(expression.split())


@pytest.mark.parametrize(
    ("expression", "why"),
    [
        ("", "it is empty"),
        ("0 3 * *", "4 fields, Argo expects 5"),
        ("0 3 * * * *", "6 fields"),
        ("60 * * * *", "minute '60': 60 is out of range 0-59"),
        ("0 24 * * *", "hour '24'"),
        ("0 0 0 * *", "day of month '0'"),
        ("0 0 * 13 *", "month '13'"),
        ("0 0 * * 7", "day of week '7'"),
        ("*/0 * * * *", "above 0"),
        ("5-1 * * * *", "starts after it ends"),
        ("x * * * *", "'x' is not a number"),
        ("0 0 * FOO *", "or a name (JAN"),
        ("@sometimes", "unknown descriptor"),
        ("@every soon", "not a duration"),
        ("CRON_TZ=UTC 0 3 * * *", "--timezone"),
    ],
)
def test_what_argo_rejects_is_one_line_naming_the_field(expression: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_schedule(expression)
    assert why in caught.value.one_line() and caught.value.where == "--cron" and caught.value.hint


def test_time_zones_and_policies() -> None:
    assert check_timezone("Europe/Paris") == "Europe/Paris" and check_timezone(None) is None
    assert check_timezone("UTC") == "UTC"
    with pytest.raises(ConfigError, match="did you mean Europe/Paris"):
        check_timezone("europe/paris")
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        check_timezone("Mars/Olympus")
    with pytest.raises(ConfigError, match="not a time zone name"):
        check_timezone("../../etc/passwd")
    assert check_concurrency_policy("forbid") == "Forbid" and check_concurrency_policy(None) is None
    with pytest.raises(ConfigError, match="one of Allow, Forbid, Replace"):
        check_concurrency_policy("Never")
