"""The Slack app: a slash command, feedback buttons and the Home tab, over Socket Mode.

Started by ``run`` beside the scheduler when SLACK_APP_TOKEN (xapp-...) is set. Every
request is acknowledged first (Slack's 3-second limit), then answered through its
``response_url`` or by editing the message; the work itself is the app layer's use cases
(bot.app), shared with the command line. A failing request is answered with what went
wrong and never stops the app or the service.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app import commands, feedback, manage
from bot.app.commands import Command, say
from bot.app.explain import fetch_page, render_explanation
from bot.app.manage import Actor
from bot.app.status import feed_rows, local_time, subscription_rows
from bot.config import AdminSettings, Config
from bot.digest.blocks import FEEDBACK_BLOCK_PREFIX, escape_mrkdwn, feedback_block
from bot.digest.blocks import escape_mrkdwn as _e
from bot.errors import BotError, CommandError, ConfigError, FeedError, RuleSyntaxError
from bot.match import Matcher
from bot.match.rules import render
from bot.runtime.admin import quiet
from bot.runtime.schedule import next_run
from bot.settings import Settings
from bot.storage import Storage
from bot.storage.records import AuditEntry, Verdict

log = logging.getLogger("bot.slack.app")

#: how long what Slack says about a user (admin, groups) is trusted
USER_CACHE_SECONDS = 300.0
MAX_REPLY_CHARS = 2900
PING_INTERVAL = 3.0


@dataclass
class AppHost:
    """What the app works with: the configuration from the files, the storage, and the
    service's callback after a change (it builds the effective configuration again)."""

    base: Config
    storage: Storage
    settings: Settings
    clock: Callable[[], datetime]
    changed: Callable[[], None] = lambda: None

    def config(self) -> Config:
        return manage.load_effective(self.base, self.storage)[0]


@dataclass(frozen=True)
class Reply:
    text: str
    #: ephemeral (only the asker sees it) or in_channel (a change the channel should see)
    visibility: str = "ephemeral"


def _code(text: str) -> str:
    # inside ``` Slack shows text as typed; only & < > still need escaping
    return f"```{escape_mrkdwn(text)[:MAX_REPLY_CHARS]}```"


def _fit(text: str) -> str:
    return text if len(text) <= MAX_REPLY_CHARS else text[: MAX_REPLY_CHARS - 1] + "…"


