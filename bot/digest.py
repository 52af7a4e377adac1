"""Build a digest: flagged articles in, Slack Block Kit messages (and a text rendering) out.

Pure: no I/O, the clock is passed in.

    items    -> stories    one per story: same canonical link was merged at storage; here
                           near-duplicate titles (same story from several outlets, within
                           a few days) are merged too, their sources listed
    stories  -> sections   grouped by topic, ordered by score then time
    sections -> messages   at most 45 blocks and ~11,000 characters each (Slack's limits are
                           50 and an undocumented ~13k); the first message has the header,
                           the rest continue in its thread. Nothing is cut: stories beyond
                           ``max_items`` are listed compactly at the end.

Untrusted text (titles, summaries, feed names) only ever goes into ``rich_text`` elements,
which Slack does not parse for mrkdwn or links, so a title cannot forge or break a link;
everything that is mrkdwn (fallback text, context) is escaped for & < >.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.text import truncate

MAX_BLOCKS = 45
MAX_MESSAGE_CHARS = 11_000
MAX_HEADER_CHARS = 150
MAX_TITLE_CHARS = 250
MAX_SUMMARY_CHARS = 240
MAX_WHY_CHARS = 160
COMPACT_PER_BLOCK = 15
NEAR_DUPLICATE_WINDOW = timedelta(days=3)
NEAR_DUPLICATE_SIMILARITY = 0.55
OTHER_TOPICS = "other"
EVENT_TYPE = "jp_techpolicy_digest"

_SOURCE_AFFIXES = re.compile(
    r"^\s*(【[^】]{1,12}】|\[[^\]]{1,12}\])\s*|\s*[-–—|｜:]\s*[^-–—|｜:]{1,40}$|\s*[（(][^（()）]{1,12}[)）]\s*$"
)
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class DigestItem:
    """One flagged article, as the digest needs it."""

    article_id: int
    title: str
    link: str
    summary: str
    source: str
    published: datetime
    score: int
    topics: tuple[str, ...]
    why: str = ""
    #: other feeds that carried the same link: (feed name, link)
    also: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Story:
    lead: DigestItem
    others: tuple[DigestItem, ...] = ()

    @property
    def article_ids(self) -> tuple[int, ...]:
        return (self.lead.article_id, *(o.article_id for o in self.others))

    @property
    def sources(self) -> list[tuple[str, str]]:
        seen = {self.lead.source}
        out = []
        for name, link in [
            *self.lead.also,
            *((o.source, o.link) for o in self.others),
            *(a for o in self.others for a in o.also),
        ]:
            if name not in seen:
                seen.add(name)
                out.append((name, link))
        return out


@dataclass(frozen=True)
class SlackMessage:
    text: str
    blocks: tuple[dict[str, Any], ...]

    def chars(self) -> int:
        return len(self.text) + sum(_block_chars(b) for b in self.blocks)


@dataclass(frozen=True)
class Digest:
    subscription: str
    title: str
    created_at: datetime
    stories: tuple[Story, ...]
    messages: tuple[SlackMessage, ...]
    text: str
    kind: str = "digest"
    article_ids: tuple[int, ...] = field(default=())


# -- stories -----------------------------------------------------------------------------


def _title_key(title: str) -> str:
    title = unicodedata.normalize("NFKC", title)
    for _ in range(2):
        title = _SOURCE_AFFIXES.sub("", title)
    return _NOT_WORD.sub("", title.casefold())


def _bigrams(key: str) -> set[str]:
    return {key[i : i + 2] for i in range(len(key) - 1)} or {key}


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of character bigrams of the titles without source affixes
    ("【速報】", "- Reuters", "（共同）"). Bigrams work for Japanese and English alike."""
    ka, kb = _title_key(a), _title_key(b)
    if not ka or not kb:
        return 0.0
    if ka == kb:
        return 1.0
    x, y = _bigrams(ka), _bigrams(kb)
    return len(x & y) / len(x | y)


