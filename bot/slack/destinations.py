"""Slack destinations: a channel through the Web API (bot token), or an incoming webhook."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.delivery.destination import Posted
from bot.digest.blocks import EVENT_TYPE
from bot.errors import DeliveryError
from bot.slack.client import PERMANENT_ERRORS

log = logging.getLogger("bot.slack")

HISTORY_LOOKBACK = timedelta(minutes=10)
#: pages of 200 messages read back at most when looking for a message sent before a crash
HISTORY_MAX_PAGES = 25


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
        self, message: Mapping[str, Any], *, thread_ts: str | None, metadata: dict[str, Any]
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
        self, message: Mapping[str, Any], *, thread_ts: str | None, metadata: dict[str, Any]
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
