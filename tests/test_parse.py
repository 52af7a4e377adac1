"""Parsing: every feed format and Japanese encoding, into clean Article records."""

from __future__ import annotations

import codecs
import json
from datetime import UTC, datetime

import feedparser
import pytest

from bot.errors import ParseError
from bot.ingest.parse import feedparser_warnings, parse_feed
from tests import feeds

NOW = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)


def parse(
    body: bytes, content_type: str = "application/rss+xml", url: str = "https://x.example/feed"
):
    return parse_feed(body, {"content-type": content_type}, feed="test", url=url, now=NOW)


def test_rss10_with_dc_date_and_duplicate_seq_entries():
    result = parse(feeds.load("rss10_dcdate.rdf"), "application/rdf+xml")
    assert result.version == "rss10"
    # The third item repeats the first one's rdf:about: first occurrence wins.
    assert [a.title for a in result.articles] == [
        "次世代半導体の量産に向けた追加支援を決定しました",
        "サイバーセキュリティ産業振興戦略を公表します",
    ]
    first = result.articles[0]
    assert first.entry_id == "https://www.example.go.jp/press/2026/11/20261120001.html"
    assert first.published == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 10:00 JST
    assert first.date_source in ("published", "updated")
    # description wins over content:encoded; tags stripped, entities decoded
    assert first.summary == "経済産業省は、ラピダスに対する最大1,000億円の追加支援を決定しました。"
    assert first.authors == ("商務情報政策局",)
    assert first.tags == ("半導体",)
    assert first.language == "ja"


def test_rss20_cleaning_links_dates_and_ids():
    result = parse(feeds.load("rss20.xml"), url="https://wire.example.com/feed.xml")
    a, b, c = result.articles
    assert a.title == "Japan approves ¥1 trillion chip subsidy <update>"
    assert a.summary == "Japan’s cabinet approved a subsidy for Rapidus & others."
    assert a.entry_id == "wire-2026-0001"
    assert a.canonical_link == "https://wire.example.com/japan-chip-subsidy"
    assert a.link.startswith("https://wire.example.com/japan-chip-subsidy?utm_source=rss")
    assert a.published == datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    assert a.tags == ("Semiconductors", "Policy")
    assert a.authors == ("Jane Doe",)
    assert a.language == "en"
    # relative link resolved against the feed URL; no guid -> the link is the id
    assert b.link == "https://wire.example.com/japan-ai-guidelines"
    assert b.entry_id == b.link
    assert b.published == datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
    # "JST" is +09:00 (feedparser alone would read it as UTC)
    assert c.published == datetime(2026, 11, 19, 0, 0, tzinfo=UTC)


def test_atom10_html_title_authors_and_updated_fallback():
    result = parse(feeds.load("atom10.xml"), "application/atom+xml")
    assert result.version == "atom10"
    a, b = result.articles
    assert a.title == "Digital Agency publishes data strategy"
    assert a.summary == "The Digital Agency released its data strategy."
    assert a.authors == ("Taro Yamada", "Hanako Suzuki")
    assert a.published == datetime(2026, 11, 20, 0, 30, tzinfo=UTC)
    assert a.updated == datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert b.date_source == "updated"
    assert b.published == datetime(2026, 11, 19, tzinfo=UTC)
    assert b.summary == "Content, not summary."


def test_atom03_and_rss091():
    atom = parse(feeds.load("atom03.xml"), "application/atom+xml")
    assert atom.version == "atom03"
    assert atom.articles[0].title == "量子コンピュータ研究拠点を開設"
    assert atom.articles[0].published == datetime(2026, 11, 17, 23, 0, tzinfo=UTC)

    old = parse(feeds.load("rss091.xml"))
    assert old.version.startswith("rss09")
    assert old.articles[0].title == "Café robotics policy note"
    assert old.articles[0].summary == "Robots & policy."
    # no date at all: first seen
    assert old.articles[0].date_source == "first_seen"
    assert old.articles[0].published == NOW


JA_TITLES = ["政府、生成ＡＩの安全性評価に関する指針を公表", "総務省、５Ｇ基地局の整備に補助金"]


