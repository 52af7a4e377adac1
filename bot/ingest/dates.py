"""Entry dates as aware UTC datetimes, correcting what feedparser gets wrong for Japan.

feedparser treats ``JST`` as UTC (nine hours off), zone-less ISO dates as UTC, and returns
nothing for an RFC 822 date without a zone. A zone-less date from a Japanese feed is
Japan time; from any other feed we keep UTC.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import feedparser

TOKYO = ZoneInfo("Asia/Tokyo")
_ZONE = re.compile(
    r"(?:Z|[+-]\d{2}:?\d{2}|\b(?:GMT|UTC?|[ECMP][SD]T|JST|KST|CET|CEST|BST))\s*$", re.I
)
_JST = re.compile(r"\bJST\b", re.I)


def _parse_jst(value: str) -> time.struct_time | None:
    """feedparser date handler: ``Fri, 20 Nov 2026 10:00:00 JST`` is +09:00, not UTC."""
    if not _JST.search(value):
        return None
    fixed = _JST.sub("+0900", value)
    try:
        dt = parsedate_to_datetime(fixed)
    except (TypeError, ValueError):
        try:
            dt = datetime.fromisoformat(fixed.replace(" +0900", "+09:00"))
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=TOKYO)
    return dt.astimezone(UTC).timetuple()


feedparser.registerDateHandler(_parse_jst)


def _naive(value: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(value.strip().replace("/", "-"))
    except ValueError:
        try:
            dt = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    return dt.replace(tzinfo=None)


def from_struct(parsed: time.struct_time) -> datetime:
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)


def entry_datetime(
    raw: str | None, parsed: time.struct_time | None, local: tzinfo
) -> datetime | None:
    """The instant ``raw`` names, in UTC. Zone-less values are read in ``local``. None when
    there is no date or it is not one Python can represent (year 1 in Tokyo is before
    datetime.min in UTC)."""
    try:
        return _entry_datetime(raw, parsed, local)
    except (OverflowError, ValueError):
        return None


def _entry_datetime(
    raw: str | None, parsed: time.struct_time | None, local: tzinfo
) -> datetime | None:
    if raw and not _ZONE.search(raw.strip()):
        naive = _naive(raw)
        if naive is not None:
            return naive.replace(tzinfo=local).astimezone(UTC)
    if parsed is not None:
        try:
            return from_struct(parsed)
        except (OverflowError, ValueError):
            return None
    if raw:
        # Not from feedparser (JSON Feed) or a format it did not know: try ISO 8601 and
        # RFC 822 ourselves.
        try:
            dt = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            try:
                dt = parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=local)
        return dt.astimezone(UTC)
    return None


# -- dates as written on web pages ---------------------------------------------------------
#
# Official pages without a feed print their dates for people: 2024年4月9日（火）, 令和6年4月9日,
# R6.4.9, 2024/4/9, "April 9, 2024". These are Tokyo dates; a date without a time is read as
# 00:00 in Tokyo. Full-width digits and punctuation are read as their ASCII forms.

#: first year of each era, minus one: 令和6年 is 2018 + 6
ERAS = {"令和": 2018, "㋿": 2018, "R": 2018, "平成": 1988, "H": 1988, "昭和": 1925, "S": 1925}
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
# Full-width forms -> ASCII, one character for one, so positions in the result are positions
# in the original (a matched date can be cut out of a title).
_WIDE = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
        **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
        "／": "/",
        "．": ".",
        "：": ":",
        "（": "(",
        "）": ")",
        "－": "-",
        "\u3000": " ",
        "，": ",",
    }
)
_ERA = r"(?P<era>令和|平成|昭和|㋿)\s*(?P<ey>元|\d{1,2})\s*年"
_ERA_SHORT = (
    r"(?<![A-Za-z0-9])(?P<era_s>(?-i:[RHS]))\s?(?P<eys>元|\d{1,2})"
    r"[./](?P<ems>\d{1,2})[./](?P<eds>\d{1,2})(?!\d)"
)
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY = r"(?:\s*[(\[【]\s*(?:[月火水木金土日](?:曜日?)?|[A-Za-z]{3}\.?)\s*[)\]】])?"
_TIME = r"(?:(?:\s*|T)(?P<hh>[01]?\d|2[0-3])\s*(?::|時)\s*(?P<mi>[0-5]\d)(?:\s*分)?(?!\d))?"
_PAGE_DATE = re.compile(
    "(?:"
    # 令和6年4月9日, 令和元年5月1日
    + _ERA
    + r"\s*(?P<em>\d{1,2})\s*月\s*(?P<ed>\d{1,2})\s*日"
    # 2024年4月9日
    + r"|(?<!\d)(?P<jy>\d{4})\s*年\s*(?P<jm>\d{1,2})\s*月\s*(?P<jd>\d{1,2})\s*日"
    # R6.4.9, H31.4.30
    + "|"
    + _ERA_SHORT
    # 2024/4/9, 2024.04.09, 2024-04-09
    + r"|(?<![\d.])(?P<ny>\d{4})(?P<sep>[/.-])(?P<nm>\d{1,2})(?P=sep)(?P<nd>\d{1,2})(?![\d])"
    # April 9, 2024 / Apr. 9 2024 / April 9th, 2024
    + rf"|(?<![A-Za-z])(?P<mn1>{_MONTH_NAMES})\.?\s+(?P<md1>\d{{1,2}})(?:st|nd|rd|th)?,?"
    + r"\s+(?P<my1>\d{4})(?!\d)"
    # 9 April 2024 / 9 Apr. 2024
    + rf"|(?<!\d)(?P<md2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mn2>{_MONTH_NAMES})\.?,?"
    + r"\s+(?P<my2>\d{4})(?!\d)"
    + ")"
    + _WEEKDAY
    + _TIME,
    re.I,
)


@dataclass(frozen=True)
class PageDate:
    """A date found in text: the instant (UTC), where it was, and whether a time was given."""

    when: datetime
    start: int
    end: int
    has_time: bool


def _year_month_day(match: re.Match[str]) -> tuple[int, int, int]:
    g = match.groupdict()
    if g["era"]:
        year = 1 if g["ey"] == "元" else int(g["ey"])
        return ERAS[g["era"]] + year, int(g["em"]), int(g["ed"])
    if g["jy"]:
        return int(g["jy"]), int(g["jm"]), int(g["jd"])
    if g["era_s"]:
        year = 1 if g["eys"] == "元" else int(g["eys"])
        return ERAS[g["era_s"].upper()] + year, int(g["ems"]), int(g["eds"])
    if g["ny"]:
        return int(g["ny"]), int(g["nm"]), int(g["nd"])
    if g["mn1"]:
        return int(g["my1"]), _MONTHS[g["mn1"].lower()], int(g["md1"])
    return int(g["my2"]), _MONTHS[g["mn2"].lower()], int(g["md2"])


def find_page_date(text: str, zone: tzinfo = TOKYO) -> PageDate | None:
    """The first date in ``text`` written as official Japanese and English pages write them
    (see the table in tests/test_page_dates.py), as the UTC instant of that day's 00:00 in
    ``zone`` (or of the time given after it). None if there is none, or if the first thing
    that looks like a date is not a real one (2024年2月30日)."""
    wide = text.translate(_WIDE)
    for match in _PAGE_DATE.finditer(wide):
        year, month, day = _year_month_day(match)
        hour = int(match.group("hh")) if match.group("hh") else 0
        minute = int(match.group("mi")) if match.group("mi") else 0
        try:
            local = datetime(year, month, day, hour, minute, tzinfo=zone)
        except ValueError:
            continue
        return PageDate(
            local.astimezone(UTC), match.start(), match.end(), match.group("hh") is not None
        )
    return None


def parse_page_date(
    text: str, date_format: str | None = None, zone: tzinfo = TOKYO
) -> datetime | None:
    """The date ``text`` (a date element's text or ``datetime`` attribute) names, in UTC.

    An ISO 8601 value with a zone (``2024-04-09T10:00:00+09:00``, as ``<time datetime>``
    carries) is taken as it is; with ``date_format`` the text must match that strptime
    format; otherwise :func:`find_page_date` finds the first date in it."""
    value = text.strip()
    if not value:
        return None
    try:
        iso = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    else:
        if iso.tzinfo is not None:
            return iso.astimezone(UTC)
        return iso.replace(tzinfo=zone).astimezone(UTC)
    if date_format:
        try:
            parsed = datetime.strptime(value.translate(_WIDE), date_format)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(UTC)
    found = find_page_date(value, zone)
    return found.when if found else None