def group_stories(items: Sequence[DigestItem]) -> list[Story]:
    """Merge near-duplicate titles published within a few days; the best-scored leads.

    Each item joins the first story (in order) whose lead is close in time and similar
    enough, else starts its own. Comparing every item with every story is quadratic (4,000
    stories took six minutes); instead candidates come from an index of the leads'
    bigrams, with prefix filtering: two sets with Jaccard similarity >= t always share one
    of their ``n - ceil(t*n) + 1`` rarest elements, so only those are indexed and looked
    up. The result is the same as the full comparison."""
    ordered = sorted(items, key=lambda i: (-i.score, -i.published.timestamp(), i.article_id))
    keys = [_title_key(item.title) for item in ordered]
    grams = [_bigrams(key) if key else set() for key in keys]
    rarity = Counter(g for item_grams in grams for g in item_grams)
    stories: list[list[DigestItem]] = []
    lead_grams: list[set[str]] = []
    index: dict[str, list[int]] = {}
    for item, key, mine in zip(ordered, keys, grams, strict=True):
        chosen = None
        prefix: list[str] = []
        if key:
            rarest = sorted(mine, key=lambda g: (rarity[g], g))
            prefix = rarest[: len(rarest) - math.ceil(NEAR_DUPLICATE_SIMILARITY * len(rarest)) + 1]
            for number in sorted({n for g in prefix for n in index.get(g, ())}):
                lead, theirs = stories[number][0], lead_grams[number]
                close = abs(item.published - lead.published) <= NEAR_DUPLICATE_WINDOW
                if close and len(mine & theirs) / len(mine | theirs) >= NEAR_DUPLICATE_SIMILARITY:
                    chosen = number
                    break
        if chosen is not None:
            stories[chosen].append(item)
            continue
        stories.append([item])
        lead_grams.append(mine)
        for g in prefix:
            index.setdefault(g, []).append(len(stories) - 1)
    return [Story(s[0], tuple(s[1:])) for s in stories]


# -- formatting ----------------------------------------------------------------------------


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters; nothing else is HTML-encoded (Slack would show it)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# mrkdwn has no escape for its formatting characters: in untrusted text shown as mrkdwn
# (the notification text), they become their full-width forms, which Slack leaves alone.
_FORMATTING = str.maketrans({"*": "＊", "_": "＿", "~": "～", "`": "｀"})


def inert_mrkdwn(text: str) -> str:
    """Untrusted text that Slack will show as typed: no bold, italics, strike or code."""
    return text.translate(_FORMATTING)


