"""``explain`` and ``match``: the matcher from the command line, readable or as JSON lines."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

from bot.config import Config
from bot.errors import FetchError
from bot.ingest.article import extract_article
from bot.ingest.fetch import Fetcher
from bot.match import Matcher, MatchResult
from bot.match.rules import Node


def fetch_page(config: Config, url: str, *, trusted: bool = True) -> tuple[str, str]:
    """Fetch ``url`` with the bot's own limits and return (title, main text). A URL typed
    in Slack is not ``trusted``: it goes through the URL guard."""

    async def get() -> tuple[bytes, str | None, str]:
        async with Fetcher(config.bot.fetch) as fetcher:
            result = await fetcher.fetch(url, trusted=trusted)
            return result.body, result.headers.get("content-type"), result.final_url or url

    body, content_type, final_url = asyncio.run(get())
    article = extract_article(body, final_url, content_type=content_type)
    if article.outcome == "not_html":
        raise FetchError(url, f"the page is not HTML ({content_type or 'no type'})", "not_html")
    if not article.text and not article.title:
        raise FetchError(url, "the page has no readable text", "empty")
    return article.title or "", article.text


def render_explanation(result: MatchResult, rule_text: str, title: str) -> str:
    verdict = "FLAGGED" if result.flagged else "not flagged"
    lines = [
        f"{verdict}   score {result.score}/100   topics: {', '.join(result.topics) or '-'}",
        f"title: {title or '(none)'}",
        f"rule:  {rule_text}",
    ]
    for text, ok, detail in result.trace:
        extra = f"   ({detail})" if detail else ""
        lines.append(f"  {'✓' if ok else '✗'} {text}{extra}")
    lines.append("")
    lines.append(f"  {'GROUP':<16}{'SCORE':>6}  {'':<8} TERMS (where found, contribution)")
    for reason in result.reasons:
        terms = ", ".join(
            f"{t.term} ({t.where}{f' x{t.count}' if t.count > 1 else ''}, {t.contribution:.1f})"
            for t in reason.terms
        )
        status = "present" if reason.present else "weak"
        lines.append(f"  {reason.group:<16}{reason.score:>6.1f}  {status:<8} {terms}")
    if not result.reasons:
        lines.append("  (no keyword found)")
    return "\n".join(lines)


def match_lines(
    matcher: Matcher, lines: Iterable[str], rule: Node | None
) -> Iterator[dict[str, Any]]:
    """One output record per input line; a bad line yields an ``error`` record, never a crash."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("each line must be a JSON object")
            title = item.get("title") or ""
            summary = item.get("summary") or ""
            tags = item.get("feed_tags") or []
            if not isinstance(title, str) or not isinstance(summary, str):
                raise ValueError("title and summary must be strings")
            if not isinstance(tags, list):
                raise ValueError("feed_tags must be a list")
        except ValueError as e:
            yield {"id": None, "line": number, "error": str(e)}
            continue
        result = matcher.match(title, summary, feed_tags=[str(t) for t in tags], rule=rule)
        yield {
            "id": item.get("id"),
            "flagged": result.flagged,
            "score": result.score,
            "topics": list(result.topics),
            "reasons": result.reasons_json(),
        }


def write_jsonl(records: Iterable[dict[str, Any]], out: IO[str] = sys.stdout) -> int:
    errors = 0
    for record in records:
        errors += "error" in record
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    out.flush()
    return errors
