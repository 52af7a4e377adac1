"""Delivering a subscription: the use case the command line, the service and the Slack app
share.

    resume its pending digests first (a destination that fails takes no new digest)
    select + queue in one write transaction: its new articles (undelivered, by its rule and
        min_score), alerts for those at or above alert_score, articles of a parked digest
        alone, the rest as the digest when due
    send the outbox
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Config, SubscriptionConfig
from bot.delivery.destination import Destination, Terminal, Unusable
from bot.delivery.outbox import ClaimLost, KeepClaim, payloads, queue, send_pending
from bot.digest.blocks import Digest, alert_digest, build_digest
from bot.digest.select import choose, to_item
from bot.digest.stories import DigestItem
from bot.errors import DeliveryError, StorageError
from bot.match import Matcher
from bot.settings import Settings
from bot.slack.client import credential_problem, web_client, webhook_client
from bot.slack.destinations import SlackBot, Webhook
from bot.storage import Storage

log = logging.getLogger("bot.delivery")


def destination_for(
    config: Config,
    settings: Settings,
    sub: SubscriptionConfig,
    *,
    stop: threading.Event | None = None,
) -> Destination:
    """The subscription's Slack destination, or the terminal if its credentials are not set.
    ``stop`` (the service's shutdown) cuts retry waits short."""
    slack = config.bot.slack
    stop = stop or threading.Event()
    if sub.channel is not None:
        token = settings.secret(slack.token_env)
        if token:
            problem = credential_problem(token)
            if problem:
                return Unusable(
                    "slack",
                    f"Slack {sub.channel}",
                    f"{slack.token_env} {problem}: copy the Bot User OAuth Token (xoxb-...) "
                    "again and set it without quotes or line breaks",
                )
            client = web_client(slack, token, settings.slack_api_url, stop)
            return SlackBot(client, sub.channel)
    elif sub.webhook_env is not None:
        url = settings.secret(sub.webhook_env)
        if url:
            problem = credential_problem(url)
            if problem is None and not url.startswith(("https://", "http://")):
                problem = "is not an http(s) URL"
            if problem:
                return Unusable(
                    "webhook",
                    f"webhook ${sub.webhook_env}",
                    f"{sub.webhook_env} {problem}: copy the incoming webhook URL again",
                )
            return Webhook(webhook_client(slack, url, stop), sub.webhook_env)
    return Terminal()


TERMINAL_SUFFIX = "@terminal"


def ledger_key(sub: SubscriptionConfig, destination: Destination) -> str:
    # Printing to the terminal keeps its own ledger: adding a token later must not lose
    # the articles that were only ever printed.
    return sub.name if destination.kind != "terminal" else f"{sub.name}{TERMINAL_SUFFIX}"


# -- selecting and rendering ----------------------------------------------------------------------


def select(
    storage: Storage,
    matcher: Matcher,
    config: Config,
    sub: SubscriptionConfig,
    key: str,
    *,
    now: datetime,
    record_skips: bool = True,
) -> list[DigestItem]:
    """The subscription's new articles: undelivered, matching its rule, at its min_score.
    Only with ``record_skips`` does it write (the subscription's start, the passed-over
    articles): previews and status stay read-only."""
    first_start = now - timedelta(hours=config.bot.poll.backlog_hours)
    if record_skips:
        start = storage.ensure_subscription(key, start=first_start)
    else:
        start = storage.subscription_start(key) or first_start
    muted = frozenset(m.feed for m in storage.muted_feeds(sub.name))
    chosen, passed = choose(
        storage.undelivered(key, since=start),
        matcher,
        config.rules[sub.name],
        sub.min_score,
        muted,
    )
    if record_skips and passed:
        storage.skip(key, passed)
    return chosen


@dataclass
class SubscriptionOutcome:
    name: str
    destination: str
    digests: int = 0
    alerts: int = 0
    articles: int = 0
    pending: int = 0
    error: DeliveryError | None = None


def run_subscription(
    config: Config,
    storage: Storage,
    matcher: Matcher,
    sub: SubscriptionConfig,
    destination: Destination,
    *,
    clock: Callable[[], datetime],
    digest: bool = True,
    slot: datetime | None = None,
    keep_claim: KeepClaim | None = None,
    feedback: bool = False,
) -> SubscriptionOutcome:
    """Resume, alert, and (if ``digest``) build and send a digest for one subscription.
    Never raises for a delivery problem: it is recorded and returned.

    ``slot``: the scheduled time this digest is for; if a digest was already built at or
    after it (by another replica, or before a restart), none is built again. ``keep_claim``
    is asked before every message (replicas: see bot.delivery.outbox.ClaimLost).
    ``feedback``: stories carry the Slack app's feedback buttons."""
    key = ledger_key(sub, destination)
    outcome = SubscriptionOutcome(sub.name, destination.label)
    now = clock()
    title = sub.title or sub.name
    tz = config.timezone_of(sub)
    park_after = config.bot.slack.park_after
    try:
        # Resume first: a destination that fails takes no new digest this run.
        sent = send_pending(
            storage, destination, key, clock=clock, park_after=park_after, keep_claim=keep_claim
        )
        # Selection and the new digests in one write transaction: what was selected is
        # in the outbox before anyone else can select it.
        with storage.transaction():
            if digest and slot is not None:
                built = storage.last_created(key)
                digest = built is None or built < slot
            items = select(storage, matcher, config, sub, key, now=now)
            queued: list[Digest] = []
            if sub.alert_score is not None:
                urgent = [i for i in items if i.score >= sub.alert_score]
                items = [i for i in items if i.score < sub.alert_score]
                queued += [
                    alert_digest(
                        item,
                        subscription=sub.name,
                        title=title,
                        now=now,
                        timezone=tz,
                        feedback=feedback,
                    )
                    for item in urgent
                ]
            # articles that were in a parked digest go out alone (see Storage.park_digest),
            # at the next digest: the digests of a scheduled time are all built at once
            solo = storage.solo_articles(key) if digest else set()
            alone = [i for i in items if i.article_id in solo]
            items = [i for i in items if i.article_id not in solo]
            queued += [
                render_digest(
                    config, sub, [item], now=now, storage=storage, key=key, feedback=feedback
                )
                for item in alone
            ]
            if digest and (items or sub.post_empty):
                queued.append(
                    render_digest(
                        config, sub, items, now=now, storage=storage, key=key, feedback=feedback
                    )
                )
            queue(storage, destination, key, queued)
        more = send_pending(
            storage, destination, key, clock=clock, park_after=park_after, keep_claim=keep_claim
        )
        outcome.digests = sent.digests + more.digests
        outcome.alerts = sent.alerts + more.alerts
        outcome.articles = sent.articles + more.articles
        refused = sent.refused + more.refused
        if refused:
            raise refused[0]
    except ClaimLost as e:
        log.info("%s: %s; stopped sending", sub.name, e)
    except DeliveryError as e:
        outcome.error = e
    except StorageError as e:
        outcome.error = DeliveryError(destination.label, "storage", str(e))
    except Exception as e:
        # A bug: loud in the log, and the other subscriptions carry on.
        log.exception("internal error while delivering %s (a bug: please report it)", sub.name)
        outcome.error = DeliveryError(
            destination.label, "internal", f"{type(e).__name__}: {e} (a bug: see the log)"
        )
    error = outcome.error
    if error is not None:
        log.error(
            "%s: %s",
            sub.name,
            error,
            extra={
                "event": "delivery",
                "subscription": sub.name,
                "status": "error",
                "code": error.code,
                "permanent": error.permanent,
            },
        )
    try:
        if error is not None and error.code != "storage":
            storage.record_delivery_error(key, code=error.code, message=str(error), now=clock())
        outcome.pending = len(storage.pending_digests(key))
    except StorageError as problem:
        log.error("%s: %s", sub.name, problem)
    return outcome


def render_digest(
    config: Config,
    sub: SubscriptionConfig,
    items: list[DigestItem],
    *,
    now: datetime,
    storage: Storage | None = None,
    key: str | None = None,
    feedback: bool = False,
) -> Digest:
    since = storage.last_delivered(key) if storage is not None and key is not None else None
    labels = {name: group.label for name, group in config.keywords.groups.items()}
    return build_digest(
        items,
        subscription=sub.name,
        title=sub.title or sub.name,
        now=now,
        timezone=config.timezone_of(sub),
        topic_labels=labels,
        max_items=sub.max_items,
        since=since,
        feedback=feedback,
    )


def preview(
    config: Config,
    storage: Storage,
    matcher: Matcher,
    sub: SubscriptionConfig,
    destination: Destination,
    *,
    now: datetime,
) -> Digest:
    """The digest that would be sent now, without storing or sending anything."""
    key = ledger_key(sub, destination)
    items = select(storage, matcher, config, sub, key, now=now, record_skips=False)
    return render_digest(config, sub, items, now=now, storage=storage, key=key)


def rerender(
    config: Config,
    storage: Storage,
    matcher: Matcher,
    digest_id: int,
    *,
    now: datetime,
) -> int:
    """Render an undelivered digest again from the articles still attached to it, with
    this version of the bot, and make it pending; returns its number of articles. For a
    digest Slack refused (parked) once the cause is fixed, or a pending one whose stored
    messages are stale."""
    found = [d for d in storage.outbox() if d.id == digest_id]
    if not found:
        raise DeliveryError("outbox", "not_found", f"no undelivered digest #{digest_id}")
    entry = found[0]
    if entry.messages_sent:
        raise DeliveryError(
            "outbox",
            "partly_sent",
            f"digest #{digest_id} was partly sent ({entry.messages_sent} message(s)); "
            "re-rendering it would post those again: drop it instead",
        )
    ids = storage.digest_article_ids(digest_id)
    if not ids:
        raise DeliveryError(
            "outbox",
            "empty",
            f"digest #{digest_id} has no articles left: they went out in later digests",
        )
    sub = config.subscription(entry.subscription.removesuffix(TERMINAL_SUFFIX))
    rule = config.rules[sub.name]
    items = [
        to_item(stored, matcher.decide(rule, stored.match.reasons if stored.match else ())[1])
        for stored in storage.articles(ids=ids)
    ]
    title = sub.title or sub.name
    if entry.kind == "alert" and len(items) == 1:
        digest = alert_digest(
            items[0], subscription=sub.name, title=title, now=now, timezone=config.timezone_of(sub)
        )
    else:
        digest = render_digest(config, sub, items, now=now, storage=storage, key=entry.subscription)
    # rendered for the destination it was made for (its ledger), not this shell's
    terminal = entry.subscription.endswith(TERMINAL_SUFFIX)
    storage.replace_digest(digest_id, payloads(digest, terminal=terminal))
    return len(items)