@pytest.mark.parametrize(
    ("codec", "declare", "content_type"),
    [
        pytest.param("utf-8", "UTF-8", "application/rss+xml", id="utf8"),
        pytest.param("cp932", "Shift_JIS", "application/rss+xml", id="sjis-declared-in-xml"),
        pytest.param("cp932", None, "text/xml; charset=Shift_JIS", id="sjis-declared-in-header"),
        pytest.param("cp932", "", "application/rss+xml", id="sjis-undeclared"),
        pytest.param("cp932", "", "text/xml", id="sjis-undeclared-text-xml"),
        pytest.param(
            "cp932", "Shift_JIS", "text/xml; charset=ISO-8859-1", id="sjis-header-lies-latin1"
        ),
        pytest.param("euc_jp", "EUC-JP", "application/rss+xml", id="eucjp-declared-in-xml"),
        pytest.param(
            "euc_jp", None, "application/xml; charset=euc-jp", id="eucjp-declared-in-header"
        ),
        pytest.param("euc_jp", "", "text/xml", id="eucjp-undeclared"),
        pytest.param(
            "euc_jp",
            "UTF-8",
            "application/rss+xml; charset=utf-8",
            id="eucjp-declared-wrongly-utf8",
        ),
        pytest.param(
            "iso2022_jp_ext", "ISO-2022-JP", "application/rss+xml", id="iso2022jp-declared"
        ),
        pytest.param("iso2022_jp_ext", "", "text/xml", id="iso2022jp-undeclared"),
    ],
)
def test_japanese_encodings_decode_without_mojibake(codec, declare, content_type):
    result = parse(feeds.load("ja_news.xml", codec, declare), content_type)
    assert [a.title for a in result.articles] == JA_TITLES
    assert "ｶﾞｲﾄﾞﾗｲﾝ" in result.articles[0].summary
    assert result.articles[0].published == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_cp932_only_characters_in_a_feed_labelled_shift_jis():
    # Real "Shift_JIS" feeds are Windows-31J: ① and ㈱ exist only in CP932.
    body = feeds.rss(
        [feeds.item("①次世代半導体 ㈱ラピダスに補助金", "https://x.example/1", guid="1")]
    ).decode("utf-8")
    body = body.replace('encoding="utf-8"', 'encoding="Shift_JIS"')
    result = parse(body.encode("cp932"))
    assert result.articles[0].title == "①次世代半導体 ㈱ラピダスに補助金"


def test_undeclared_encoding_is_recorded_as_a_warning():
    result = parse(feeds.load("ja_news.xml", "cp932", ""), "text/xml")
    assert any("no charset declared" in w for w in result.warnings)


def test_latin1_english_feed_is_not_mistaken_for_japanese():
    body = '<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel><title>t</title><item><title>\u201cQuoted\u201d caf\u00e9 d\u00e9tail</title><link>https://e.example/1</link></item></channel></rss>'
    result = parse(body.encode("cp1252"), "application/rss+xml")
    assert result.articles[0].title == "\u201cQuoted\u201d caf\u00e9 d\u00e9tail"


def test_malformed_feed_with_entries_is_read_with_a_warning():
    result = parse(feeds.load("malformed.xml"))
    assert [a.title for a in result.articles] == [
        "First entry survives the broken XML",
        "Second entry & an unescaped ampersand",
    ]
    assert any("not well-formed" in w for w in result.warnings)


def test_html_page_is_a_parse_error_that_says_what_it_got():
    with pytest.raises(ParseError) as info:
        parse(feeds.load("html_page.html"), "text/html; charset=utf-8")
    assert info.value.kind == "not_a_feed"
    assert "HTML page" in str(info.value)
    assert "text/html" in str(info.value)


def test_empty_body_is_a_parse_error():
    with pytest.raises(ParseError, match="empty"):
        parse(b"   ")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
            "invalid JSON",
            id="truncated",
        ),
        pytest.param(b"{" * 100_000, "invalid JSON", id="nested-too-deep"),
        pytest.param(b'{"version": 1' + b"0" * 5000 + b"}", "invalid JSON", id="int-too-long"),
        pytest.param(b'{"title": "an API answer"}', "not a JSON Feed", id="no-version"),
        pytest.param(b'["https://jsonfeed.org/version/1"]', "not a JSON Feed", id="array"),
        pytest.param(
            b'{"version": "https://jsonfeed.org/version/1.1", "items": {"a": 1}}',
            "items are not a list",
            id="items-not-a-list",
        ),
    ],
)
def test_json_that_is_not_a_json_feed_is_a_parse_error(body, message):
    with pytest.raises(ParseError, match=message) as info:
        parse(body, "application/json")
    assert info.value.kind == "not_a_feed"


