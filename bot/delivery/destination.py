"""Where a subscription's messages go: the destination protocol, and the destinations that
are not Slack (the terminal; credentials that cannot work). Slack's are in bot.slack."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Protocol

from bot.errors import DeliveryError


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
        self, message: Mapping[str, Any], *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> Posted: ...

    def find_posted(
        self, channel_id: str | None, key: str, seq: int, oldest: datetime
    ) -> Posted | None: ...


class Terminal:
    """No Slack credentials: digests are printed, readably, for the person at the terminal."""

    kind = "terminal"
    threads = False
    label = "terminal"

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout

    def post(
        self, message: Mapping[str, Any], *, thread_ts: str | None, metadata: dict[str, Any]
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
        self, message: Mapping[str, Any], *, thread_ts: str | None, metadata: dict[str, Any]
    ) -> Posted:
        raise DeliveryError(self.label, "invalid_credentials", self.problem, permanent=True)

    def find_posted(
        self, channel_id: str | None, key: str, seq: int, oldest: datetime
    ) -> Posted | None:
        return None
