"""Cron schedules for subscriptions, read the way crontab(5) reads them.

The arithmetic is cronsim's (the evaluator healthchecks.io runs on millions of schedules):
0 and 7 are Sunday, a step in the weekday field counts from Sunday (``*/2`` is Sun, Tue,
Thu, Sat), a restricted day-of-month and a restricted day-of-week fire when *either*
matches, and daylight-saving gaps and repeats are handled as cron handles them.
APScheduler's own ``CronTrigger`` differs on all of these (it numbers days from Monday = 0,
PLATFORM_FACTS.md), so APScheduler gets :class:`CrontabTrigger`, a trigger that asks
cronsim.

Five fields as in crontab, or six with a leading seconds field, which is handy for tests and
demos: ``*/10 * * * * *`` fires every ten seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from cronsim import CronSim, CronSimError

_EXAMPLE = "'0 9 * * 1-5' (09:00 Monday to Friday) or '0 9,17 * * *'"


def _parse(expression: str, at: datetime, *, reverse: bool = False) -> CronSim:
    if len(expression.split()) not in (5, 6):
        raise ValueError(
            f"{expression!r} is not a cron expression: expected 5 fields "
            f"(minute hour day-of-month month day-of-week), e.g. {_EXAMPLE}"
        )
    try:
        return CronSim(expression, at, reverse=reverse)
    except CronSimError as e:
        raise ValueError(f"invalid cron expression {expression!r}: {e}; e.g. {_EXAMPLE}") from e


class CrontabTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 is untyped
    """An APScheduler 3 trigger with crontab(5)'s semantics."""

    def __init__(self, expression: str, timezone: str | tzinfo) -> None:
        self.expression = expression
        self.timezone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        _parse(expression, datetime.now(self.timezone))  # invalid: ValueError now, not later

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        # After the previous fire time, or (first run) at or after now: cronsim yields the
        # first whole second strictly after its start.
        if previous_fire_time is not None:
            start = previous_fire_time
        elif now.microsecond:
            start = now
        else:
            start = now - timedelta(seconds=1)
        return next(_parse(self.expression, start.astimezone(self.timezone)), None)

    def __str__(self) -> str:
        return f"cron[{self.expression}]"

    def __repr__(self) -> str:
        return f"<CrontabTrigger {self.expression!r} {self.timezone}>"


def cron_trigger(expression: str, timezone: str) -> CrontabTrigger:
    """A trigger for a cron ``expression`` in ``timezone``; ValueError if invalid."""
    return CrontabTrigger(expression, timezone)


def explain(expression: str) -> str:
    """A schedule in words ("At 09:00 on Monday through Friday")."""
    text: str = _parse(expression, datetime.now(ZoneInfo("UTC"))).explain()
    return text


def next_run(expression: str, timezone: str, after: datetime) -> datetime | None:
    """The first time the schedule fires strictly after ``after``."""
    return next(_parse(expression, after.astimezone(ZoneInfo(timezone))), None)


def previous_run(
    expression: str, timezone: str, before: datetime, horizon: timedelta
) -> datetime | None:
    """The last time the schedule fired at or before ``before``, if within ``horizon``."""
    # cronsim going backwards yields times strictly before its start
    start = before.astimezone(ZoneInfo(timezone)).replace(microsecond=0) + timedelta(seconds=1)
    fire = next(_parse(expression, start, reverse=True), None)
    if fire is None or fire < before - horizon:
        return None
    return fire


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