def test_json_feed():
    result = parse((feeds.DATA / "jsonfeed.json").read_bytes(), "application/feed+json")
    assert result.version == "json1"
    a, b = result.articles
    assert (a.entry_id, a.title, a.summary) == (
        "json-1",
        "JAXA budget for space strategy",
        "The space strategy budget.",
    )
    assert a.published == datetime(2026, 11, 19, 23, 0, tzinfo=UTC)
    assert a.authors == ("Kenji Sato",) and a.tags == ("space",)
    assert b.date_source == "first_seen"


def test_zone_less_dates_in_a_japanese_feed_are_japan_time():
    body = """<?xml version="1.0" encoding="utf-8"?><rdf:RDF xmlns="http://purl.org/rss/1.0/"
    xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:dc="http://purl.org/dc/elements/1.1/">
    <channel rdf:about="x"><title>t</title><link>https://j.example/</link></channel>
    <item rdf:about="https://j.example/1"><title>防衛装備の輸出管理を見直し</title><link>https://j.example/1</link>
    <dc:date>2026-11-20T10:00:00</dc:date></item>
    <item rdf:about="https://j.example/2"><title>政府が宇宙戦略基金の配分を決定</title><link>https://j.example/2</link>
    <dc:date>Fri, 20 Nov 2026 12:00:00</dc:date></item></rdf:RDF>""".encode()
    result = parse_feed(
        body, {}, feed="t", url="https://j.example/rss", now=NOW, language_hint="ja"
    )
    assert [a.published for a in result.articles] == [
        datetime(2026, 11, 20, 1, 0, tzinfo=UTC),
        datetime(2026, 11, 20, 3, 0, tzinfo=UTC),
    ]


def test_future_dates_fall_back_to_first_seen():
    body = feeds.rss(
        [
            feeds.item(
                "From the future",
                "https://f.example/1",
                guid="f",
                published=datetime(2027, 1, 1, tzinfo=UTC),
            )
        ]
    )
    article = parse(body).articles[0]
    assert article.published == NOW and article.date_source == "first_seen"


def test_entry_without_guid_or_link_gets_a_stable_hash_id():
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>No id</title><pubDate>Fri, 20 Nov 2026 01:00:00 GMT</pubDate></item></channel></rss>'
    first = parse(body).articles[0]
    again = parse_feed(
        body, {}, feed="test", url="https://x.example/feed", now=datetime(2026, 12, 1, tzinfo=UTC)
    ).articles[0]
    assert first.entry_id.startswith("sha1:")
    assert first.entry_id == again.entry_id


def test_leading_whitespace_before_declaration_is_tolerated():
    result = parse(b"\n   " + feeds.load("rss20.xml"))
    assert len(result.articles) == 3


# --- Encodings beyond the Japanese ones, and broken bytes --------------------------------


@pytest.mark.parametrize("declare", ["UTF-8", ""], ids=["declared", "undeclared"])
def test_one_truncated_utf8_character_is_replaced_not_mojibake(declare):
    body = feeds.load("ja_news.xml", "utf-8", declare)
    char = "適".encode()  # in the first description: "...来年度から適用される。"
    at = body.index(char)
    body = body[:at] + char[:2] + body[at + 3 :]
    result = parse(body)
    assert [a.title for a in result.articles] == JA_TITLES
    assert "来年度から\ufffd用される" in result.articles[0].summary
    assert result.encoding == "utf-8"
    assert any(
        "2 undecodable byte(s) in 1 place(s) replaced by U+FFFD" in w for w in result.warnings
    )
    assert not any("feedparser read it as" in w for w in result.warnings)


