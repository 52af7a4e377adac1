"""Reports about the bot itself, for the people who run it: feeds that have failed for a day,
feeds that went quiet far beyond their usual rhythm, deliveries that keep failing.

``find_problems`` is pure (states and a clock in, problems out); ``report`` sends the new
ones to the admin destination, at most once per ``repeat_after`` for the same problem.
"""

from __future__ import annotations

import itertools
import logging
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import AdminSettings, Config
from bot.delivery.destination import Destination
from bot.errors import BUG_KINDS, DeliveryError
from bot.models import FeedState
from bot.storage import OutboxDigest, Storage, SubscriptionStatus

log = logging.getLogger("bot.runtime.admin")
MIN_ARRIVALS = 5


@dataclass(frozen=True)
class Problem:
    key: str  # stable identity, to avoid repeating a report
    text: str


def usual_gap(arrivals: Sequence[datetime]) -> timedelta | None:
    """The median time between a feed's new articles, if it has enough history."""
    if len(arrivals) < MIN_ARRIVALS:
        return None
    ordered = sorted(arrivals)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]
    return timedelta(seconds=statistics.median(gaps))


@dataclass(frozen=True)
class Quiet:
    """A feed with no new entry far beyond its usual rhythm."""

    quiet_for: timedelta
    usual_gap: timedelta


def quiet(
    feed: FeedState, arrivals: Sequence[datetime], settings: AdminSettings, *, now: datetime
) -> Quiet | None:
    """The one definition of a quiet (or stale) feed, for the admin report and for the Slack
    app's ``feeds``: nothing new for quiet_factor of its usual gaps, and at least quiet_min."""
    gap = usual_gap(arrivals)
    if gap is None or feed.last_new is None:
        return None
    quiet_for = now - feed.last_new
    limit = max(gap * settings.quiet_factor, timedelta(seconds=settings.quiet_min))
    return Quiet(quiet_for, gap) if quiet_for >= limit else None


def find_problems(
    feeds: Sequence[FeedState],
    arrivals: Mapping[str, Sequence[datetime]],
    deliveries: Mapping[str, SubscriptionStatus],
    settings: AdminSettings,
    *,
    now: datetime,
    parked: Sequence[OutboxDigest] = (),
) -> list[Problem]:
    problems = []
    failing_after = timedelta(seconds=settings.failing_after)
    broken = [f for f in feeds if f.consecutive_failures and f.last_error_kind in BUG_KINDS]
    if broken:
        names = ", ".join(f.name for f in broken[:10]) + (" ..." if len(broken) > 10 else "")
        problems.append(
            Problem(
                "bug:" + ",".join(sorted(f.name for f in broken)),
                f"{len(broken)} feed(s) fail with an internal error, a bug in the bot (the log "
                f"has the traceback); nothing is stored from them: {names}. First: "
                f"{broken[0].last_error_kind}: {broken[0].last_error_message}",
            )
        )
    for digest in parked:
        problems.append(
            Problem(
                f"parked:{digest.id}",
                f"Slack refused {digest.kind} #{digest.id} of subscription *{digest.subscription}* "
                f"{digest.failures} time(s) ({digest.last_error}); it was set aside and its "
                "articles went into the next digest. `python -m bot outbox` shows it; "
                f"`outbox retry {digest.id}` re-renders it, `outbox drop {digest.id}` discards it",
            )
        )
    for feed in feeds:
        if feed.consecutive_failures and feed.last_error_kind in BUG_KINDS:
            continue
        if feed.consecutive_failures:
            since = feed.last_success or feed.first_polled or feed.last_attempt
            if since is not None and now - since >= failing_after:
                hours = (now - since).total_seconds() / 3600
                problems.append(
                    Problem(
                        f"failing:{feed.name}",
                        f"Feed *{feed.name}* has failed for {hours:.0f} h "
                        f"({feed.consecutive_failures} attempts): {feed.last_error_kind}: "
                        f"{feed.last_error_message}",
                    )
                )
            continue
        found = quiet(feed, arrivals.get(feed.name, ()), settings, now=now)
        if found is not None:
            quiet_for, gap = found.quiet_for, found.usual_gap
            usual = f"usually one every {gap.total_seconds() / 3600:.1f} h"
            if feed.last_success is not None and now - feed.last_success <= timedelta(days=1):
                # Answering 200 with old entries: a stale feed (METI's Atom feed does this),
                # not a dead one; the fix is another path to the same news.
                text = (
                    f"Feed *{feed.name}* is stale: it still answers (last fetched "
                    f"{(now - feed.last_success).total_seconds() / 3600:.0f} h ago) but has "
                    f"had no new entry for {quiet_for.days} days ({usual}); the publisher may "
                    "have stopped updating it: look for a second path (a news search, its page)"
                )
            else:
                text = (
                    f"Feed *{feed.name}* has had no new article for {quiet_for.days} days "
                    f"({usual}): it may have moved or changed format"
                )
            problems.append(Problem(f"quiet:{feed.name}", text))
    for name, status in deliveries.items():
        error = status.last_error
        if error and status.pending_digests:
            problems.append(
                Problem(
                    f"delivery:{name}:{error.code}",
                    f"Delivery for subscription *{name}* is failing: {error.message} "
                    f"({status.pending_digests} digest(s) waiting)",
                )
            )
    return problems


def report(
    config: Config, storage: Storage, destination: Destination | None, *, now: datetime
) -> list[Problem]:
    """Send the problems not reported recently; returns what was sent (or logged)."""
    settings = config.bot.admin
    if settings is None:
        return []
    feeds = [storage.feed_state(f.name, f.url) for f in config.feeds if f.enabled]
    arrivals = {f.name: storage.arrival_times(f.name) for f in feeds}
    deliveries = {
        s.name: status
        for s in config.bot.subscriptions
        if (status := storage.subscription_status(s.name)) is not None
    }
    repeat = timedelta(seconds=settings.repeat_after)
    parked = [d for d in storage.outbox() if d.status == "parked"]
    due = [
        p
        for p in find_problems(feeds, arrivals, deliveries, settings, now=now, parked=parked)
        if storage.notice_due(p.key, now=now, repeat_after=repeat)
    ]
    if not due:
        return []
    text = "JP tech policy bot needs attention:\n" + "\n".join(f"• {p.text}" for p in due)
    if destination is None or destination.kind == "terminal":
        log.warning("%s (no admin Slack credentials: logged only)", text)
    else:
        message = {
            "text": text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
            "blocks": [],
        }
        try:
            destination.post(message, thread_ts=None, metadata={"key": "admin", "seq": 0})
        except DeliveryError as e:
            log.error("cannot send the admin report: %s", e)
            return []
    for problem in due:
        storage.record_notice(problem.key, now=now)
    return due
