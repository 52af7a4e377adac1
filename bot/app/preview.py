"""``preview-page``: what a page without a feed would give, before (or after) it is in
feeds.yaml. The page is fetched with the bot's own limits and read by the same code as a
poll (bot.ingest.pages); nothing is stored."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from bot.config import Config, FeedConfig, PageConfig
from bot.errors import ConfigError
from bot.ingest.fetch import Fetcher
from bot.ingest.pages import HTML_ACCEPT, parse_page
from bot.models import ParsedFeed
from bot.text import clean_text

#: the selector options of the command, as keys of a page: block
SELECTOR_OPTIONS = ("items", "title", "link", "date", "date_format")


@dataclass(frozen=True)
class PagePreview:
    url: str
    page: PageConfig
    parsed: ParsedFeed


def page_config(options: dict[str, Any], *, where: str) -> PageConfig:
    """A page: block from command-line options (``--items`` ...); a bad selector is a
    ConfigError naming the option."""
    given = {k: v for k, v in options.items() if v not in (None, False)}
    try:
        return PageConfig.model_validate(given)
    except ValidationError as e:
        first = e.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        reason = first["msg"].removeprefix("Value error, ")
        option = f"--{field.replace('_', '-')}" if field else "options"
        raise ConfigError(where, option, reason) from e


def source_for(config: Config, name: str) -> FeedConfig:
    """The configured page source ``name``."""
    try:
        feed = config.feed(name)
    except KeyError:
        pages = ", ".join(f.name for f in config.feeds if f.kind == "page") or "none configured"
        raise ConfigError(
            str(config.directory / "feeds.yaml"),
            "--name",
            f"no source named {name!r} (page sources: {pages})",
        ) from None
    if feed.kind != "page" or feed.page is None:
        raise ConfigError(
            str(config.directory / "feeds.yaml"), "--name", f"{name!r} is a feed, not kind: page"
        )
    return feed


def preview_page(
    config: Config,
    url: str,
    page: PageConfig,
    *,
    now: datetime,
    name: str = "preview",
    language: str | None = None,
) -> PagePreview:
    """Fetch ``url`` (typed by the operator: trusted) and read it with ``page``. Raises
    FetchError or ParseError as a poll would record them."""

    async def get() -> tuple[bytes, dict[str, str], str]:
        async with Fetcher(config.bot.fetch) as fetcher:
            result = await fetcher.fetch(url, now=now, accept=HTML_ACCEPT)
            return result.body, result.headers, result.final_url or url

    body, headers, final_url = asyncio.run(get())
    parsed = parse_page(
        body, headers, feed=name, url=final_url, page=page, now=now, language_hint=language
    )
    return PagePreview(final_url, page, parsed)


def _mode(page: PageConfig) -> str:
    if page.auto:
        return "auto (dated links of the main content)"
    parts = [f"items={page.items!r}", f"link={page.link_selector!r}"]
    if page.title:
        parts.append(f"title={page.title!r}")
    if page.date:
        parts.append(f"date={page.date!r}")
    if page.date_format:
        parts.append(f"date_format={page.date_format!r}")
    return "selectors " + " ".join(parts)


def _when(preview: PagePreview, index: int, timezone: str) -> str | None:
    article = preview.parsed.articles[index]
    if article.date_source == "first_seen":
        return None
    local = article.published.astimezone(ZoneInfo(timezone))
    return local.strftime("%Y-%m-%d" if (local.hour, local.minute) == (0, 0) else "%Y-%m-%d %H:%M")


def render_preview(preview: PagePreview, timezone: str) -> str:
    parsed = preview.parsed
    lines = [
        preview.url,
        f"{len(parsed.articles)} entries · {_mode(preview.page)} · encoding {parsed.encoding}"
        + (f" · page title: {parsed.title}" if parsed.title else ""),
        "",
    ]
    for index, article in enumerate(parsed.articles):
        when = _when(preview, index, timezone) or "(no date)"
        lines.append(f"{when:<16}  {clean_text(article.title)}")
        lines.append(f"{'':<16}  {clean_text(article.link)}")
    if any(a.date_source == "first_seen" for a in parsed.articles):
        lines.append("")
        lines.append("(no date): dated when first seen; on a first poll, stored as backlog")
    for warning in parsed.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def preview_json(preview: PagePreview, timezone: str) -> list[dict[str, Any]]:
    return [
        {
            "date": _when(preview, index, timezone),
            "title": article.title,
            "link": article.link,
            "entry_id": article.entry_id,
        }
        for index, article in enumerate(preview.parsed.articles)
    ]
