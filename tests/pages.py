"""Fixture pages: templates in ``tests/data/pages`` (written for these tests, after the
structure of real official pages, with their traps) and builders for their items.

Each template has ``{{items}}`` where the entries go; an entry is ``(title, href, day)`` with
``day`` a date in Tokyo, or None for an item without a date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

DATA = Path(__file__).parent / "data" / "pages"
TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = "月火水木金土日"

Entry = tuple[str, str | None, date | None]


def today(now: datetime) -> date:
    return now.astimezone(TOKYO).date()


def days_ago(now: datetime, days: int) -> date:
    return today(now) - timedelta(days=days)


def era(day: date) -> str:
    """令和6年4月9日（火）; the first year is 元年."""
    year = day.year - 2018
    return (
        f"令和{'元' if year == 1 else year}年{day.month}月{day.day}日（{WEEKDAYS[day.weekday()]}）"
    )


def midnight(day: date) -> datetime:
    """The instant a date-only entry is stored with: 00:00 in Tokyo, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=TOKYO).astimezone(UTC)


def render(template: str, items: str, encoding: str = "utf-8", label: str | None = None) -> bytes:
    """The template with its items, encoded; ``label`` replaces the charset the template
    declares (Shift_JIS) in its XML declaration and <meta>."""
    text = (DATA / template).read_text(encoding="utf-8").replace("{{items}}", items)
    if label:
        text = text.replace("Shift_JIS", label)
    return text.encode(encoding)


def news_list(entries: list[Entry]) -> bytes:
    """news_list.html: <li><time datetime> <category link> <div.news-text><a></li>."""
    rows = []
    for title, href, day in entries:
        when = (
            f'<time class="news-date" datetime="{day.isoformat()}">'
            f"{day.year}年{day.month}月{day.day}日</time>"
            if day
            else ""
        )
        link = f"<a href={quoteattr(href)}>{escape(title)}</a>" if href else escape(title)
        rows.append(
            f'    <li>{when}<span class="news-cat"><a href="/news/?category=press">報道発表</a>'
            f'</span><div class="news-text">{link}</div></li>'
        )
    return render("news_list.html", "\n".join(rows))


def whatsnew_dl(entries: list[Entry], encoding: str = "cp932", label: str | None = None) -> bytes:
    """whatsnew_dl.html (Shift_JIS): <dt>令和...（曜）</dt><dd><a>title</a> <a>(PDF)</a></dd>."""
    rows = []
    for title, href, day in entries:
        link = f"<a href={quoteattr(href)}>{escape(title)}</a>" if href else escape(title)
        if href and href.endswith(".pdf"):
            link += f' <a href={quoteattr(href)}><img src="/img/pdf.gif" alt="PDF" /></a>'
        rows.append(f"    <dt>{era(day) if day else ''}</dt>\n    <dd>{link}</dd>")
    return render("whatsnew_dl.html", "\n".join(rows), encoding, label)


def diet_table(entries: list[Entry]) -> bytes:
    """diet_table.html: <tr><td>2024年4月9日</td><td><a>title</a></td></tr>."""
    rows = []
    for title, href, day in entries:
        when = f"{day.year}年{day.month}月{day.day}日" if day else ""
        link = f"<a href={quoteattr(href)}>{escape(title)}</a>" if href else escape(title)
        rows.append(f"    <tr><td>{when}</td><td>{link}</td></tr>")
    return render("diet_table.html", "\n".join(rows))
