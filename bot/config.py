"""Load and validate the configuration folder.

The folder holds ``feeds.yaml`` (the feed list) and ``bot.yaml`` (global settings, and
subscriptions). Every problem is reported as a :class:`~bot.errors.ConfigError` naming the
file, the key (``feeds[3].url``) and the reason, so a user can fix it without reading code.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cssselect import SelectorError
from lxml.cssselect import CSSSelector
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.errors import ConfigError
from bot.match.keywords import KeywordSet, load_keywords
from bot.match.rules import Node
from bot.runtime.schedule import cron_trigger
from bot.yamlio import read_yaml, validate_file

FEEDS_FILE = "feeds.yaml"
BOT_FILE = "bot.yaml"
DEFAULT_TIMEZONE = "Asia/Tokyo"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$")
_UNITS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float:
    """``90``, ``"90s"``, ``"15m"``, ``"2h"``, ``"1d"`` -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m, 2h or 600")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration (use e.g. 90s, 15m, 2h, 1d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Model(BaseModel):
    # A misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


#: where an item's link is, unless a page says otherwise: its first element with an href
DEFAULT_LINK_SELECTOR = "a[href]"
# strptime directives a date_format may use (%-codes Python documents for every platform)
_STRPTIME = re.compile(r"%[aAbBcdfHIjmMpSUwWxXyYzZ%]")
_STRPTIME_ANY = re.compile(r"%.")


def compile_selector(value: str) -> CSSSelector:
    """``value`` as a compiled CSS selector; ValueError naming the problem if it is not one."""
    if not value.strip():
        raise ValueError("empty CSS selector")
    try:
        return CSSSelector(value)
    except SelectorError as e:
        raise ValueError(f"invalid CSS selector {value!r}: {e}") from e
    except Exception as e:  # the XPath it translates to does not compile
        raise ValueError(f"invalid CSS selector {value!r}: {type(e).__name__}: {e}") from e


class PageConfig(_Model):
    """How to read entries off a web page that has no feed (``kind: page``).

    Either selectors (``items``, and within each item ``title``, ``link``, ``date``) or
    ``auto: true``: the dated links of the page's main content."""

    #: each match is one entry
    items: str | None = None
    #: the entry's title, within the item; default: the text of its link
    title: str | None = None
    #: the element carrying the entry's href, within the item (the item itself may match)
    link: str | None = None
    #: the element with the entry's date (its datetime attribute, else its text)
    date: str | None = None
    #: a strptime format for that text; default: dates as official pages write them
    #: (2024年4月9日, 令和6年4月9日, R6.4.9, 2024/4/9, April 9, 2024 ...)
    date_format: str | None = None
    #: take the dated links of the page's main content; no selectors
    auto: bool = False
    #: documentation only: true when these selectors were checked against a copy of the
    #: page (the shipped definitions: a fixture in tests/data/pages and a test); the bot
    #: reads every definition the same way
    verified: bool = False

    @field_validator("items", "title", "link", "date")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is not None:
            compile_selector(value)
        return value

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str | None) -> str | None:
        if value is None:
            return value
        unknown = set(_STRPTIME_ANY.findall(value)) - set(_STRPTIME.findall(value))
        if unknown:
            raise ValueError(
                f"{value!r}: {', '.join(sorted(unknown))} is not a strptime directive "
                "(use e.g. %Y年%m月%d日 or %Y/%m/%d)"
            )
        if not _STRPTIME.search(value):
            raise ValueError(f"{value!r} has no strptime directive (such as %Y, %m, %d)")
        return value

    @model_validator(mode="after")
    def _mode(self) -> PageConfig:
        given = [k for k in ("items", "title", "link", "date", "date_format") if getattr(self, k)]
        if self.auto and given:
            raise ValueError(
                f"auto: true takes no selectors (remove {', '.join(given)}), "
                "or use selectors without auto"
            )
        if not self.auto and self.items is None:
            raise ValueError("give 'items' (a CSS selector for each entry) or 'auto: true'")
        if self.date_format and not self.date:
            raise ValueError("date_format needs a 'date' selector")
        return self

    @property
    def link_selector(self) -> str:
        return self.link or DEFAULT_LINK_SELECTOR


