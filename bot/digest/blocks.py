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

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from bot.digest.stories import DigestItem, Story, group_stories
from bot.digest.text import MAX_SUMMARY_CHARS, MAX_WHY_CHARS, local_time, render_text
from bot.text import truncate

MAX_BLOCKS = 45
MAX_MESSAGE_CHARS = 11_000
MAX_HEADER_CHARS = 150
MAX_TITLE_CHARS = 250
COMPACT_PER_BLOCK = 15
OTHER_TOPICS = "other"
EVENT_TYPE = "jp_techpolicy_digest"
#: feedback buttons: the block is ``fb:<article id>``, each button's value names the
#: article and the subscription, so a click works whenever it comes (after a restart too)
FEEDBACK_BLOCK_PREFIX = "fb:"
FEEDBACK_ACTIONS = {
    "fb_relevant": "Relevant",
    "fb_not_relevant": "Not relevant",
    "fb_mute": "Mute this source",
}


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
        _text(
            f"\n{lead.source} · {local_time(lead.published, tz)} · score {lead.score}", italic=True
        ),
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


def feedback_block(
    article_id: int, subscription: str, counts: dict[str, int] | None = None
) -> dict[str, Any]:
    """Relevant / Not relevant / Mute this source under a story; ``counts`` (votes per
    verdict) are shown on the first two once someone has voted."""
    value = json.dumps({"a": article_id, "s": subscription}, separators=(",", ":"))
    counts = counts or {}
    elements = []
    for action_id, label in FEEDBACK_ACTIONS.items():
        verdict = action_id.removeprefix("fb_")
        shown = f"{label} · {counts[verdict]}" if counts.get(verdict) else label
        elements.append(
            {
                "type": "button",
                "action_id": action_id,
                "text": {"type": "plain_text", "text": shown},
                "value": value,
            }
        )
    return {
        "type": "actions",
        "block_id": f"{FEEDBACK_BLOCK_PREFIX}{article_id}",
        "elements": elements,
    }


def with_feedback_counts(
    blocks: Sequence[dict[str, Any]], article_id: int, subscription: str, counts: dict[str, int]
) -> list[dict[str, Any]]:
    """A posted message's blocks with one story's buttons showing ``counts`` (for
    chat.update: the message is edited in place, never posted again)."""
    target = f"{FEEDBACK_BLOCK_PREFIX}{article_id}"
    return [
        feedback_block(article_id, subscription, counts) if b.get("block_id") == target else b
        for b in blocks
    ]


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
    feedback: bool = False,
) -> Digest:
    """The digest of ``items`` for ``subscription`` as Slack messages and as text; with
    ``feedback``, each story (not the compact list) has its feedback buttons."""
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
        summary += f" · new since {local_time(since, tz)}"
    fallback = escape_mrkdwn(f"{title}: {summary}")

    units: list[list[dict[str, Any]]] = []
    for topic in order:
        blocks = [
            [story_block(s, tz)]
            + ([feedback_block(s.lead.article_id, subscription)] if feedback else [])
            for s in by_topic[topic]
        ]
        heading = _heading(f"{topic_labels.get(topic, topic)} ({len(blocks)})")
        # A heading travels with at least its first story; a story with its buttons.
        units.append([heading, *blocks[0]])
        units += blocks[1:]
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


def alert_digest(
    item: DigestItem,
    *,
    subscription: str,
    title: str,
    now: datetime,
    timezone: str,
    feedback: bool = False,
) -> Digest:
    """One article posted at once because it scored above the subscription's alert level."""
    tz = ZoneInfo(timezone)
    story = Story(item)
    header = truncate(f"Alert · {title}", MAX_HEADER_CHARS)
    blocks: tuple[dict[str, Any], ...] = (
        {"type": "header", "text": {"type": "plain_text", "text": header, "emoji": True}},
        story_block(story, tz),
    )
    if feedback:
        blocks += (feedback_block(item.article_id, subscription),)
    text = escape_mrkdwn(f"{title} alert: {inert_mrkdwn(truncate(item.title, 200))}")
    rendered = (
        f"!!! {header}\n* {item.title}\n"
        f"  {item.source} · {local_time(item.published, tz)} · score {item.score}\n  {item.link}\n"
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
