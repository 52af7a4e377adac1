"""Entry dates as aware UTC datetimes, correcting what feedparser gets wrong for Japan.

feedparser treats ``JST`` as UTC (nine hours off), zone-less ISO dates as UTC, and returns
nothing for an RFC 822 date without a zone. A zone-less date from a Japanese feed is
Japan time; from any other feed we keep UTC.
"""

from __future__ import annotations

import calendar
import re
import time
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