def test_a_feedparser_encoding_override_is_a_warning():
    # What feedparser does when the charset it is handed does not decode: it falls back to
    # another (here windows-1252 or iso-8859-2) and says so only in bozo_exception.
    parsed = feedparser.parse(
        feeds.load("ja_news.xml", "cp932", ""),
        response_headers={"content-type": "application/xml; charset=utf-8"},
    )
    assert type(parsed.bozo_exception).__name__ == "CharacterEncodingOverride"
    warnings = feedparser_warnings(parsed, "utf-8")
    assert warnings == [
        f"encoding: handed over as utf-8, but feedparser read it as {parsed.encoding}"
    ]
    clean = feedparser.parse(
        feeds.load("ja_news.xml"),
        response_headers={"content-type": "application/xml; charset=utf-8"},
    )
    assert feedparser_warnings(clean, "utf-8") == []


@pytest.mark.parametrize(
    ("codec", "bom", "declare"),
    [
        pytest.param("utf-16-le", codecs.BOM_UTF16_LE, "UTF-16", id="utf16le-bom"),
        pytest.param("utf-16-be", codecs.BOM_UTF16_BE, "UTF-16", id="utf16be-bom"),
        pytest.param("utf-16-le", b"", "UTF-16", id="utf16le-no-bom"),
        pytest.param("utf-16-be", b"", "UTF-16", id="utf16be-no-bom"),
        pytest.param("utf-32-le", codecs.BOM_UTF32_LE, "UTF-32", id="utf32le-bom"),
        pytest.param("utf-32-be", codecs.BOM_UTF32_BE, "UTF-32", id="utf32be-bom"),
        pytest.param("utf-32-le", b"", "UTF-32", id="utf32le-no-bom"),
        pytest.param("utf-32-be", b"", "UTF-32", id="utf32be-no-bom"),
        pytest.param("utf-16-be", codecs.BOM_UTF16_BE, "", id="utf16be-bom-undeclared"),
    ],
)
def test_utf16_and_utf32_with_and_without_byte_order_mark(codec, bom, declare):
    body = bom + feeds.load("ja_news.xml", "utf-8", declare).decode().encode(codec)
    result = parse(body)
    assert [a.title for a in result.articles] == JA_TITLES
    assert result.encoding == codec
    # the mark or the declaration said it all: nothing to warn about
    assert result.warnings == ()


def test_utf16_without_mark_or_declaration_is_detected_by_its_null_bytes():
    result = parse(feeds.load("ja_news.xml", "utf-16-le", ""), "text/xml")
    assert [a.title for a in result.articles] == JA_TITLES
    assert result.encoding == "utf-16-le"
    assert result.warnings == (
        "encoding: no charset declared and no byte-order mark; utf-16-le by its null bytes",
    )


@pytest.mark.parametrize(
    ("codec", "declare"),
    [("cp037", "IBM037"), ("cp037", "cp037"), ("cp037", "ebcdic-cp-us"), ("cp500", "IBM500")],
)
def test_ebcdic_feed_that_declares_its_code_page(codec, declare):
    text = feeds.load("latin_news.xml", "utf-8", declare).decode().replace("’", "'")
    expected = parse(text.encode()).articles
    result = parse(text.encode(codec))
    assert [a.title for a in result.articles] == [a.title for a in expected]
    assert (
        result.articles[0].title
        == "Le gouvernement japonais dévoile sa stratégie pour les semi-conducteurs"
    )
    assert result.encoding == codec
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("ru_news.xml", "koi8_r"),
        ("ko_news.xml", "euc_kr"),
        ("zh_hans_news.xml", "gb2312"),
        ("zh_hans_news.xml", "gbk"),
        ("zh_hant_news.xml", "big5"),
        ("th_news.xml", "tis_620"),
        ("he_news.xml", "cp1255"),
        ("latin_news.xml", "cp1252"),
    ],
)
def test_undeclared_non_japanese_charsets_are_detected(name, codec):
    expected = parse(feeds.load(name)).articles  # the same feed in UTF-8
    result = parse(feeds.load(name, codec, ""), "text/xml")
    assert [(a.title, a.summary) for a in result.articles] == [
        (a.title, a.summary) for a in expected
    ]
    assert result.warnings == (
        f"encoding: no charset declared; charset-normalizer detected {result.encoding}",
    )


# --- Character references, entity expansion, hostile text --------------------------------


