"""Dates as official Japanese and English pages write them: a table of what is read, and
what must not be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.ingest.dates import find_page_date, parse_page_date

JST = timezone(timedelta(hours=9))


def tokyo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "expected", "has_time"),
    [
        # Japanese calendar (Gregorian years)
        ("2024年4月9日", tokyo(2024, 4, 9), False),
        ("2024年04月09日", tokyo(2024, 4, 9), False),
        ("2024年 4月 9日", tokyo(2024, 4, 9), False),
        ("２０２４年４月９日", tokyo(2024, 4, 9), False),
        ("2024年4月9日（火）", tokyo(2024, 4, 9), False),
        ("2024年4月9日(火曜日)", tokyo(2024, 4, 9), False),
        ("2024年4月9日【火】", tokyo(2024, 4, 9), False),
        # eras
        ("令和6年4月9日", tokyo(2024, 4, 9), False),
        ("令和６年４月９日（火）", tokyo(2024, 4, 9), False),
        ("令和元年5月1日", tokyo(2019, 5, 1), False),
        ("平成31年4月30日", tokyo(2019, 4, 30), False),
        ("昭和64年1月7日", tokyo(1989, 1, 7), False),
        ("㋿6年4月9日", tokyo(2024, 4, 9), False),
        ("R6.4.9", tokyo(2024, 4, 9), False),
        ("R6.04.09", tokyo(2024, 4, 9), False),
        ("R元.5.1", tokyo(2019, 5, 1), False),
        ("H31.4.30", tokyo(2019, 4, 30), False),
        ("R6/4/9", tokyo(2024, 4, 9), False),
        # numeric
        ("2024/4/9", tokyo(2024, 4, 9), False),
        ("2024/04/09", tokyo(2024, 4, 9), False),
        ("2024.04.09", tokyo(2024, 4, 9), False),
        ("2024.4.9", tokyo(2024, 4, 9), False),
        ("2024-04-09", tokyo(2024, 4, 9), False),
        ("２０２４／４／９", tokyo(2024, 4, 9), False),
        # English
        ("April 9, 2024", tokyo(2024, 4, 9), False),
        ("April 9 2024", tokyo(2024, 4, 9), False),
        ("Apr. 9, 2024", tokyo(2024, 4, 9), False),
        ("Apr 9, 2024", tokyo(2024, 4, 9), False),
        ("april 9th, 2024", tokyo(2024, 4, 9), False),
        ("Sept. 30, 2024", tokyo(2024, 9, 30), False),
        ("9 April 2024", tokyo(2024, 4, 9), False),
        ("9 Apr. 2024", tokyo(2024, 4, 9), False),
        ("Tuesday, April 9, 2024", tokyo(2024, 4, 9), False),
        # with a time
        ("2024年4月9日 15:30", tokyo(2024, 4, 9, 15, 30), True),
        ("2024年4月9日（火）15時30分", tokyo(2024, 4, 9, 15, 30), True),
        ("令和6年4月9日 9:05", tokyo(2024, 4, 9, 9, 5), True),
        ("２０２４年４月９日（火）１５：３０", tokyo(2024, 4, 9, 15, 30), True),
        ("2024-04-09T10:30", tokyo(2024, 4, 9, 10, 30), True),
        ("2024/04/09 23:59", tokyo(2024, 4, 9, 23, 59), True),
        # inside other text: the first date
        ("【報道発表】令和6年4月9日 AI戦略会議を開催", tokyo(2024, 4, 9), False),
        ("掲載日：2024年4月9日 更新日：2024年5月1日", tokyo(2024, 4, 9), False),
        ("Press release (Apr. 9, 2024)", tokyo(2024, 4, 9), False),
        # an impossible date is skipped for the next real one
        ("2024年2月30日 / 2024年3月1日", tokyo(2024, 3, 1), False),
    ],
)
def test_dates_as_pages_write_them(text, expected, has_time):
    found = find_page_date(text)
    assert found is not None, text
    assert (found.when, found.has_time) == (expected, has_time)
    assert found.when.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "お知らせ",
        "2024年2月30日",  # no such day
        "2024/13/01",
        "令和6年13月1日",
        "4月9日",  # no year: ambiguous, not guessed
        "version 1.2.3",
        "Ver6.4.9",  # not the era R/H/S
        "r6.4.9",  # era letters are capitals
        "12345-04-09",
        "第213回国会",
        "予算額 2,024億円",
        "May I help you",  # a month name without a day and year
    ],
)
def test_what_is_not_a_date(text):
    assert find_page_date(text) is None


def test_positions_are_positions_in_the_original_text():
    text = "２０２４年４月９日（火）ＡＩ戦略会議"
    found = find_page_date(text)
    assert found is not None
    assert text[found.start : found.end] == "２０２４年４月９日（火）"
    assert text[found.end :] == "ＡＩ戦略会議"


@pytest.mark.parametrize(
    ("text", "date_format", "expected"),
    [
        # <time datetime="..."> values: with a zone as given, without one in Tokyo
        ("2024-04-09T10:00:00+09:00", None, tokyo(2024, 4, 9, 10)),
        ("2024-04-09T01:00:00Z", None, tokyo(2024, 4, 9, 10)),
        ("2024-04-09", None, tokyo(2024, 4, 9)),
        ("  令和6年4月9日  ", None, tokyo(2024, 4, 9)),
        ("2024年04月09日", "%Y年%m月%d日", tokyo(2024, 4, 9)),
        ("09/04/2024", "%d/%m/%Y", tokyo(2024, 4, 9)),
        ("２０２４．０４．０９", "%Y.%m.%d", tokyo(2024, 4, 9)),
        ("2024年4月9日（火）", "%Y年%m月%d日", None),  # the format does not match
        ("お知らせ", None, None),
        ("", None, None),
    ],
)
def test_parse_page_date(text, date_format, expected):
    assert parse_page_date(text, date_format) == expected
