"""Schedules as Argo reads them: cron expressions, time zones, concurrency policies (stdlib only).

Argo's controller parses ``spec.schedules`` with robfig/cron's standard parser: five fields
(minute, hour, day of month, month, day of week), each ``*``, ``?``, a value, a range ``a-b``, a
step ``/n`` after either, or a list of those; months ``JAN``-``DEC`` and days ``SUN``-``SAT`` by
name; or one of the descriptors ``@yearly``, ``@annually``, ``@monthly``, ``@weekly``, ``@daily``,
``@midnight``, ``@hourly``, ``@every <duration>``. The time zone is an IANA name (``Europe/Paris``,
``UTC``). These checks run before anything is created, so a bad schedule is one line, exit 2.
"""

from __future__ import annotations

import re

from .errors import ConfigError

CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
#: What ``compile --kind`` writes.
KINDS = ("workflow", "cronworkflow", "workflowtemplate")
DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
CRON_HINT = "five fields: minute hour day-of-month month day-of-week, e.g. '0 3 * * *', or @daily"
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {
            m: i
            for i, m in enumerate(
                ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
            )
        },
    ),
    ("day of week", 0, 6, {d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}),
)
_GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


def check_schedule(expression: str, where: str = "--cron") -> str:
    """``expression`` stripped, or a ConfigError naming the first thing Argo would reject."""
    text = " ".join(str(expression).split())

    def bad(why: str) -> ConfigError:
        return ConfigError(f"cron schedule {expression!r}: {why}", where=where, hint=CRON_HINT)

    if not text:
        raise bad("it is empty")
    if text.startswith(("CRON_TZ=", "TZ=")):
        raise bad("give the time zone with --timezone, not in the schedule")
    if text.startswith("@"):
        if text in DESCRIPTORS:
            return text
        if text.startswith("@every "):
            if _GO_DURATION.match(text[len("@every ") :]):
                return text
            raise bad(f"{text[len('@every ') :]!r} is not a duration (e.g. 90m, 1h30m)")
        raise bad(
            f"unknown descriptor {text.split()[0]!r} (one of {', '.join(DESCRIPTORS)}, @every DURATION)"
        )
    fields = text.split(" ")
    if len(fields) != 5:
        raise bad(f"{len(fields)} fields, Argo expects 5")
    for value, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        for part in value.split(","):
            why = _check_part(part, low, high, names)
            if why:
                raise bad(f"{name} {part!r}: {why}")
    return text


def _check_part(part: str, low: int, high: int, names: dict[str, int]) -> str | None:
    """Why one list element of a field is invalid, or None."""
    base, slash, step = part.partition("/")
    if slash and (not step.isdigit() or int(step) == 0):
        return "the step after '/' must be a whole number above 0"
    if base in ("*", "?"):
        return None
    start_text, dash, end_text = base.partition("-")
    values = []
    for text in (start_text, end_text) if dash else (start_text,):
        number = names.get(text.upper()) if not text.isdigit() else int(text)
        if number is None:
            return f"{text!r} is not a number" + (f" or a name ({', '.join(names)})" if names else "")
        if not low <= number <= high:
            return f"{number} is out of range {low}-{high}"
        values.append(number)
    if len(values) == 2 and values[0] > values[1]:
        return f"the range starts after it ends ({values[0]} > {values[1]})"
    return None


def check_timezone(timezone: str | None, where: str = "--timezone") -> str | None:
    """``timezone`` if Go's ``time.LoadLocation`` (the IANA database) knows it; None stays None."""
    if timezone is None:
        return None
    import zoneinfo

    name = timezone.strip()
    hint = "an IANA time zone name, e.g. UTC, Europe/Paris or America/New_York"
    if not name or name.startswith("/") or ".." in name:
        raise ConfigError(f"time zone {timezone!r} is not a time zone name", where=where, hint=hint)
    if name in ("UTC", "Local"):
        return name
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        shape = re.fullmatch(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*", name)
        if shape and not zoneinfo.available_timezones():  # no time zone database here: the shape only
            return name
        match = next((z for z in sorted(zoneinfo.available_timezones()) if z.lower() == name.lower()), None)
        raise ConfigError(
            f"unknown time zone {timezone!r}", where=where, hint=f"did you mean {match}?" if match else hint
        ) from None
    return name


def check_concurrency_policy(policy: str | None, where: str = "--concurrency-policy") -> str | None:
    """``policy`` (Allow, Forbid or Replace, any case) in Argo's spelling; None stays None."""
    if policy is None:
        return None
    for known in CONCURRENCY_POLICIES:
        if policy.strip().lower() == known.lower():
            return known
    raise ConfigError(
        f"unknown concurrency policy {policy!r}",
        where=where,
        hint=f"one of {', '.join(CONCURRENCY_POLICIES)}",
    )