@pytest.mark.parametrize(
    ("reference", "text"),
    [
        pytest.param("&#55357;&#56832;", "😀", id="surrogate-pair-decimal"),
        pytest.param("&#xD83D;&#xDE00;", "😀", id="surrogate-pair-hex"),
        pytest.param("&#xD800;", "\ufffd", id="lone-high-surrogate"),
        pytest.param("&#56832;", "\ufffd", id="lone-low-surrogate"),
        pytest.param("&#x110000;", "\ufffd", id="past-unicode"),
        pytest.param("&#99999999999;", "\ufffd", id="huge"),
        pytest.param("&#" + "9" * 5000 + ";", "\ufffd", id="more-digits-than-int-reads"),
        pytest.param("&#0;", "\ufffd", id="nul"),
        pytest.param("&#xFFFE;", "\ufffd", id="noncharacter"),
        pytest.param("&#" + "0" * 5000 + "65;", "A", id="zero-padded-past-int-limit"),
    ],
)
def test_a_bad_numeric_character_reference_does_not_fail_the_feed(reference, text):
    body = feeds.rss(
        [
            feeds.item("placeholder", "https://r.example/1", guid="1", description="本文 REF 続き"),
            feeds.item("AIの安全性 &#12354; 指針", "https://r.example/2", guid="2"),
        ]
    ).replace(b"placeholder", f"政府 {reference} 戦略".encode())
    body = body.replace(b"REF", reference.encode())
    result = parse(body)
    first, second = result.articles
    assert first.title == f"政府 {text} 戦略"
    assert first.summary == f"本文 {text} 続き"
    # a valid reference next to it is left alone (feeds.item escaped its "&" as "&amp;")
    assert second.title == "AIの安全性 あ 指針"
    assert any("numeric character references XML forbids" in w for w in result.warnings)
    assert not any("not well-formed" in w for w in result.warnings)  # the strict parser read it


def _entity_bomb(references: int = 10_000, size: int = 10_000) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<!DOCTYPE rss [\n<!ENTITY big "{"x" * size}">\n]>\n'
        '<rss version="2.0"><channel><title>t</title><item><guid>1</guid>'
        f"<title>{'&big;' * references}</title><description>ok</description>"
        "</item></channel></rss>"
    ).encode()


def test_entity_expansion_bomb_parses_in_bounded_time_and_memory():
    import resource
    import time

    body = _entity_bomb()
    assert len(body) < 70_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = parse(body)
    assert time.perf_counter() - started < 2.0
    # ru_maxrss is in KiB on Linux: the expansion would need gigabytes
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000
    (article,) = result.articles
    assert len(article.title) <= 1000
    assert "x" * 100 not in article.title  # the entity was never expanded
    assert article.summary == "ok"
    assert any("DOCTYPE internal subset removed" in w and "big" in w for w in result.warnings)


def test_parameter_entities_and_nested_entities_are_removed_too():
    body = (
        b'<?xml version="1.0"?>\n<!-- a comment first -->\n<!DOCTYPE rss [\n'
        b'<!ENTITY % p "<!ENTITY a \'aaaaaaaaaa\'>"> %p;\n<!ENTITY b "&a;&a;&a;&a;&a;&a;">\n'
        b'<!-- ] inside a comment -->\n<!ENTITY c "]>&b;&b;&b;&b;">\n]>\n'
        b'<rss version="2.0"><channel><title>t</title><item><guid>1</guid><title>A &c; B</title>'
        b"</item></channel></rss>"
    )
    result = parse(body)
    assert "aaaa" not in result.articles[0].title
    assert any("declaring entities %p, a, b, c" in w for w in result.warnings)


def test_a_doctype_without_an_internal_subset_is_kept():
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel>'
        b"<title>t</title><item><title>Old &amp; fine</title><link>https://o.example/1</link>"
        b"</item></channel></rss>"
    )
    result = parse(body)
    assert result.version == "rss091n"  # feedparser reads the version from the DOCTYPE
    assert result.articles[0].title == "Old & fine"
    assert result.warnings == ()


