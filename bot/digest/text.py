"""The digest as text: what a terminal shows (a user without Slack credentials) and what
``digest --dry-run`` prints. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.digest.stories import Story
from bot.text import truncate

MAX_SUMMARY_CHARS = 240
MAX_WHY_CHARS = 160


def local_time(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%m/%d %H:%M %Z")


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
            lines.append(f"  {lead.source} · {local_time(lead.published, tz)} · score {lead.score}")
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