class SlackApp:
    def __init__(
        self,
        host: AppHost,
        *,
        bot_token: str,
        app_token: str,
        api_url: str | None = None,
    ) -> None:
        self.host = host
        settings = host.base.bot.slack
        self.command_name = settings.app.command
        self.client = WebClient(
            token=bot_token,
            base_url=api_url or settings.api_url or WebClient.BASE_URL,
            timeout=int(settings.timeout),
        )
        bolt_log = logging.getLogger("bot.slack.bolt")
        # bolt also reads SLACK_BOT_TOKEN itself and warns that our client wins: it does
        bolt_log.addFilter(lambda record: "will be unused" not in record.getMessage())
        self.app = App(
            client=self.client,
            # auth.test happens when the socket connects; a bad token is reported there
            token_verification_enabled=False,
            logger=bolt_log,
        )
        self.app_token = app_token
        self.handler: SocketModeHandler | None = None
        self._users: dict[str, tuple[float, Actor]] = {}
        self._edit_lock = threading.Lock()
        self._register()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Connect the socket (returns at once; Slack's requests arrive on its threads)."""
        # ping_interval: how often the client checks its socket; a dropped connection is
        # opened again within it (the library default is 10 s)
        self.handler = SocketModeHandler(
            self.app, self.app_token, web_client=self.client, ping_interval=PING_INTERVAL
        )
        self.handler.connect()  # type: ignore[no-untyped-call]
        log.info("Slack app connected over Socket Mode (%s)", self.command_name)

    def close(self) -> None:
        if self.handler is not None:
            self.handler.close()  # type: ignore[no-untyped-call]

    # -- who asks ----------------------------------------------------------------------------

    def actor(self, user_id: str, team_id: str | None) -> Actor:
        cached = self._users.get(user_id)
        if cached and time.monotonic() - cached[0] < USER_CACHE_SECONDS:
            return cached[1]
        workspace_admin = False
        try:
            user = self.client.users_info(user=user_id)["user"]
            workspace_admin = bool(user.get("is_admin") or user.get("is_owner"))
            team_id = team_id or user.get("team_id")
        except SlackApiError as e:
            log.warning("users.info for %s failed: %s", user_id, e.response.get("error"))
        groups = set()
        for group in self.host.base.bot.slack.app.admins:
            if not group.startswith("S"):
                continue
            try:
                members = self.client.usergroups_users_list(usergroup=group)["users"]
            except SlackApiError as e:
                log.warning(
                    "usergroups.users.list for %s failed: %s (add the usergroups:read scope)",
                    group,
                    e.response.get("error"),
                )
                continue
            if user_id in members:
                groups.add(group)
        actor = Actor(user_id, team_id, workspace_admin, frozenset(groups))
        self._users[user_id] = (time.monotonic(), actor)
        return actor

    def language(self, team_id: str | None) -> str:
        if team_id:
            chosen = self.host.storage.workspace_setting(team_id, "language")
            if chosen:
                return chosen
        return self.host.base.bot.slack.app.language

    # -- handlers ----------------------------------------------------------------------------

    def _register(self) -> None:
        self.app.command(self.command_name)(self._on_command)
        self.app.action(re.compile(r"^fb_(relevant|not_relevant|mute)$"))(self._on_feedback)
        self.app.event("app_home_opened")(self._on_home)
        self.app.error(self._on_error)

    def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack request failed (a bug: please report it): %s", error, exc_info=error)

    def _on_command(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        language = self.language(body.get("team_id"))
        try:
            reply = self.command(body, language)
        except RuleSyntaxError as e:
            reply = Reply(f"That rule does not parse:\n{_code(e.reason)}")
        except CommandError as e:
            # written as mrkdwn, with what the user typed escaped where it is quoted
            reply = Reply(str(e))
        except (ConfigError, FeedError) as e:
            reply = Reply(escape_mrkdwn(str(e)))
        except BotError as e:
            reply = Reply(escape_mrkdwn(f"Could not do that: {e}"))
        except Exception:
            log.exception("slash command %r failed (a bug: please report it)", body.get("text"))
            reply = Reply("Something went wrong on the bot's side; the log has the details.")
        respond(text=_fit(reply.text), response_type=reply.visibility)

    def command(self, body: dict[str, Any], language: str) -> Reply:
        """One slash command's reply (the work of every verb)."""
        parsed = commands.parse(str(body.get("text") or ""))
        user = str(body.get("user_id"))
        team = body.get("team_id")
        channel = str(body.get("channel_id"))
        host, now = self.host, self.host.clock()
        base = host.base
        verb = parsed.verb
        if verb == "help":
            admins = manage.who_may_change(base)
            return Reply(say("help", language, command=self.command_name, admins=admins))
        if verb == "status":
            return Reply(self._status(channel, body.get("channel_name"), language))
        if verb == "list":
            return Reply(self._list())
        if verb == "feeds":
            return Reply(self._feeds(language))
        if verb == "explain":
            return Reply(self._explain(parsed, channel))
        actor = self.actor(user, team)
        if verb == "subscribe":
            args = commands.subscribe_args(parsed)
            sub = manage.subscribe(
                base,
                host.storage,
                actor,
                channel_id=channel,
                channel_name=body.get("channel_name"),
                rule=args.rule,
                schedule=args.schedule,
                name=args.name,
                now=now,
            )
            host.changed()
            zone = base.bot.timezone
            first = next_run(sub.schedule, zone, now)
            return Reply(
                say(
                    "subscribed",
                    language,
                    user=user,
                    name=sub.name,
                    rule=f"`{escape_mrkdwn(sub.rule)}`" if sub.rule else "default",
                    schedule=sub.schedule,
                    timezone=zone,
                    next=first.isoformat(timespec="minutes") if first else "-",
                ),
                "in_channel",
            )
        if verb == "unsubscribe":
            name = commands.one_name(parsed, "NAME")
            manage.unsubscribe(base, host.storage, actor, name, channel_id=channel, now=now)
            host.changed()
            return Reply(say("unsubscribed", language, user=user, name=name), "in_channel")
        if verb == "add-feed":
            if not parsed.args:
                raise CommandError("Usage: `add-feed URL [NAME] [TAG ...]`")
            url, *more = parsed.args
            try:
                feed, found = manage.add_feed(
                    base,
                    host.storage,
                    actor,
                    url,
                    name=more[0] if more else None,
                    tags=more[1:],
                    channel_id=channel,
                    now=now,
                )
            except FeedError as e:
                return Reply(
                    say("feed_refused", language, url=url, reason=escape_mrkdwn(e.message))
                )
            host.changed()
            latest = "; ".join(f"“{escape_mrkdwn(t)}”" for t in found.latest) or "-"
            return Reply(
                say(
                    "feed_added",
                    language,
                    user=user,
                    name=feed.name,
                    url=feed.url,
                    entries=found.entries,
                    title=escape_mrkdwn(found.title),
                    latest=latest,
                ),
                "in_channel",
            )
        if verb == "remove-feed":
            name = commands.one_name(parsed, "NAME")
            manage.remove_feed(base, host.storage, actor, name, channel_id=channel, now=now)
            host.changed()
            return Reply(say("feed_removed", language, user=user, name=name), "in_channel")
        if verb == "unmute":
            return self._unmute(parsed, actor, channel, language, now)
        if verb == "language":
            choice = commands.one_name(parsed, "en|ja").lower()
            if choice not in ("en", "ja"):
                raise CommandError("Usage: `language en` or `language ja`")
            manage.require_admin(base, actor, "change the workspace's language")
            host.storage.set_workspace_setting(str(team or "-"), "language", choice)
            return Reply(say("language", choice))
        raise CommandError(f"Unknown command `{verb}`")  # pragma: no cover (parse checks)

    # -- the verbs -------------------------------------------------------------------------

    def _channel_subscriptions(self, config: Config, channel: str, name: str | None) -> list[str]:
        names = []
        for sub in config.bot.subscriptions:
            if sub.channel is None:
                continue
            if (
                sub.channel in (channel, f"#{name}")
                or self.host.storage.channel_id(sub.name) == channel
            ):
                names.append(sub.name)
        return names

    def _status(self, channel: str, channel_name: str | None, language: str) -> str:
        config = self.host.config()
        mine = set(self._channel_subscriptions(config, channel, channel_name))
        if not mine:
            return say("no_subscription", language, command=self.command_name)
        now = self.host.clock()
        rows = subscription_rows(config, self.host.settings, self.host.storage, now=now)
        lines = []
        for row in rows:
            if row.name not in mine:
                continue
            ledger = row.ledger
            last = ledger.last_digest if ledger else None
            error = ledger.last_error if ledger else None
            delivered = (
                say("delivered", language, when=local_time(self.host.base, last.delivered_at),
                    articles=last.articles)
                if last and last.delivered_at
                else say("never", language)
            )  # fmt: skip
            lines.append(
                say(
                    "status",
                    language,
                    name=escape_mrkdwn(row.name),
                    schedule=row.schedule,
                    delivered=delivered,
                    queued=row.queued,
                    next=local_time(self.host.base, row.next_digest),
                    error=escape_mrkdwn(f"{error.code}: {error.message}") if error else "-",
                )
            )
            muted = self.host.storage.muted_feeds(row.name)
            if muted:
                feeds = ", ".join(f"`{escape_mrkdwn(m.feed)}`" for m in muted)
                lines.append(say("muted_list", language, feeds=feeds))
        changes = self.host.storage.audit(limit=5, channel_id=channel)
        if changes:
            lines.append(say("changes", language))
            lines += [
                f"  {local_time(self.host.base, c.at)} <@{c.user_id}> {c.action} "
                f"`{escape_mrkdwn(c.target)}`"
                + (f" ({escape_mrkdwn(c.detail)})" if c.detail else "")
                for c in changes
            ]
        return "\n".join(lines)

    def _list(self) -> str:
        base = self.host.base
        config, notes = manage.load_effective(base, self.host.storage)
        in_file = {s.name for s in base.bot.subscriptions}
        lines = []
        for sub in config.bot.subscriptions:
            where = (
                f"<#{sub.channel}>"
                if sub.channel and sub.channel[0] in "CG"
                else (sub.channel or f"webhook ${sub.webhook_env}")
            )
            origin = "bot.yaml" if sub.name in in_file else "Slack"
            rule = f"`{escape_mrkdwn(sub.rule)}`" if sub.rule else "default"
            lines.append(f"• `{sub.name}` → {where} · {rule} · `{sub.schedule}` · {origin}")
        lines += [f"note: {escape_mrkdwn(n)}" for n in notes]
        return "\n".join(lines) or "No subscriptions."

    def _feeds(self, language: str) -> str:
        config = self.host.config()
        rows = feed_rows(config, self.host.storage)
        now = self.host.clock()
        # stale as the admin report means it: quiet far beyond the feed's own rhythm
        settings = config.bot.admin or AdminSettings()

        def state(row: Any) -> tuple[int, str]:
            s = row.state
            if s.consecutive_failures:
                kind = s.last_error_kind or "-"
                return 0, say("failing", language, count=s.consecutive_failures, kind=kind)
            arrivals = self.host.storage.arrival_times(s.name)
            if s.last_new is not None and quiet(s, arrivals, settings, now=now) is not None:
                return 1, say("stale", language, date=f"{s.last_new:%Y-%m-%d}")
            return 2, row.health

        ranked = sorted(((state(r), r) for r in rows), key=lambda x: x[0][0])
        counts = [sum(1 for (rank, _), _ in ranked if rank == k) for k in range(3)]
        head = say("feeds_head", language, total=len(rows), failing=counts[0],
                   stale=counts[1], ok=counts[2])  # fmt: skip
        lines = [head]
        for (rank, text), row in ranked[:40]:
            lines.append(f"{'🔴' if rank == 0 else '🟡' if rank == 1 else '🟢'} "
                         f"`{escape_mrkdwn(row.state.name)}` {escape_mrkdwn(text)}")  # fmt: skip
        return "\n".join(lines)

    def _explain(self, parsed: Command, channel: str) -> str:
        if not parsed.rest:
            raise CommandError("Usage: `explain URL` or `explain TEXT`")
        config = self.host.config()
        names = self._channel_subscriptions(config, channel, None)
        rule_name = names[0] if names else None
        rule = config.rules[rule_name] if rule_name else config.keywords.rule(None)
        target = parsed.rest
        if re.match(r"^[a-z][a-z0-9+.-]*://", target, re.I):
            title, text = fetch_page(config, target, trusted=False)
        else:
            title, text = target, ""
        result = Matcher(config.keywords).match(title, text, rule=rule)
        rendered = render_explanation(result, render(rule), title)
        origin = f"rule of `{rule_name}`" if rule_name else "default rule"
        return f"Decision by the {origin}:\n{_code(rendered)}"

    def _unmute(
        self, parsed: Command, actor: Actor, channel: str, language: str, now: datetime
    ) -> Reply:
        if not parsed.args:
            raise CommandError("Usage: `unmute FEED [SUBSCRIPTION]`")
        feed = parsed.args[0]
        config = self.host.config()
        subscription = (
            parsed.args[1]
            if len(parsed.args) > 1
            else next(iter(self._channel_subscriptions(config, channel, None)), None)
        )
        if subscription is None:
            raise CommandError("Name the subscription: `unmute FEED SUBSCRIPTION`")
        manage.require_admin(self.host.base, actor, "unmute a source")
        if not self.host.storage.unmute_feed(subscription, feed):
            raise CommandError(f"`{_e(feed)}` is not muted in `{_e(subscription)}`.")
        self.host.storage.record_audit(
            AuditEntry(now, actor.user_id, "unmute", feed, f"in {subscription}", channel)
        )
        return Reply(
            say("unmuted", language, user=actor.user_id, feed=feed, subscription=subscription),
            "in_channel",
        )

    # -- feedback buttons --------------------------------------------------------------------

    def _on_feedback(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        try:
            self.feedback(body, respond)
        except CommandError as e:
            respond(text=str(e), response_type="ephemeral", replace_original=False)
        except BotError as e:
            respond(text=escape_mrkdwn(str(e)), response_type="ephemeral", replace_original=False)
        except Exception:
            log.exception("feedback click failed (a bug: please report it)")

    def feedback(self, body: dict[str, Any], respond: Any) -> None:
        action = body["actions"][0]
        try:
            value = json.loads(action["value"])
            article_id, subscription = int(value["a"]), str(value["s"])
        except (ValueError, KeyError, TypeError) as e:
            raise CommandError("This button is not one of the bot's.") from e
        user = body["user"]["id"]
        team = (body.get("team") or {}).get("id") or body["user"].get("team_id")
        channel = (body.get("channel") or {}).get("id") or body["container"].get("channel_id")
        now = self.host.clock()
        language = self.language(team)
        if action["action_id"] == "fb_mute":
            found = self.host.storage.articles(ids=[article_id])
            if not found:
                raise CommandError("That story is no longer stored.")
            feed = found[0].article.feed
            done = manage.mute_source(
                self.host.base,
                self.host.storage,
                self.actor(user, team),
                subscription=subscription,
                feed=feed,
                channel_id=channel,
                now=now,
            )
            key = "muted" if done else "already_muted"
            respond(
                text=say(
                    key,
                    language,
                    user=user,
                    feed=feed,
                    subscription=subscription,
                    command=self.command_name,
                ),
                response_type="ephemeral",
                replace_original=False,
            )
            return
        verdict: Verdict = "relevant" if action["action_id"] == "fb_relevant" else "not_relevant"
        click = feedback.record_click(
            self.host.storage,
            article_id=article_id,
            subscription=subscription,
            user_id=user,
            verdict=verdict,
            now=now,
        )
        if click.changed:
            self._show_counts(body, channel)

    def _show_counts(self, body: dict[str, Any], channel: str) -> None:
        """Edit the message in place: every story's buttons show its votes as stored now
        (so two people clicking at once cannot undo each other's count)."""
        message = body.get("message") or {}
        ts = (body.get("container") or {}).get("message_ts") or message.get("ts")
        if not ts or not message.get("blocks"):
            return
        with self._edit_lock:
            blocks = []
            for block in message["blocks"]:
                block_id = str(block.get("block_id") or "")
                if block.get("type") == "actions" and block_id.startswith(FEEDBACK_BLOCK_PREFIX):
                    value = json.loads(block["elements"][0]["value"])
                    counts = self.host.storage.feedback_counts(int(value["a"]), str(value["s"]))
                    block = feedback_block(int(value["a"]), str(value["s"]), counts)
                blocks.append(block)
            try:
                self.client.chat_update(
                    channel=channel, ts=ts, blocks=blocks, text=message.get("text") or ""
                )
            except SlackApiError as e:
                # the vote is stored; only its display failed
                log.warning("could not show the feedback count: %s", e.response.get("error"))

    # -- the Home tab ------------------------------------------------------------------------

    def _on_home(self, event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        try:
            client.views_publish(user_id=event["user"], view=self.home_view(event["user"]))
        except SlackApiError as e:
            log.warning("could not publish the Home tab: %s", e.response.get("error"))

    def _user_channels(self, user_id: str) -> set[str] | None:
        try:
            response = self.client.users_conversations(
                user=user_id, types="public_channel,private_channel", limit=1000
            )
        except SlackApiError:
            return None  # without channels:read / groups:read: every subscription is shown
        return {c["id"] for c in response.get("channels") or []}

    def home_view(self, user_id: str) -> dict[str, Any]:
        config = self.host.config()
        storage = self.host.storage
        now = self.host.clock()
        channels = self._user_channels(user_id)
        rows = subscription_rows(config, self.host.settings, storage, now=now)
        subs = {s.name: s for s in config.bot.subscriptions}
        feeds = feed_rows(config, storage)
        failing = sum(1 for f in feeds if f.state.consecutive_failures)
        figures = {p.name: p for p in feedback.report(storage).by_subscription}
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": "Japan tech policy"}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"Feeds: {len(feeds) - failing} ok, {failing} failing · "
                        f"`{self.command_name} help` for commands",
                    }
                ],
            },
        ]
        for row in rows:
            sub = subs[row.name]
            known = storage.channel_id(row.name) or sub.channel
            if channels is not None and known not in channels:
                continue
            ledger = row.ledger
            last = ledger.last_digest if ledger else None
            judged = figures.get(row.name)
            precision = (
                f"{judged.precision:.0%} relevant of {judged.judged} judged"
                if judged and judged.precision is not None
                else "no feedback yet"
            )
            delivered = (
                f"{local_time(self.host.base, last.delivered_at)}, {last.articles} stories"
                if last and last.delivered_at
                else "none yet"
            )
            text = (
                f"*{escape_mrkdwn(row.name)}* → {escape_mrkdwn(row.destination)}\n"
                f"Last digest: {delivered} · queued {row.queued} · next "
                f"{local_time(self.host.base, row.next_digest)}\nFeedback: {precision}"
            )
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
            if len(blocks) >= 95:
                break
        if len(blocks) == 2:
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": "None of your channels has a subscription."},
                }
            )
        return {"type": "home", "blocks": blocks}