def test_an_internal_subset_that_never_closes_is_a_parse_error():
    with pytest.raises(ParseError, match="never closes") as info:
        parse(b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "x"><rss><channel></channel></rss>')
    assert info.value.kind == "not_a_feed"


def test_titles_are_capped_and_every_field_is_clean():
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Feed\u202e name</title><item>"
        f"<title>{'長い見出し ' * 400}</title>"
        "<link>https://c.example/1\u200b</link><guid>1</guid>"
        "<author>\x1b]0;owned\x07Taro\u202e Yamada</author>"
        "<category>AI\u200b政策</category>"
        "<description><![CDATA[<p>\x1b[2J本文\u2066です</p>]]></description>"
        "</item></channel></rss>"
    ).encode()
    result = parse(body)
    (article,) = result.articles
    assert len(article.title) <= 1000 and article.title.endswith("…")
    assert article.title.startswith("長い見出し 長い見出し")
    assert article.link == "https://c.example/1"
    assert article.authors == ("Taro Yamada",)
    assert article.tags == ("AI政策",)
    assert article.summary == "本文です"
    assert result.title == "Feed name"


def test_json_feed_fields_are_clean_too():
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "J\x07SON",
            "items": [
                {
                    "id": 1,
                    "title": "\u202eAI\x1b[31m戦略",
                    "url": "https://j.example/1",
                    "tags": ["AI\u200b", 5, {"x": 1}],
                    "authors": [{"name": "A\u2066B"}, "nobody"],
                    "date_published": ["2026-11-20"],
                    "language": ["ja"],
                }
            ],
        }
    ).encode()
    result = parse(body, "application/feed+json")
    (article,) = result.articles
    assert (article.entry_id, article.title, article.tags, article.authors) == (
        "1",
        "AI戦略",
        ("AI", "5"),
        ("AB",),
    )
    assert article.date_source == "first_seen"  # a list is not a date
    assert result.title == "JSON"


def test_a_nul_in_an_entry_id_is_replaced_so_every_engine_can_store_it():
    # PostgreSQL text cannot hold U+0000: the batch would be refused on every poll
    items = [
        {"id": "a\u0000b", "title": "t1", "url": "https://j.example/1"},
        {"id": "a\u0000c", "title": "t2", "url": "https://j.example/2"},
    ]
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()
    ids = [a.entry_id for a in parse(body, "application/feed+json").articles]
    assert ids == ["a\ufffdb", "a\ufffdc"]  # still two distinct, stable ids


# --- Links, dates and identity ------------------------------------------------------------


RELATIVE_LINKS = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>One</title><link>/news/1.html</link></item>"
    b"<item><title>Two</title><link>2.html</link></item>"
    b"<item><title>Three</title><link>https://other.example/3</link></item>"
    b"</channel></rss>"
)


@pytest.mark.parametrize(
    ("location", "links"),
    [
        pytest.param(
            "https://cdn.example.net/feeds/ja/index.xml",
            [
                "https://cdn.example.net/news/1.html",
                "https://cdn.example.net/feeds/ja/2.html",
                "https://other.example/3",
            ],
            id="absolute",
        ),
        pytest.param(
            "/mirror/feed.xml",
            [
                "https://x.example/news/1.html",
                "https://x.example/mirror/2.html",
                "https://other.example/3",
            ],
            id="relative-to-the-request-url",
        ),
        pytest.param(
            None,
            [
                "https://x.example/news/1.html",
                "https://x.example/feeds/2.html",
                "https://other.example/3",
            ],
            id="no-header",
        ),
        pytest.param(
            "javascript:alert(1)",
            [
                "https://x.example/news/1.html",
                "https://x.example/feeds/2.html",
                "https://other.example/3",
            ],
            id="not-http-ignored",
        ),
    ],
)
def test_relative_links_resolve_against_content_location(location, links):
    headers = {"content-type": "application/rss+xml"}
    if location:
        headers["content-location"] = location
    result = parse_feed(
        RELATIVE_LINKS, headers, feed="t", url="https://x.example/feeds/rss.xml", now=NOW
    )
    assert [a.link for a in result.articles] == links


