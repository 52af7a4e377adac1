"""One exception tree for the whole bot.

::

    BotError
     +-- ConfigError            (file, key, reason)
     |    +-- RuleSyntaxError   (rule text, position)
     +-- FeedError              (feed url)
     |    +-- FetchError        (kind: timeout, connect, http, rate_limited, too_large, ...)
     |    +-- ParseError        (kind: not_a_feed, empty, ...)
     +-- StorageError
     +-- DeliveryError          (destination, Slack error code)
     +-- CommandError           a Slack command that cannot be done (usage, unknown name)
          +-- NotAllowed        the user may not make this change (says who can)

A broken feed is an expected outcome: ``FeedError`` is recorded on the feed's health and
polling carries on. Anything outside this tree reaching the top is a bug.
"""

from __future__ import annotations

from typing import Any

from bot.ingest.canonical import redact_url

#: feed error kinds that are the bot's own fault, not the feed's: logged with a traceback,
#: reported to the admin at once, and counted by the health check
BUG_KINDS = frozenset({"internal", "worker_died"})


def _rebuild(cls: type[BotError], args: tuple[Any, ...], state: dict[str, Any]) -> BotError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class BotError(Exception):
    """Base of every error the bot raises on purpose.

    Every error crosses process boundaries intact: parsing runs in worker processes, and
    the default pickling of exceptions calls ``cls(*args)`` with the formatted message,
    which fails for any class whose ``__init__`` takes more than a message. Unpickling
    that failed in the parent is what broke the worker pool (issue 8). So every class in
    the tree is rebuilt from its fields, whatever its ``__init__`` takes.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


class ConfigError(BotError):
    """The configuration is invalid. Says which file, which key and why."""

    def __init__(self, path: str, key: str, reason: str) -> None:
        self.path = path
        self.key = key
        self.reason = reason
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {reason}")


class RuleSyntaxError(ConfigError):
    """A subscription rule does not parse; ``position`` is a 0-based column in ``rule``."""

    def __init__(self, path: str, key: str, rule: str, position: int, reason: str) -> None:
        self.rule = rule
        self.position = position
        pointer = f"\n    {rule}\n    {' ' * position}^"
        super().__init__(path, key, f"{reason} at position {position}{pointer}")


class FeedError(BotError):
    """Something went wrong with one feed. ``kind`` is a short machine-readable label."""

    kind = "feed"

    def __init__(self, url: str, message: str, kind: str | None = None) -> None:
        self.url = url
        self.message = message
        if kind is not None:
            self.kind = kind
        # Shown and logged: a feed URL's user:password@ never is.
        super().__init__(f"{redact_url(url)}: {message}")


class FetchError(FeedError):
    kind = "fetch"

    def __init__(
        self,
        url: str,
        message: str,
        kind: str | None = None,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        super().__init__(url, message, kind)


class ParseError(FeedError):
    kind = "parse"


class StorageError(BotError):
    """The SQLite database cannot be opened, migrated or written."""


class DeliveryError(BotError):
    """Slack refused or failed a message. ``permanent`` errors need a human to act."""

    def __init__(
        self, destination: str, code: str, message: str, *, permanent: bool = False
    ) -> None:
        self.destination = destination
        self.code = code
        self.permanent = permanent
        super().__init__(f"{destination}: {code}: {message}")


class CommandError(BotError):
    """A command from Slack that cannot be carried out; the message is the reply."""


class NotAllowed(CommandError):
    """The user may not make this change; the message says who can."""
