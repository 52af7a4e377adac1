"""Slack clients: slack-sdk's WebClient and WebhookClient with retries that never hold up a
shutdown, and what each Slack error means for the person who must fix it."""

from __future__ import annotations

import random
import threading

from slack_sdk import WebClient, WebhookClient
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryHandler,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from bot.config import SlackSettings

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


def retry_handlers(slack: SlackSettings, stop: threading.Event) -> list[RetryHandler]:
    return [
        _ConnectionRetry(stop, 2),
        _RateLimitRetry(stop, slack.rate_limit_retries, slack.rate_limit_max_wait),
        _ServerErrorRetry(stop, slack.server_error_retries),
    ]


def credential_problem(value: str) -> str | None:
    """What is wrong with a token or webhook URL as set, if anything (never the value)."""
    if any(ch.isspace() for ch in value):
        return "contains a line break or a space inside it"
    if not value.isascii() or not value.isprintable():
        return "contains a character that is not plain ASCII"
    return None


def web_client(
    slack: SlackSettings, token: str, base_url: str | None, stop: threading.Event
) -> WebClient:
    return WebClient(
        token=token,
        base_url=base_url or slack.api_url or WebClient.BASE_URL,
        timeout=int(slack.timeout),
        retry_handlers=retry_handlers(slack, stop),
    )


def webhook_client(slack: SlackSettings, url: str, stop: threading.Event) -> WebhookClient:
    return WebhookClient(
        url=url, timeout=int(slack.timeout), retry_handlers=retry_handlers(slack, stop)
    )
