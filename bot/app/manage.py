"""Changing what the bot follows from Slack: subscriptions and feeds kept in the database
beside bot.yaml and feeds.yaml, who may change them, and the configuration both make.

    stored app subscriptions + app feeds  --effective_config-->  one Config
                                                                 (bot.yaml's names win)

The service polls and delivers from the effective configuration and builds it again after
every change, so a change made in Slack takes effect without a restart. Every change is
recorded in the audit log (who, what, when), which ``status`` shows.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from pydantic import ValidationError

from bot.config import Config, FeedConfig, SubscriptionConfig
from bot.digest.blocks import escape_mrkdwn as _e
from bot.errors import CommandError, ConfigError, FeedError, NotAllowed
from bot.ingest.fetch import Fetcher
from bot.ingest.parse import parse_feed
from bot.storage import Storage
from bot.storage.records import AppFeed, AppSubscription, AuditEntry, MutedFeed

#: where a stored subscription's or feed's errors point (it has no file)
APP_SOURCE = "Slack"
_NAME_CHARS = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class Actor:
    """Who asks: the Slack user, and what Slack says about them."""

    user_id: str
    team_id: str | None = None
    #: a workspace admin or owner (users.info)
    workspace_admin: bool = False
    #: user groups the user is in, among those named in slack.app.admins
    groups: frozenset[str] = frozenset()


def may_change(config: Config, actor: Actor) -> bool:
    admins = set(config.bot.slack.app.admins)
    return actor.workspace_admin or actor.user_id in admins or bool(actor.groups & admins)


def who_may_change(config: Config) -> str:
    named = [
        f"<!subteam^{a}>" if a.startswith("S") else f"<@{a}>" for a in config.bot.slack.app.admins
    ]
    who = ", ".join(named)
    return f"{who} and workspace admins" if who else "workspace admins"


def require_admin(config: Config, actor: Actor, what: str) -> None:
    if not may_change(config, actor):
        raise NotAllowed(
            f"Only {who_may_change(config)} can {what}. Ask one of them, or ask to be added "
            "to slack.app.admins in bot.yaml."
        )


# -- the effective configuration ------------------------------------------------------------


def _subscription_config(sub: AppSubscription) -> SubscriptionConfig:
    return SubscriptionConfig(
        name=sub.name, channel=sub.channel_id, rule=sub.rule, schedule=sub.schedule
    )


def effective_config(
    config: Config, subs: Sequence[AppSubscription], feeds: Sequence[AppFeed]
) -> tuple[Config, list[str]]:
    """``config`` with the subscriptions and feeds made from Slack added; and notes on what
    was left out (a name taken by bot.yaml or feeds.yaml, a rule no longer valid)."""
    notes: list[str] = []
    taken = {s.name for s in config.bot.subscriptions}
    extra_subs: list[SubscriptionConfig] = []
    rules = dict(config.rules)
    for sub in subs:
        if sub.name in taken:
            notes.append(
                f"subscription {sub.name!r} made in Slack is not used: bot.yaml has one of "
                "that name, and bot.yaml wins"
            )
            continue
        try:
            node = config.keywords.rule(sub.rule, key=f"subscription {sub.name}", path=APP_SOURCE)
            extra_subs.append(_subscription_config(sub))
        except (ConfigError, ValidationError) as e:
            # keywords.yaml changed under it: left out, said, never fatal
            notes.append(f"subscription {sub.name!r} made in Slack is not used: {e}")
            continue
        rules[sub.name] = node
        taken.add(sub.name)
    names = {f.name for f in config.feeds}
    urls = {f.url for f in config.feeds}
    extra_feeds: list[FeedConfig] = []
    for feed in feeds:
        if feed.name in names or feed.url in urls:
            notes.append(
                f"feed {feed.name!r} added in Slack is not used: feeds.yaml has its name or URL"
            )
            continue
        # a URL someone typed in Slack stays untrusted at every poll: a redirect or a DNS
        # change later must not turn it into a request to the user's network
        extra_feeds.append(
            FeedConfig(name=feed.name, url=feed.url, tags=list(feed.tags), guarded=True)
        )
        names.add(feed.name)
    bot = config.bot.model_copy(update={"subscriptions": (*config.bot.subscriptions, *extra_subs)})
    return replace(config, bot=bot, feeds=(*config.feeds, *extra_feeds), rules=rules), notes


def load_effective(config: Config, storage: Storage) -> tuple[Config, list[str]]:
    return effective_config(config, storage.app_subscriptions(), storage.app_feeds())


# -- subscriptions -----------------------------------------------------------------------------


def _slug(text: str) -> str:
    return _NAME_CHARS.sub("-", text.lower()).strip("-._")[:60] or "channel"


def subscribe(
    base: Config,
    storage: Storage,
    actor: Actor,
    *,
    channel_id: str,
    channel_name: str | None,
    rule: str | None,
    schedule: str | None,
    name: str | None,
    now: datetime,
) -> AppSubscription:
    """Subscribe a channel. ``base`` is the configuration from the files; the rule is
    checked as check-config checks bot.yaml (same caret errors)."""
    require_admin(base, actor, "subscribe a channel")
    current, _ = load_effective(base, storage)
    if name is None:
        stem = _slug(channel_name or channel_id)
        taken = {s.name for s in current.bot.subscriptions}
        name = stem
        number = 2
        while name in taken:
            name = f"{stem}-{number}"
            number += 1
    elif any(s.name == name for s in base.bot.subscriptions):
        raise CommandError(
            f"A subscription named `{_e(name)}` is in bot.yaml, which wins: choose another name."
        )
    try:
        candidate = SubscriptionConfig(
            name=name,
            channel=channel_id,
            rule=rule,
            schedule=schedule or SubscriptionConfig.model_fields["schedule"].default,
        )
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise CommandError(f"That subscription is not valid: {_e(problems)}") from e
    base.keywords.rule(rule, key="rule", path=APP_SOURCE)  # RuleSyntaxError with a caret
    sub = AppSubscription(
        name=name,
        channel_id=channel_id,
        rule=rule,
        schedule=candidate.schedule,
        created_by=actor.user_id,
        created_at=now,
        team_id=actor.team_id,
    )
    with storage.transaction():
        if not storage.add_app_subscription(sub):
            raise CommandError(f"A subscription named `{_e(name)}` exists already.")
        storage.record_audit(
            AuditEntry(
                now,
                actor.user_id,
                "subscribe",
                name,
                f"rule: {rule or 'default'}; schedule: {sub.schedule}",
                channel_id,
            )
        )
    return sub


def unsubscribe(
    base: Config, storage: Storage, actor: Actor, name: str, *, channel_id: str, now: datetime
) -> None:
    require_admin(base, actor, "remove a subscription")
    if any(s.name == name for s in base.bot.subscriptions):
        raise CommandError(
            f"`{_e(name)}` is configured in bot.yaml: remove it there (a change in Slack cannot "
            "undo the file)."
        )
    with storage.transaction():
        if not storage.remove_app_subscription(name):
            known = ", ".join(f"`{s.name}`" for s in storage.app_subscriptions()) or "none"
            raise CommandError(
                f"No subscription made in Slack is named `{_e(name)}` ({_e(known)})."
            )
        storage.record_audit(AuditEntry(now, actor.user_id, "unsubscribe", name, "", channel_id))


# -- feeds -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedCheck:
    """What fetching and parsing a feed URL found before it was saved."""

    title: str
    entries: int
    latest: tuple[str, ...]
    final_url: str


async def check_feed(base: Config, url: str, *, now: datetime) -> FeedCheck:
    """Fetch ``url`` as untrusted (the URL guard: no private, loopback, link-local or
    reserved address, at connection time and at every redirect) and parse it; raises
    FeedError saying what is wrong."""
    async with Fetcher(base.bot.fetch) as fetcher:
        result = await fetcher.fetch(url, trusted=False, now=now)
    final = result.final_url or url
    parsed = parse_feed(result.body, result.headers, feed="(new)", url=final, now=now)
    if not parsed.articles:
        raise FeedError(url, "it is a feed, but it has no entries", "empty")
    return FeedCheck(
        title=parsed.title or "",
        entries=len(parsed.articles),
        latest=tuple(a.title for a in parsed.articles[:3]),
        final_url=final,
    )


def add_feed(
    base: Config,
    storage: Storage,
    actor: Actor,
    url: str,
    *,
    name: str | None,
    tags: Sequence[str],
    channel_id: str | None,
    now: datetime,
) -> tuple[AppFeed, FeedCheck]:
    """Check the feed (fetch and parse it, untrusted) and save it."""
    require_admin(base, actor, "add a feed")
    try:
        probe = FeedConfig(name=name or "new-feed", url=url, tags=list(tags))
    except ValidationError as e:
        raise CommandError(f"That feed is not valid: {_e(e.errors()[0]['msg'])}") from e
    found = asyncio.run(check_feed(base, probe.url, now=now))
    current, _ = load_effective(base, storage)
    if any(f.url in (probe.url, found.final_url) for f in current.feeds):
        raise CommandError(f"{_e(probe.url)} is followed already.")
    feed_name = name or _slug(found.title or probe.url.split("//", 1)[-1])
    if any(f.name == feed_name for f in current.feeds):
        raise CommandError(f"A feed named `{_e(feed_name)}` exists already: give another name.")
    feed = AppFeed(feed_name, probe.url, tuple(probe.tags), actor.user_id, now)
    with storage.transaction():
        if not storage.add_app_feed(feed):
            raise CommandError(f"A feed named `{_e(feed_name)}` or with that URL exists already.")
        storage.record_audit(
            AuditEntry(now, actor.user_id, "add-feed", feed_name, probe.url, channel_id)
        )
    return feed, found


def remove_feed(
    base: Config,
    storage: Storage,
    actor: Actor,
    name: str,
    *,
    channel_id: str | None,
    now: datetime,
) -> None:
    require_admin(base, actor, "remove a feed")
    if any(f.name == name for f in base.feeds):
        raise CommandError(f"`{_e(name)}` is configured in feeds.yaml: remove it there.")
    with storage.transaction():
        if not storage.remove_app_feed(name):
            raise CommandError(f"No feed added in Slack is named `{_e(name)}`.")
        storage.record_audit(AuditEntry(now, actor.user_id, "remove-feed", name, "", channel_id))


def mute_source(
    base: Config,
    storage: Storage,
    actor: Actor,
    *,
    subscription: str,
    feed: str,
    channel_id: str | None,
    now: datetime,
) -> bool:
    """Articles from ``feed`` no longer go to ``subscription``; False if already muted."""
    require_admin(base, actor, "mute a source")
    with storage.transaction():
        if not storage.mute_feed(MutedFeed(subscription, feed, actor.user_id, now)):
            return False
        storage.record_audit(
            AuditEntry(now, actor.user_id, "mute", feed, f"in {subscription}", channel_id)
        )
    return True
