"""Load and validate the configuration folder.

The folder holds ``feeds.yaml`` (the feed list) and ``bot.yaml`` (global settings, and
subscriptions). Every problem is reported as a :class:`~bot.errors.ConfigError` naming the
file, the key (``feeds[3].url``) and the reason, so a user can fix it without reading code.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from bot.errors import ConfigError
from bot.match.keywords import KeywordSet, load_keywords
from bot.yamlio import read_yaml, validate_file

FEEDS_FILE = "feeds.yaml"
BOT_FILE = "bot.yaml"
DEFAULT_CONFIG_DIR = "config"
DEFAULT_DATA_DIR = "data"
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


class FeedConfig(_Model):
    name: str = Field(min_length=1, max_length=200)
    url: str
    language: Literal["ja", "en"] | None = None
    tags: tuple[str, ...] = ()
    interval: Duration | None = None
    enabled: bool = True

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


class FeedsFile(_Model):
    feeds: tuple[FeedConfig, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> FeedsFile:
        seen_names: dict[str, int] = {}
        seen_urls: dict[str, int] = {}
        for index, feed in enumerate(self.feeds):
            if feed.name in seen_names:
                raise ValueError(
                    f"feeds[{index}].name: {feed.name!r} is already used by "
                    f"feeds[{seen_names[feed.name]}]; feed names must be unique"
                )
            if feed.url in seen_urls:
                raise ValueError(
                    f"feeds[{index}].url: {feed.url} is already listed as "
                    f"feeds[{seen_urls[feed.url]}]"
                )
            seen_names[feed.name] = index
            seen_urls[feed.url] = index
        return self


class FetchSettings(_Model):
    max_concurrency: int = Field(16, ge=1, le=200)
    per_host_concurrency: int = Field(2, ge=1, le=50)
    connect_timeout: Duration = 10.0
    read_timeout: Duration = 30.0
    #: overall deadline for one request, body included (read_timeout is per chunk)
    deadline: Duration = 60.0
    max_body_mb: float = Field(10.0, gt=0, le=1024)
    #: longest we honour a server's Cache-Control max-age or Retry-After
    max_server_delay: Duration = 6 * 3600.0
    user_agent: str | None = None


class PollSettings(_Model):
    default_interval: Duration = 1800.0
    #: on a feed's first poll, entries older than this are stored as backlog, never posted
    backlog_hours: float = Field(48.0, ge=0)
    backoff_base: Duration = 300.0
    backoff_max: Duration = 6 * 3600.0
    #: processes that parse feeds; 0 = one per CPU core
    parse_workers: int = Field(0, ge=0, le=64)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name such as Asia/Tokyo)"
        ) from e
    return value


TimeZoneName = Annotated[str, BeforeValidator(_check_timezone)]


class BotFile(_Model):
    timezone: TimeZoneName = DEFAULT_TIMEZONE
    poll: PollSettings = PollSettings()
    fetch: FetchSettings = FetchSettings()


@dataclass(frozen=True)
class Config:
    """The validated configuration folder."""

    directory: Path
    feeds: tuple[FeedConfig, ...]
    bot: BotFile
    keywords: KeywordSet

    def feed(self, name: str) -> FeedConfig:
        for feed in self.feeds:
            if feed.name == name:
                return feed
        raise KeyError(name)

    def interval(self, feed: FeedConfig) -> float:
        return feed.interval or self.bot.poll.default_interval

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
    return Config(directory=directory, feeds=feeds.feeds, bot=bot, keywords=keywords)


def resolve_config_dir(cli_value: str | None) -> Path:
    return Path(cli_value or os.environ.get("BOT_CONFIG") or DEFAULT_CONFIG_DIR)


def resolve_data_dir(cli_value: str | None) -> Path:
    return Path(cli_value or os.environ.get("BOT_DATA_DIR") or DEFAULT_DATA_DIR)
