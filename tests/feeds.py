"""Fixture feeds: templates in ``tests/data/feeds`` and a builder for generated ones.

Templates are UTF-8 text so they can be read in review; :func:`load` encodes them into
the encoding under test (Shift_JIS, EUC-JP, ISO-2022-JP) with or without a declaration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

DATA = Path(__file__).parent / "data" / "feeds"


def load(name: str, encoding: str = "utf-8", declare: str | None = "UTF-8") -> bytes:
    """Template ``name`` encoded as ``encoding``; ``declare`` is the label written in the
    XML declaration (None: a declaration without encoding; "" : no declaration at all)."""
    text = (DATA / name).read_text(encoding="utf-8")
    if declare is None:
        decl = '<?xml version="1.0"?>'
    elif declare == "":
        decl = ""
    else:
        decl = f'<?xml version="1.0" encoding="{declare}"?>'
    return text.replace("{{xmldecl}}", decl).encode(encoding)


def rfc822(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def item(
    title: str,
    link: str,
    *,
    guid: str | None = None,
    published: datetime | None = None,
    description: str = "",
) -> str:
    parts = [f"<title>{escape(title)}</title>", f"<link>{escape(link)}</link>"]
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{escape(guid)}</guid>')
    if published is not None:
        parts.append(f"<pubDate>{rfc822(published)}</pubDate>")
    if description:
        parts.append(f"<description>{escape(description)}</description>")
    return "<item>" + "".join(parts) + "</item>"


def rss(items: list[str], title: str = "Generated feed", encoding: str = "utf-8") -> bytes:
    head = f'<?xml version="1.0" encoding="{encoding}"?>'
    body = (
        f'{head}<rss version="2.0"><channel><title>{escape(title)}</title>'
        f"<link>https://gen.example.com/</link>{''.join(items)}</channel></rss>"
    )
    return body.encode(encoding)