class FeedConfig(_Model):
    name: str = Field(min_length=1, max_length=200)
    url: str
    #: feed: RSS, Atom or JSON Feed; page: a web page read with the selectors of ``page``
    kind: Literal["feed", "page"] = "feed"
    #: fetch the article page of a new entry: auto (when the entry is too thin to decide
    #: and a candidate), always (every new entry), never
    full_text: Literal["auto", "always", "never"] = "auto"
    page: PageConfig | None = Field(None, validate_default=True)
    language: Literal["ja", "en"] | None = None
    tags: tuple[str, ...] = ()
    interval: Duration | None = None
    enabled: bool = True
    #: fetch it as an untrusted URL, through the URL guard (no private, loopback,
    #: link-local or reserved address, at connection time and at every redirect): feeds
    #: added from Slack always are
    guarded: bool = False

    @field_validator("page")
    @classmethod
    def _page_for_pages_only(cls, value: PageConfig | None, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")  # absent when kind itself was invalid
        if kind == "page" and value is None:
            raise ValueError(
                "a 'kind: page' source needs a page: block (items: a CSS selector, or auto: true)"
            )
        if kind == "feed" and value is not None:
            raise ValueError("'page:' is only for sources with 'kind: page'")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        if isinstance(value, str):
            return (value,)
        return value


def _check_unique(
    section: str, key: str, values: list[str], *, verb: str = "is already used by", hint: str = ""
) -> None:
    """``section[i].key: 'x' is already used by section[j]`` for the first repeat."""
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            raise ValueError(
                f"{section}[{index}].{key}: {value!r} {verb} {section}[{seen[value]}]{hint}"
            )
        seen[value] = index


class FeedsFile(_Model):
    feeds: tuple[FeedConfig, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> FeedsFile:
        names = [f.name for f in self.feeds]
        _check_unique("feeds", "name", names, hint="; feed names must be unique")
        _check_unique("feeds", "url", [f.url for f in self.feeds], verb="is already listed as")
        return self


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return False
    return True


class FetchSettings(_Model):
    #: requests in flight at once: enough for many hosts, each of them held to
    #: per_host_concurrency (a warm cycle is bound by latency, not bandwidth)
    max_concurrency: int = Field(64, ge=1, le=500)
    per_host_concurrency: int = Field(2, ge=1, le=50)
    connect_timeout: Duration = 10.0
    read_timeout: Duration = 30.0
    #: overall deadline for one request, body included (read_timeout is per chunk)
    deadline: Duration = 60.0
    max_body_mb: float = Field(10.0, gt=0, le=1024)
    #: longest we honour a server's Cache-Control max-age or Retry-After
    max_server_delay: Duration = 6 * 3600.0
    user_agent: str | None = None
    #: hosts, addresses or networks (10.0.0.0/8) that URLs taken from content (article
    #: links, URLs typed in Slack) may reach although they are not public; configured feed
    #: URLs are always trusted
    allow_private_hosts: list[str] = Field(default_factory=list)

    @field_validator("allow_private_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not entry.strip() or ("/" in entry and not _is_network(entry)):
                raise ValueError(f"{entry!r} is neither a host name, an address nor a network")
        return value


class PollSettings(_Model):
    default_interval: Duration = 1800.0
    #: on a feed's first poll, entries older than this are stored as backlog, never posted
    backlog_hours: float = Field(48.0, ge=0)
    backoff_base: Duration = 300.0
    backoff_max: Duration = 6 * 3600.0
    #: processes that parse feeds; 0 = one per CPU core
    parse_workers: int = Field(0, ge=0, le=64)
    #: longest one feed may spend being parsed and matched before its worker is replaced
    parse_timeout: Duration = 60.0
    #: address space one parse worker may use (RLIMIT_AS); 0 = no limit
    worker_memory_mb: int = Field(1536, ge=0)


class FullTextSettings(_Model):
    """Fetching the article behind a thin entry (README "Full text")."""

    #: an entry whose description (beyond its title) is shorter than this is thin, counted
    #: in display width: a Japanese character counts two. 200 takes in most one-line wire
    #: descriptions (median 129 in Japanese, 176 in English, in the relevance corpus) and
    #: leaves out most article ledes (median 238 and 251)
    thin_below: int = Field(200, ge=0, le=100_000)
    #: most article pages one poll cycle fetches: a flood of new entries must not become a
    #: flood of page requests; the rest are decided on their feed text
    per_cycle: int = Field(40, ge=0, le=10_000)
    #: seconds between two article-page requests to one host
    per_host_interval: Duration = 2.0
    #: how long a host's robots.txt is trusted before it is read again
    robots_ttl: Duration = 6 * 3600.0


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name such as Asia/Tokyo)"
        ) from e
    return value


TimeZoneName = Annotated[str, BeforeValidator(_check_timezone)]


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CHANNEL = re.compile(r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{6,})$")


class SubscriptionConfig(_Model):
    """Who gets which articles, where and when (see README "Subscriptions")."""

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    #: a channel ("#name" or an ID such as C0123ABCD), posted with SLACK_BOT_TOKEN
    channel: str | None = None
    #: or: the name of the environment variable holding an incoming webhook URL
    webhook_env: str | None = None
    #: a rule name from keywords.yaml, or a rule; default: the "default" rule
    rule: str | None = None
    #: five-field cron, standard meaning (0 and 7 are Sunday)
    schedule: str = "0 9,17 * * mon-fri"
    #: default: the global timezone
    timezone: TimeZoneName | None = None
    title: str | None = Field(None, max_length=80)
    min_score: int = Field(0, ge=0, le=100)
    max_items: int = Field(40, ge=1, le=500)
    post_empty: bool = False
    #: articles scoring at least this are posted at once, not kept for the digest
    alert_score: int | None = Field(None, ge=1, le=100)

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not _CHANNEL.match(value):
            raise ValueError(
                f"{value!r} is not a channel: use '#name' (lowercase) "
                "or a channel ID like C0123ABCD"
            )
        return value

    @field_validator("webhook_env")
    @classmethod
    def _webhook_env(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            hint = (
                " (it looks like a URL: never write the webhook URL in this file; put it in an "
                "environment variable and name the variable here)"
                if "://" in value
                else ""
            )
            raise ValueError(f"{value!r} is not an environment variable name{hint}")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        cron_trigger(value, DEFAULT_TIMEZONE)
        return value

    @model_validator(mode="after")
    def _one_destination(self) -> SubscriptionConfig:
        if (self.channel is None) == (self.webhook_env is None):
            raise ValueError("give exactly one of 'channel' or 'webhook_env'")
        return self


_SLACK_ID = re.compile(r"^[US][A-Z0-9]{2,}$")


class SlackAppSettings(_Model):
    """The Slack app (started by ``run`` when SLACK_APP_TOKEN is set; see README)."""

    #: the slash command, as created in the app's manifest
    command: str = Field("/techpolicy", pattern=r"^/[a-z0-9_-]{1,31}$")
    #: who may change subscriptions and feeds from Slack, besides workspace admins and
    #: owners: user IDs (U0123ABCD) and user group IDs (S0123ABCD)
    admins: tuple[str, ...] = ()
    #: the replies' language until a workspace chooses (`/techpolicy language ja`)
    language: Literal["en", "ja"] = "en"
    #: feedback buttons (Relevant / Not relevant / Mute this source) on every story
    feedback_buttons: bool = True

    @field_validator("admins")
    @classmethod
    def _ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            if not _SLACK_ID.match(item):
                raise ValueError(
                    f"{item!r} is not a user ID (U0123ABCD) or a user group ID (S0123ABCD): "
                    "in Slack, open the profile or the group and copy its ID"
                )
        return value


class SlackSettings(_Model):
    #: the Slack app over Socket Mode
    app: SlackAppSettings = SlackAppSettings()
    #: environment variable holding the bot token
    token_env: str = "SLACK_BOT_TOKEN"
    #: Web API base URL (SLACK_API_URL overrides it): for proxies and tests
    api_url: str | None = None
    timeout: Duration = 30.0
    #: retries on HTTP 429 (honouring Retry-After) before the digest waits for the next run
    rate_limit_retries: int = Field(3, ge=0, le=10)
    #: a longer Retry-After is not waited out inline: the digest goes out on the next run
    rate_limit_max_wait: Duration = 20.0
    server_error_retries: int = Field(2, ge=0, le=10)
    #: a digest Slack refuses as a message (invalid_blocks ...) this many runs is parked and
    #: its articles go into the next digest (python -m bot outbox shows it)
    park_after: int = Field(2, ge=1, le=20)


class HttpSettings(_Model):
    """The /healthz and /metrics endpoint of ``python -m bot run`` (off unless a port is set;
    --health-port and BOT_HEALTH_PORT override)."""

    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=0, le=65535)


class AdminSettings(_Model):
    """Where reports about the bot itself go: failing or quiet feeds, failing deliveries."""

    channel: str | None = None
    webhook_env: str | None = None
    #: a feed failing for this long is reported
    failing_after: Duration = 24 * 3600.0
    #: a feed with no new article for this many of its usual gaps (and at least quiet_min)
    quiet_factor: float = Field(10.0, gt=1)
    quiet_min: Duration = 7 * 86400.0
    #: the same problem is reported again after this long
    repeat_after: Duration = 24 * 3600.0

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        return SubscriptionConfig._channel(value)

    @field_validator("webhook_env")
    @classmethod
    def _webhook_env(cls, value: str | None) -> str | None:
        return SubscriptionConfig._webhook_env(value)


class ReplicaSettings(_Model):
    #: how long a replica's claim on a subscription's delivery (or the admin report) lasts
    #: unless renewed; renewed before every message, so a replica that dies leaves its
    #: digest to another one after this long
    claim_ttl: Duration = Field(60.0, ge=1)


class BotFile(_Model):
    timezone: TimeZoneName = DEFAULT_TIMEZONE
    #: postgresql://user:password@host/db for several replicas (BOT_DATABASE_URL wins);
    #: unset: SQLite in the data directory
    database_url: str | None = None
    poll: PollSettings = PollSettings()
    fetch: FetchSettings = FetchSettings()
    full_text: FullTextSettings = FullTextSettings()
    slack: SlackSettings = SlackSettings()
    http: HttpSettings = HttpSettings()
    admin: AdminSettings | None = None
    replicas: ReplicaSettings = ReplicaSettings()
    subscriptions: tuple[SubscriptionConfig, ...] = ()

    @model_validator(mode="after")
    def _unique_subscriptions(self) -> BotFile:
        _check_unique("subscriptions", "name", [s.name for s in self.subscriptions])
        return self


@dataclass(frozen=True)
class Config:
    """The validated configuration folder."""

    directory: Path
    feeds: tuple[FeedConfig, ...]
    bot: BotFile
    keywords: KeywordSet
    #: each subscription's parsed rule, by subscription name
    rules: dict[str, Node]

    def feed(self, name: str) -> FeedConfig:
        for feed in self.feeds:
            if feed.name == name:
                return feed
        raise KeyError(name)

    def interval(self, feed: FeedConfig) -> float:
        return feed.interval or self.bot.poll.default_interval

    def subscription(self, name: str) -> SubscriptionConfig:
        for sub in self.bot.subscriptions:
            if sub.name == name:
                return sub
        known = ", ".join(s.name for s in self.bot.subscriptions) or "none configured"
        raise ConfigError(
            str(self.directory / BOT_FILE),
            "subscriptions",
            f"no subscription named {name!r} ({known})",
        )

    def timezone_of(self, sub: SubscriptionConfig) -> str:
        return sub.timezone or self.bot.timezone

    def secret_variables(self) -> list[str]:
        """Environment variables this configuration reads secrets from (for the log
        scrubber)."""
        names = [self.bot.slack.token_env, "SLACK_APP_TOKEN"]
        names += [s.webhook_env for s in self.bot.subscriptions if s.webhook_env]
        if self.bot.admin is not None and self.bot.admin.webhook_env:
            names.append(self.bot.admin.webhook_env)
        return names

    def notes(self) -> list[str]:
        """Things that are valid but probably not what the user meant."""
        notes = []
        for index, feed in enumerate(self.feeds):
            for tag in feed.tags:
                if tag not in self.keywords.feed_tags:
                    notes.append(
                        f"{FEEDS_FILE}: feeds[{index}].tags: {tag!r} is not in keywords.yaml "
                        "feed_tags, so it is only a label (no effect on matching)"
                    )
        return notes


def load_config(directory: Path) -> Config:
    """Load and validate ``directory``; raises ConfigError on the first problem."""
    if not directory.is_dir():
        raise ConfigError(str(directory), "", "configuration folder not found")
    feeds_path = directory / FEEDS_FILE
    bot_path = directory / BOT_FILE
    feeds = validate_file(FeedsFile, feeds_path, read_yaml(feeds_path, required=True))
    bot = validate_file(BotFile, bot_path, read_yaml(bot_path, required=False))
    keywords = load_keywords(directory)
    rules = {
        sub.name: keywords.rule(sub.rule, key=f"subscriptions[{index}].rule", path=str(bot_path))
        for index, sub in enumerate(bot.subscriptions)
    }
    return Config(directory=directory, feeds=feeds.feeds, bot=bot, keywords=keywords, rules=rules)
