"""Cron schedules for subscriptions, read the way crontab(5) reads them.

APScheduler's ``CronTrigger.from_crontab`` numbers days of the week from Monday = 0, so
``0 9 * * 0`` would fire on Mondays (PLATFORM_FACTS.md, APScheduler). Users write standard
cron, where 0 and 7 are Sunday: numeric days are translated to names before APScheduler sees
them.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

_DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_NUMERIC_DAY = re.compile(r"\b([0-7])\b")


def _days(field: str) -> str:
    if field in ("*", "?"):
        return "*"
    # "1-5" -> "mon-fri"; "0,6" -> "sun,sat"; step values ("*/2") are left to APScheduler
    if "/" in field:
        return field
    return _NUMERIC_DAY.sub(lambda m: _DAY_NAMES[int(m.group(1))], field.lower())


def cron_trigger(expression: str, timezone: str) -> CronTrigger:
    """A trigger for a cron ``expression`` in ``timezone``; ValueError if invalid.

    Five fields as in crontab, or six with a leading seconds field (as in Quartz), which
    is handy for tests and demos: ``*/10 * * * * *`` fires every ten seconds."""
    fields = expression.split()
    second = "0"
    if len(fields) == 6:
        second, fields = fields[0], fields[1:]
    if len(fields) != 5:
        raise ValueError(
            f"{expression!r} is not a cron expression: expected 5 fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 9,17 * * mon-fri'"
        )
    minute, hour, day, month, dow = fields
    try:
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_days(dow),
            timezone=ZoneInfo(timezone),
        )
    except ValueError as e:
        raise ValueError(f"invalid cron expression {expression!r}: {e}") from e


def next_run(expression: str, timezone: str, after: datetime) -> datetime | None:
    fire: datetime | None = cron_trigger(expression, timezone).get_next_fire_time(None, after)
    return fire


def previous_run(
    expression: str, timezone: str, before: datetime, horizon: timedelta
) -> datetime | None:
    """The last time the schedule fired at or before ``before`` (looking back ``horizon``)."""
    trigger = cron_trigger(expression, timezone)
    cursor = before - horizon
    last = None
    while True:
        fire: datetime | None = trigger.get_next_fire_time(None, cursor)
        if fire is None or fire > before:
            return last
        last = fire
        cursor = fire + timedelta(seconds=1)


def missed(
    expression: str,
    timezone: str,
    *,
    now: datetime,
    last_delivered: datetime | None,
    grace: timedelta,
) -> datetime | None:
    """The scheduled time of a digest missed while the bot was down, if it is recent enough
    (within ``grace``) and no digest went out since; None otherwise."""
    due = previous_run(expression, timezone, now, grace)
    if due is None or (last_delivered is not None and last_delivered >= due):
        return None
    return due
