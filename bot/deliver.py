"""Deliver digests: the outbox to Slack (bot token or incoming webhook) or to the terminal.

    for each subscription (a failure in one never blocks the others):
        resume its pending digests first, in order
        new = flagged articles not yet in any of its digests, by its own rule and min_score
        alerts: each article at or above alert_score -> a one-article digest, right away
        digest: the rest, when due -> rendered, stored in the outbox with its articles
        send:   each message not yet confirmed; before re-sending one that an earlier run
                may have posted (a crash between Slack's answer and our record), look for it
                in the channel history by its metadata; record Slack's ts as soon as known
        a digest is delivered when all its messages are; only then its articles are

Retries: slack-sdk's handlers retry 429 (honouring Retry-After), 5xx and connection errors.
What still fails leaves the digest pending for the next run; errors that need a person
(invalid_auth, channel_not_found, not_in_channel, missing_scope, is_archived ...) say what to
do and also keep the digest.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any, Protocol

from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from bot.config import Config, SubscriptionConfig
from bot.digest import EVENT_TYPE, Digest, DigestItem, alert_digest, build_digest
from bot.errors import DeliveryError, StorageError
from bot.match import Matcher
from bot.match.matcher import short_reasons
from bot.store import PendingDigest, Store, StoredArticle
from bot.text import clean_text

log = logging.getLogger("bot.deliver")

#: Slack errors a retry will not fix, with what to do about them
PERMANENT_ERRORS = {
    "invalid_auth": (
        "the bot token is not valid: set SLACK_BOT_TOKEN to the app's Bot User OAuth "
        "Token (xoxb-...)"
    ),
    "not_authed": "no token was sent: set SLACK_BOT_TOKEN",
    "token_revoked": "the token was revoked: reinstall the Slack app and update SLACK_BOT_TOKEN",
    "token_expired": "the token expired: reinstall the Slack app and update SLACK_BOT_TOKEN",
    "account_inactive": "the bot's account is deactivated: reinstall the Slack app",
    "channel_not_found": (
        "no such channel, or it is private and the bot is not in it: check 'channel' in "
        "bot.yaml, or invite the bot"
    ),
    "not_in_channel": (
        "the bot is not in the channel: /invite the bot there, or add the "
        "chat:write.public scope for public channels"
    ),
    "missing_scope": (
        "the Slack app lacks a scope: add chat:write (and channels:history for crash "
        "recovery) and reinstall it"
    ),
    "is_archived": "the channel is archived: unarchive it or change 'channel' in bot.yaml",
    "restricted_action": "the workspace does not allow the bot to post there: ask a Slack admin",
    "ekm_access_denied": "the workspace's encryption keys deny access: ask a Slack admin",
    "team_access_not_granted": "the token has no access to this workspace: reinstall the app there",
    "invalid_blocks": (
        "Slack refused the message layout: this is a bug in the bot, please report it with the log"
    ),
    "msg_too_long": (
        "Slack refused the message as too long: this is a bug in the bot, please report it"
    ),
    "no_service": (
        "the incoming webhook URL no longer exists: create a new webhook and update its "
        "environment variable"
    ),
    "invalid_token": "the incoming webhook URL is not valid: check its environment variable",
    "channel_is_archived": (
        "the webhook's channel is archived: unarchive it or create a new webhook"
    ),
    "action_prohibited": "a Slack admin has restricted this webhook",
    "posting_to_general_channel_denied": "only admins may post to this channel",
}
HISTORY_LOOKBACK = timedelta(minutes=10)
#: pages of 200 messages read back at most when looking for a message sent before a crash
HISTORY_MAX_PAGES = 25


@dataclass(frozen=True)
class Posted:
    channel_id: str | None
    ts: str | None


class Destination(Protocol):
    """Where a subscription's messages go. ``label`` is safe to print (no secrets)."""

    label: str
    kind: str  # "slack", "webhook", "terminal"
    threads: bool

    def post(
        self, message: dict[str, Any], *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> Posted: ...

    def find_posted(
        self, channel_id: str | None, key: str, seq: int, oldest: datetime
    ) -> Posted | None: ...


class _Interruptible(RetryHandler):
    """slack-sdk's handlers wait with ``time.sleep``; a shutdown must not wait behind a
    ``Retry-After: 60`` (Docker and systemd kill a bot that takes longer than ~30 s to
    stop, possibly mid-delivery). These wait on the stop event instead, and give up at
    once when it is set: the digest stays pending and goes out on the next run."""

    stop: threading.Event

    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if self.stop.is_set():
            return False
        return super().can_retry(state=state, request=request, response=response, error=error)

    def _wait(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self._wait(self.interval_calculator.calculate_sleep_duration(state.current_attempt))
        state.increment_current_attempt()


class _ConnectionRetry(_Interruptible, ConnectionErrorRetryHandler):
    def __init__(self, stop: threading.Event, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.stop = stop


class _ServerErrorRetry(_Interruptible, ServerErrorRetryHandler):
    def __init__(self, stop: threading.Event, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.stop = stop


def _retry_after(response: HttpResponse | None) -> float:
    for name, values in (response.headers if response is not None else {}).items():
        if name.lower() == "retry-after" and values:
            try:
                return float(values[0])
            except ValueError:
                break
    return 1.0


class _RateLimitRetry(_Interruptible, RateLimitErrorRetryHandler):
    """429: wait Retry-After (plus jitter) and retry, but only while the wait is short; a
    long Retry-After leaves the digest pending for the next run rather than holding the
    delivery thread (and a shutdown) for minutes."""

    def __init__(self, stop: threading.Event, max_retry_count: int, max_wait: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.stop = stop
        self.max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return (
            response is not None
            and response.status_code == 429
            and _retry_after(response) <= self.max_wait
        )

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self._wait(_retry_after(response) + random.random())
        state.increment_current_attempt()


def _retry_handlers(config: Config, stop: threading.Event) -> list[RetryHandler]:
    slack = config.bot.slack
    return [
        _ConnectionRetry(stop, 2),
        _RateLimitRetry(stop, slack.rate_limit_retries, slack.rate_limit_max_wait),
        _ServerErrorRetry(stop, slack.server_error_retries),
    ]


class SlackBot:
    kind = "slack"
    threads = True

    def __init__(self, client: WebClient, channel: str) -> None:
        self.client = client
        self.channel = channel
        self.label = f"Slack {channel}"

    def _error(self, e: SlackApiError | SlackClientError) -> DeliveryError:
        if isinstance(e, SlackApiError):
            status = e.response.status_code
            code = str(e.response.get("error") or f"http_{status}")
            if status == 429:
                code = "ratelimited"
            hint = PERMANENT_ERRORS.get(code)
            detail = (
                hint
                or f"Slack answered HTTP {status}; the digest stays pending and is retried next run"
            )
            return DeliveryError(self.label, code, detail, permanent=hint is not None)
        return DeliveryError(self.label, "connection", f"{type(e).__name__}: {e}; retried next run")

    def post(
        self, message: dict[str, Any], *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> Posted:
        try:
            response = self.client.chat_postMessage(
                channel=self.channel,
                text=message["text"],
                blocks=message["blocks"],
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                metadata={"event_type": EVENT_TYPE, "event_payload": metadata},
            )
        except (SlackApiError, SlackClientError) as e:
            raise self._error(e) from e
        except OSError as e:  # connection refused after the retry handler gave up
            raise DeliveryError(self.label, "connection", f"{e}; retried next run") from e
        return Posted(response.get("channel"), response.get("ts"))

    def find_posted(
        self, channel_id: str | None, key: str, seq: int, oldest: datetime
    ) -> Posted | None:
        channel = channel_id or (self.channel if not self.channel.startswith("#") else None)
        if channel is None:
            return None  # history needs a channel ID; we learn it from the first post
        # Page back to the digest's creation time: in a busy channel the message may be
        # more than one page (200) behind.
        cursor: str | None = None
        for _page in range(HISTORY_MAX_PAGES):
            try:
                response = self.client.conversations_history(
                    channel=channel,
                    oldest=str((oldest - HISTORY_LOOKBACK).timestamp()),
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            except (SlackApiError, SlackClientError, OSError) as e:
                log.warning(
                    "%s: cannot read the channel history to check for a message sent before a "
                    "restart (%s); sending it (it may appear twice). "
                    "Add the channels:history scope to avoid this.",
                    self.label,
                    e,
                )
                return None
            for item in response.get("messages") or []:
                meta = item.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if (
                    meta.get("event_type") == EVENT_TYPE
                    and payload.get("key") == key
                    and payload.get("seq") == seq
                ):
                    return Posted(channel, item.get("ts"))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not response.get("has_more") or not cursor:
                return None
        log.warning(
            "%s: more than %d pages of channel history since the digest was created; "
            "sending the message (it may appear twice)",
            self.label,
            HISTORY_MAX_PAGES,
        )
        return None


class Webhook:
    kind = "webhook"
    threads = False  # incoming webhooks return no ts: continuation messages follow instead

    def __init__(self, client: WebhookClient, env_name: str) -> None:
        self.client = client
        self.label = f"webhook ${env_name}"

    def post(
        self, message: dict[str, Any], *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> Posted:
        try:
            response = self.client.send(
                text=message["text"],
                blocks=message["blocks"],
                unfurl_links=False,
                unfurl_media=False,
            )
        except (SlackClientError, OSError) as e:
            raise DeliveryError(self.label, "connection", f"{e}; retried next run") from e
        # WebhookClient never raises for HTTP errors: check the answer ourselves.
        if response.status_code == 200:
            return Posted(None, None)
        code = (response.body or f"http_{response.status_code}").strip()
        if response.status_code == 429:
            code = "ratelimited"
        hint = PERMANENT_ERRORS.get(code)
        raise DeliveryError(
            self.label,
            code,
            hint or f"Slack answered HTTP {response.status_code}; retried next run",
            permanent=hint is not None or response.status_code in (403, 404, 410),
        )

    def find_posted(
        self, channel_id: str | None, key: str, seq: int, oldest: datetime
    ) -> Posted | None:
        return None  # webhooks cannot read history


class Terminal:
    """No Slack credentials: digests are printed, readably, for the person at the terminal."""

    kind = "terminal"
    threads = False
    label = "terminal"

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout

    def post(
        self, message: dict[str, Any], *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> Posted:
        self.out.write(message["terminal"])
        self.out.write("\n")
        self.out.flush()
        return Posted(None, None)

    def find_posted(
        self, channel_id: str | None, key: str, seq: int, oldest: datetime
    ) -> Posted | None:
        return None


class Unusable:
    """Credentials that are set but cannot work (a token with a line break or a non-ASCII
    character, a webhook variable that is not a URL): every send fails with what to do,
    without ever showing the secret, and the other subscriptions carry on."""

    threads = False

    def __init__(self, kind: str, label: str, problem: str) -> None:
        self.kind = kind
        self.label = label
        self.problem = problem

    def post(
        self, message: dict[str, Any], *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> Posted:
        raise DeliveryError(self.label, "invalid_credentials", self.problem, permanent=True)

    def find_posted(
        self, channel_id: str | None, key: str, seq: int, oldest: datetime
    ) -> Posted | None:
        return None


def credential_problem(value: str) -> str | None:
    """What is wrong with a token or webhook URL as set, if anything (never the value)."""
    if any(ch.isspace() for ch in value):
        return "contains a line break or a space inside it"
    if not value.isascii() or not value.isprintable():
        return "contains a character that is not plain ASCII"
    return None


def destination_for(
    config: Config,
    sub: SubscriptionConfig,
    env: dict[str, str] | None = None,
    *,
    stop: threading.Event | None = None,
) -> Destination:
    """The subscription's Slack destination, or the terminal if its credentials are not set.
    ``stop`` (the service's shutdown) cuts retry waits short."""
    env = dict(os.environ if env is None else env)
    slack = config.bot.slack
    handlers = _retry_handlers(config, stop or threading.Event())
    if sub.channel is not None:
        token = (env.get(slack.token_env) or "").strip()
        if token:
            problem = credential_problem(token)
            if problem:
                return Unusable(
                    "slack",
                    f"Slack {sub.channel}",
                    f"{slack.token_env} {problem}: copy the Bot User OAuth Token (xoxb-...) "
                    "again and set it without quotes or line breaks",
                )
            base_url = env.get("SLACK_API_URL") or slack.api_url or WebClient.BASE_URL
            client = WebClient(
                token=token, base_url=base_url, timeout=int(slack.timeout), retry_handlers=handlers
            )
            return SlackBot(client, sub.channel)
    elif sub.webhook_env is not None:
        url = (env.get(sub.webhook_env) or "").strip()
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
            client_w = WebhookClient(url=url, timeout=int(slack.timeout), retry_handlers=handlers)
            return Webhook(client_w, sub.webhook_env)
    return Terminal()


TERMINAL_SUFFIX = "@terminal"


def ledger_key(sub: SubscriptionConfig, destination: Destination) -> str:
    # Printing to the terminal keeps its own ledger: adding a token later must not lose
    # the articles that were only ever printed.
    return sub.name if destination.kind != "terminal" else f"{sub.name}{TERMINAL_SUFFIX}"


# -- selecting and rendering ----------------------------------------------------------------------


def _item(stored: StoredArticle, score: int) -> DigestItem:
    a = stored.article
    reasons = json.loads(stored.extra.get("reasons") or "[]")
    # Parsing cleans every field; cleaning again here covers articles stored by older
    # versions, so no terminal or Slack message ever gets control or bidi characters.
    return DigestItem(
        article_id=stored.id,
        title=clean_text(a.title),
        link=clean_text(a.link),
        summary=clean_text(a.summary),
        source=a.feed,
        published=a.published,
        score=score,
        topics=tuple(json.loads(stored.extra.get("topics") or "[]")),
        why=short_reasons(reasons),
        also=tuple((feed, link) for feed, link in stored.links if feed != a.feed),
    )


def select(
    store: Store,
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
        start = store.ensure_subscription(key, start=first_start)
    else:
        start = store.subscription_start(key) or first_start
    rule = config.rules[sub.name]
    chosen, passed = [], []
    for stored in store.undelivered(key, since=start):
        decision, score = matcher.decide(rule, json.loads(stored.extra.get("reasons") or "[]"))
        if decision and score >= sub.min_score:
            chosen.append(_item(stored, score))
        else:
            passed.append(stored.id)
    if record_skips and passed:
        store.skip(key, passed)
    return chosen


def _payloads(digest: Digest, *, terminal: bool) -> list[str]:
    if terminal:
        return [json.dumps({"terminal": digest.text})]
    return [
        json.dumps({"text": m.text, "blocks": list(m.blocks)}, ensure_ascii=False)
        for m in digest.messages
    ]


# -- sending --------------------------------------------------------------------------------


@dataclass
class SubscriptionOutcome:
    name: str
    destination: str
    digests: int = 0
    alerts: int = 0
    articles: int = 0
    pending: int = 0
    error: DeliveryError | None = None


#: Slack refused the message itself, not the destination: another digest may go through,
#: and this one will be refused every time it is sent as it is
MESSAGE_ERRORS = frozenset(
    {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "msg_blocks_too_long",
     "no_text", "too_many_attachments", "invalid_attachments", "invalid_metadata_format",
     "invalid_metadata_schema", "metadata_too_large", "invalid_arguments", "invalid_payload"}
)  # fmt: skip


@dataclass
class SendResult:
    digests: int = 0
    alerts: int = 0
    articles: int = 0
    #: digests Slack refused this run (each was kept, or parked after ``park_after``)
    refused: list[DeliveryError] = field(default_factory=list)


def send_pending(
    store: Store,
    destination: Destination,
    key: str,
    *,
    clock: Callable[[], datetime],
    park_after: int = 2,
) -> SendResult:
    """Send every pending digest of ``key`` in order. A destination problem (credentials,
    channel, rate limit, network) raises DeliveryError at once: the rest wait for the next
    run. A digest Slack refuses as a message (``invalid_blocks``...) does not hold back the
    ones after it; refused ``park_after`` times, it is parked and its articles released
    into the next digest (see Store.park_digest)."""
    result = SendResult()
    for pending in store.pending_digests(key):
        try:
            _send_one(store, destination, pending, clock=clock)
        except DeliveryError as e:
            if e.code not in MESSAGE_ERRORS:
                raise
            result.refused.append(e)
            failures = store.record_digest_failure(pending.id, code=e.code, message=str(e))
            if failures < park_after:
                log.error(
                    "%s: Slack refused %s #%d (%s); it is tried again next run",
                    key,
                    pending.kind,
                    pending.id,
                    e.code,
                )
                continue
            released, kept = store.park_digest(pending.id)
            log.error(
                "%s: Slack refused %s #%d %d times (%s): parked; %d article(s) go into the "
                "next digest, %d stay with it (python -m bot outbox)",
                key,
                pending.kind,
                pending.id,
                failures,
                e.code,
                released,
                kept,
                extra={"event": "parked", "subscription": key, "code": e.code},
            )
            continue
        if pending.kind == "alert":
            result.alerts += 1
        else:
            result.digests += 1
        result.articles += pending.articles
    return result


def _send_one(
    store: Store, destination: Destination, pending: PendingDigest, *, clock: Callable[[], datetime]
) -> None:
    store.start_attempt(pending.id)
    digest_key = f"{pending.subscription}#{pending.id}"
    channel_id = store.channel_id(pending.subscription)
    parent_ts = pending.messages[0].ts if pending.messages else None
    for message in pending.messages:
        if message.ts is not None or (destination.kind != "slack" and message.channel_id == "sent"):
            channel_id = message.channel_id or channel_id
            continue
        if pending.attempts > 0:
            # An earlier run may have posted this message and died before recording it.
            found = destination.find_posted(channel_id, digest_key, message.seq, pending.created_at)
            if found is not None:
                log.info(
                    "%s: message %d of digest %s was already posted; not sending it again",
                    destination.label,
                    message.seq,
                    digest_key,
                )
                store.record_sent(
                    pending.id, message.seq, channel_id=found.channel_id, ts=found.ts, now=clock()
                )
                if message.seq == 0:
                    parent_ts = found.ts
                continue
        thread_ts = parent_ts if destination.threads and message.seq > 0 else None
        posted = destination.post(
            json.loads(message.payload),
            thread_ts=thread_ts,
            metadata={"key": digest_key, "seq": message.seq},
        )
        # Webhooks and the terminal have no ts: "sent" marks the message as done.
        store.record_sent(
            pending.id,
            message.seq,
            channel_id=posted.channel_id or ("sent" if posted.ts is None else None),
            ts=posted.ts,
            now=clock(),
        )
        if posted.channel_id and posted.channel_id != channel_id:
            channel_id = posted.channel_id
            store.remember_channel(pending.subscription, channel_id)
        if message.seq == 0:
            parent_ts = posted.ts
    store.finish_digest(pending.subscription, pending.id, now=clock(), channel_id=channel_id)
    log.info(
        "delivered %s to %s (%d messages, %d articles)",
        digest_key,
        destination.label,
        len(pending.messages),
        pending.articles,
        extra={
            "event": "delivery",
            "subscription": pending.subscription,
            "destination": destination.label,
            "kind": pending.kind,
            "articles": pending.articles,
        },
    )


def _queue(store: Store, destination: Destination, key: str, digests: list[Digest]) -> None:
    """Put digests in the outbox: from here on their articles belong to them."""
    for digest in digests:
        store.create_digest(
            key,
            kind=digest.kind,
            now=digest.created_at,
            payloads=_payloads(digest, terminal=destination.kind == "terminal"),
            article_ids=digest.article_ids,
        )


def run_subscription(
    config: Config,
    store: Store,
    matcher: Matcher,
    sub: SubscriptionConfig,
    destination: Destination,
    *,
    clock: Callable[[], datetime],
    digest: bool = True,
) -> SubscriptionOutcome:
    """Resume, alert, and (if ``digest``) build and send a digest for one subscription.
    Never raises for a delivery problem: it is recorded and returned."""
    key = ledger_key(sub, destination)
    outcome = SubscriptionOutcome(sub.name, destination.label)
    now = clock()
    title = sub.title or sub.name
    tz = config.timezone_of(sub)
    park_after = config.bot.slack.park_after
    try:
        # Resume first: a destination that fails takes no new digest this run.
        sent = send_pending(store, destination, key, clock=clock, park_after=park_after)
        # Selection and the new digests in one write transaction: what was selected is
        # in the outbox before anyone else can select it.
        with store.transaction():
            items = select(store, matcher, config, sub, key, now=now)
            queued: list[Digest] = []
            if sub.alert_score is not None:
                urgent = [i for i in items if i.score >= sub.alert_score]
                items = [i for i in items if i.score < sub.alert_score]
                queued += [
                    alert_digest(item, subscription=sub.name, title=title, now=now, timezone=tz)
                    for item in urgent
                ]
            # articles that were in a parked digest go out alone (see Store.park_digest)
            solo = store.solo_articles(key)
            alone = [i for i in items if i.article_id in solo]
            items = [i for i in items if i.article_id not in solo]
            queued += [
                render_digest(config, sub, [item], now=now, store=store, key=key) for item in alone
            ]
            if digest and (items or sub.post_empty):
                queued.append(render_digest(config, sub, items, now=now, store=store, key=key))
            _queue(store, destination, key, queued)
        more = send_pending(store, destination, key, clock=clock, park_after=park_after)
        outcome.digests = sent.digests + more.digests
        outcome.alerts = sent.alerts + more.alerts
        outcome.articles = sent.articles + more.articles
        refused = sent.refused + more.refused
        if refused:
            raise refused[0]
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
            store.record_delivery_error(key, code=error.code, message=str(error), now=clock())
        outcome.pending = len(store.pending_digests(key))
    except StorageError as problem:
        log.error("%s: %s", sub.name, problem)
    return outcome


def render_digest(
    config: Config,
    sub: SubscriptionConfig,
    items: list[DigestItem],
    *,
    now: datetime,
    store: Store | None = None,
    key: str | None = None,
) -> Digest:
    since = store.last_delivered(key) if store is not None and key is not None else None
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
    )


def preview(
    config: Config,
    store: Store,
    matcher: Matcher,
    sub: SubscriptionConfig,
    destination: Destination,
    *,
    now: datetime,
) -> Digest:
    """The digest that would be sent now, without storing or sending anything."""
    key = ledger_key(sub, destination)
    items = select(store, matcher, config, sub, key, now=now, record_skips=False)
    return render_digest(config, sub, items, now=now, store=store, key=key)


def rerender(
    config: Config,
    store: Store,
    matcher: Matcher,
    digest_id: int,
    *,
    now: datetime,
) -> int:
    """Render an undelivered digest again from the articles still attached to it, with
    this version of the bot, and make it pending; returns its number of articles. For a
    digest Slack refused (parked) once the cause is fixed, or a pending one whose stored
    messages are stale."""
    found = [d for d in store.outbox() if d.id == digest_id]
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
    ids = store.digest_article_ids(digest_id)
    if not ids:
        raise DeliveryError(
            "outbox",
            "empty",
            f"digest #{digest_id} has no articles left: they went out in later digests",
        )
    sub = config.subscription(entry.subscription.removesuffix(TERMINAL_SUFFIX))
    rule = config.rules[sub.name]
    items = [
        _item(stored, matcher.decide(rule, json.loads(stored.extra.get("reasons") or "[]"))[1])
        for stored in store.articles(ids=ids)
    ]
    title = sub.title or sub.name
    if entry.kind == "alert" and len(items) == 1:
        digest = alert_digest(
            items[0], subscription=sub.name, title=title, now=now, timezone=config.timezone_of(sub)
        )
    else:
        digest = render_digest(config, sub, items, now=now, store=store, key=entry.subscription)
    # rendered for the destination it was made for (its ledger), not this shell's
    terminal = entry.subscription.endswith(TERMINAL_SUFFIX)
    store.replace_digest(digest_id, _payloads(digest, terminal=terminal))
    return len(items)