def safe_url(url: str) -> str | None:
    """An http(s) URL fit for a link element, or None (then the title is plain text)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 3000:
        return None
    return url.strip()


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _local(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%m/%d %H:%M %Z")


def _text(text: str, **style: bool) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "text", "text": text}
    if style:
        element["style"] = style
    return element


def _link(url: str | None, text: str, **style: bool) -> dict[str, Any]:
    if url is None:
        return _text(text, **style)
    element: dict[str, Any] = {"type": "link", "url": url, "text": text}
    if style:
        element["style"] = style
    return element


def _rich(elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": elements}]}


def story_block(story: Story, tz: ZoneInfo) -> dict[str, Any]:
    lead = story.lead
    title = truncate(lead.title or lead.link or "(untitled)", MAX_TITLE_CHARS)
    elements = [
        _link(safe_url(lead.link), title, bold=True),
        _text(f"\n{lead.source} · {_local(lead.published, tz)} · score {lead.score}", italic=True),
    ]
    if lead.summary:
        elements.append(_text("\n" + truncate(lead.summary, MAX_SUMMARY_CHARS)))
    if lead.why:
        elements.append(_text("\nwhy: " + truncate(lead.why, MAX_WHY_CHARS), italic=True))
    sources = story.sources
    if sources:
        elements.append(_text("\nalso: "))
        for index, (name, link) in enumerate(sources[:8]):
            if index:
                elements.append(_text(", "))
            elements.append(_link(safe_url(link), name))
        if len(sources) > 8:
            elements.append(_text(f" and {len(sources) - 8} more"))
    return _rich(elements)


def compact_block(stories: Sequence[Story]) -> dict[str, Any]:
    elements: list[dict[str, Any]] = []
    for index, story in enumerate(stories):
        if index:
            elements.append(_text("\n"))
        lead = story.lead
        elements.append(_text("• "))
        elements.append(
            _link(safe_url(lead.link), truncate(lead.title or lead.link, MAX_TITLE_CHARS))
        )
        elements.append(_text(f" ({lead.source}, score {lead.score})", italic=True))
    return _rich(elements)


def _heading(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape_mrkdwn(text)}*"}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": escape_mrkdwn(text)}]}


def _block_chars(block: dict[str, Any]) -> int:
    total = 0
    stack: list[Any] = [block]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("text", "url") and isinstance(value, str):
                    total += len(value)
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return total


# -- the digest ----------------------------------------------------------------------------


def build_digest(
    items: Sequence[DigestItem],
    *,
    subscription: str,
    title: str,
    now: datetime,
    timezone: str,
    topic_labels: dict[str, str],
    max_items: int,
    since: datetime | None = None,
) -> Digest:
    """The digest of ``items`` for ``subscription`` as Slack messages and as text."""
    tz = ZoneInfo(timezone)
    stories = group_stories(items)
    shown, rest = stories[:max_items], stories[max_items:]
    by_topic: dict[str, list[Story]] = {}
    for story in shown:
        topic = story.lead.topics[0] if story.lead.topics else OTHER_TOPICS
        by_topic.setdefault(topic, []).append(story)
    order = sorted(by_topic, key=lambda t: (-max(s.lead.score for s in by_topic[t]), t))
    date = now.astimezone(tz).strftime("%a %d %b %Y %H:%M %Z")
    header_text = truncate(f"{title} — {date}", MAX_HEADER_CHARS)
    sources = {s.lead.source for s in stories} | {name for s in stories for name, _ in s.sources}
    counts = ", ".join(f"{topic_labels.get(t, t)} {len(by_topic[t])}" for t in order)
    summary = f"{_plural(len(stories), 'story', 'stories')} from {_plural(len(sources), 'source')}"
    summary += f" · {counts}" if counts else ""
    if since is not None:
        summary += f" · new since {_local(since, tz)}"
    fallback = escape_mrkdwn(f"{title}: {summary}")

    units: list[list[dict[str, Any]]] = []
    for topic in order:
        blocks = [story_block(s, tz) for s in by_topic[topic]]
        heading = _heading(f"{topic_labels.get(topic, topic)} ({len(blocks)})")
        # A heading travels with at least its first story.
        units.append([heading, blocks[0]])
        units += [[b] for b in blocks[1:]]
    if rest:
        units.append([_heading(f"More flagged stories ({len(rest)}), by score")])
        units += [
            [compact_block(rest[i : i + COMPACT_PER_BLOCK])]
            for i in range(0, len(rest), COMPACT_PER_BLOCK)
        ]
    if not stories:
        units.append([_context("No new flagged articles.")])

    head = [
        {"type": "header", "text": {"type": "plain_text", "text": header_text, "emoji": True}},
        _context(summary),
    ]
    pages: list[list[dict[str, Any]]] = [head]
    for unit in units:
        page = pages[-1]
        # continuation pages get a "continued (n/m)" context block: keep room for it
        room = MAX_BLOCKS - (1 if len(pages) > 1 else 0)
        chars = sum(_block_chars(b) for b in page) + sum(_block_chars(b) for b in unit)
        if len(page) + len(unit) > room or chars > MAX_MESSAGE_CHARS:
            pages.append([])
        pages[-1].extend(unit)
    messages = []
    for number, page in enumerate(pages, start=1):
        if number > 1:
            page.insert(0, _context(f"{title} — continued ({number}/{len(pages)})"))
        text = (
            fallback if number == 1 else escape_mrkdwn(f"{title} (continued {number}/{len(pages)})")
        )
        messages.append(SlackMessage(text=text, blocks=tuple(page)))
    return Digest(
        subscription=subscription,
        title=title,
        created_at=now,
        stories=tuple(stories),
        messages=tuple(messages),
        text=render_text(title, date, summary, shown, rest, by_topic, order, topic_labels, tz),
        article_ids=tuple(i.article_id for i in items),
    )


def render_text(
    title: str,
    date: str,
    summary: str,
    shown: Sequence[Story],
    rest: Sequence[Story],
    by_topic: dict[str, list[Story]],
    order: Sequence[str],
    labels: dict[str, str],
    tz: ZoneInfo,
) -> str:
    """The digest for a terminal: what a user without Slack credentials sees."""
    lines = [f"=== {title} — {date}", summary, ""]
    for topic in order:
        lines.append(f"## {labels.get(topic, topic)} ({len(by_topic[topic])})")
        for story in by_topic[topic]:
            lead = story.lead
            lines.append(f"* {lead.title}")
            lines.append(f"  {lead.source} · {_local(lead.published, tz)} · score {lead.score}")
            if lead.summary:
                lines.append(f"  {truncate(lead.summary, MAX_SUMMARY_CHARS)}")
            if lead.why:
                lines.append(f"  why: {truncate(lead.why, MAX_WHY_CHARS)}")
            lines.append(f"  {lead.link}")
            if story.sources:
                lines.append("  also: " + ", ".join(name for name, _ in story.sources))
        lines.append("")
    if rest:
        lines.append(f"## More flagged stories ({len(rest)})")
        lines += [
            f"* {s.lead.title} ({s.lead.source}, score {s.lead.score}) {s.lead.link}" for s in rest
        ]
        lines.append("")
    if not shown and not rest:
        lines.append("No new flagged articles.")
    return "\n".join(lines).rstrip() + "\n"


def alert_digest(
    item: DigestItem, *, subscription: str, title: str, now: datetime, timezone: str
) -> Digest:
    """One article posted at once because it scored above the subscription's alert level."""
    tz = ZoneInfo(timezone)
    story = Story(item)
    header = truncate(f"Alert · {title}", MAX_HEADER_CHARS)
    blocks = (
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
        story_block(story, tz),
    )
    text = escape_mrkdwn(f"{title} alert: {inert_mrkdwn(truncate(item.title, 200))}")
    rendered = (
        f"!!! {header}\n* {item.title}\n"
        f"  {item.source} · {_local(item.published, tz)} · score {item.score}\n  {item.link}\n"
    )
    return Digest(
        subscription=subscription,
        title=title,
        created_at=now,
        stories=(story,),
        messages=(SlackMessage(text=text, blocks=blocks),),
        text=rendered,
        kind="alert",
        article_ids=(item.article_id,),
    )