def test_xml_base_applies_to_entry_links():
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"'
        b' xml:base="https://base.example/dir/"><title>t</title>'
        b'<entry><id>1</id><title>a</title><link href="page.html"/><updated>2026-11-20T00:00:00Z</updated></entry>'
        b'<entry xml:base="sub/"><id>2</id><title>b</title><link href="page.html"/><updated>2026-11-20T00:00:00Z</updated></entry>'
        b"</feed>"
    )
    result = parse_feed(
        body,
        {"content-type": "application/atom+xml", "content-location": "https://ignored.example/"},
        feed="t",
        url="https://x.example/atom.xml",
        now=NOW,
    )
    assert [a.link for a in result.articles] == [
        "https://base.example/dir/page.html",
        "https://base.example/dir/sub/page.html",
    ]
    # a relative xml:base is itself relative to the document's URL (its Content-Location)
    relative = body.replace(b'xml:base="https://base.example/dir/"', b'xml:base="/dir/"')
    result = parse_feed(
        relative,
        {"content-type": "application/atom+xml", "content-location": "https://loc.example/f/a"},
        feed="t",
        url="https://x.example/atom.xml",
        now=NOW,
    )
    # (feedparser itself cannot stack a relative xml:base on another relative one: the
    # second entry's "sub/" is lost without an absolute base, which would cost 24% CPU)
    assert result.articles[0].link == "https://loc.example/dir/page.html"


def test_atom03_created_date_is_used_when_there_is_no_other():
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><feed version="0.3" xmlns="http://purl.org/atom/ns#">'
        b"<title>t</title>"
        b'<entry><title>Created only</title><link rel="alternate" href="https://a.example/1"/>'
        b"<id>tag:a.example,2026:1</id><created>2026-11-18T08:00:00+09:00</created></entry>"
        b'<entry><title>Issued and created</title><link rel="alternate" href="https://a.example/2"/>'
        b"<id>tag:a.example,2026:2</id><issued>2026-11-19T08:00:00+09:00</issued>"
        b"<created>2026-11-18T08:00:00+09:00</created></entry>"
        b"</feed>"
    )
    created, issued = parse(body, "application/atom+xml").articles
    assert (created.published, created.date_source) == (
        datetime(2026, 11, 17, 23, 0, tzinfo=UTC),
        "published",
    )
    assert issued.published == datetime(2026, 11, 18, 23, 0, tzinfo=UTC)


def _no_id_items(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    "items",
    [
        pytest.param(
            [
                "<item><title>お知らせ</title><description>第一報</description></item>",
                "<item><title>お知らせ</title><description>第二報</description></item>",
            ],
            id="same-title-different-summary",
        ),
        pytest.param(
            [
                "<item><description>Only a description</description></item>",
                "<item><description>Another description</description></item>",
            ],
            id="no-title",
        ),
        pytest.param(
            [
                "<item><title>Update</title><pubDate>Fri, 20 Nov 2026 01:00:00 GMT</pubDate></item>",
                "<item><title>Update</title><pubDate>Fri, 20 Nov 2026 02:00:00 GMT</pubDate></item>",
            ],
            id="same-title-different-dates",
        ),
        pytest.param(
            [
                "<item><title>One</title></item>",
                "<item><title>Two</title></item>",
            ],
            id="different-titles",
        ),
    ],
)
def test_entries_without_guid_or_link_are_kept_apart(items):
    result = parse(_no_id_items(*items))
    assert len(result.articles) == 2
    assert len({a.entry_id for a in result.articles}) == 2


def test_atom03_entries_told_apart_by_created_dates():
    body = (
        b'<?xml version="1.0"?><feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>t</title>'
        b"<entry><title>Weekly note</title><created>2026-11-11T08:00:00+09:00</created></entry>"
        b"<entry><title>Weekly note</title><created>2026-11-18T08:00:00+09:00</created></entry>"
        b"</feed>"
    )
    assert len(parse(body, "application/atom+xml").articles) == 2


def test_true_duplicates_collapse():
    item = "<item><title>Same</title><pubDate>Fri, 20 Nov 2026 01:00:00 GMT</pubDate><description>Same text</description></item>"
    assert len(parse(_no_id_items(item, item)).articles) == 1
    guid = "<item><title>{}</title><guid>g-1</guid></item>"
    assert [a.title for a in parse(_no_id_items(guid.format("A"), guid.format("B"))).articles] == [
        "A"
    ]
