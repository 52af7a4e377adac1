"""parse_feed on truncated, random and hostile documents: it returns a ParsedFeed or raises
ParseError, never anything else (a raw ValueError, UnicodeError or RecursionError would
reach the poller as a bug), and each document takes bounded time."""

from __future__ import annotations

import codecs
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.errors import ParseError
from bot.ingest.parse import parse_feed
from bot.models import ParsedFeed
from tests import feeds

NOW = datetime(2026, 11, 21, tzinfo=UTC)
TEMPLATES = ["rss20.xml", "atom10.xml", "atom03.xml", "rss10_dcdate.rdf", "ja_news.xml"]

RSS_HEAD = b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
RSS_TAIL = b"</channel></rss>"


def _item(inner: bytes) -> bytes:
    return RSS_HEAD + b"<item>" + inner + b"</item>" + RSS_TAIL


HOSTILE: list[tuple[str, bytes, str]] = [
    ("deep-nesting", RSS_HEAD + b"<item>" + b"<a>" * 50_000 + b"</item>" + RSS_TAIL, "xml"),
    ("deep-unclosed", b"<rss>" + b"<x>" * 50_000, "xml"),
    ("json-deep", b"[" * 100_000, "json"),
    ("json-deep-object", b'{"a":' * 100_000, "json"),
    ("json-long-int", b'{"version": ' + b"9" * 10_000 + b"}", "json"),
    ("json-items-object", b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', "json"),
    ("json-items-int", b'{"version": "https://jsonfeed.org/version/1.1", "items": 5}', "json"),
    ("json-version-list", b'{"version": ["jsonfeed.org"]}', "json"),
    (
        "json-hostile-values",
        json.dumps(
            {
                "version": "https://jsonfeed.org/version/1.1",
                "title": {"x": 1},
                "items": [
                    {
                        "id": {"a": 1},
                        "title": ["t"],
                        "url": 5,
                        "date_published": "0001-01-01T00:00:00",
                    },
                    {"id": "2", "date_published": "9999-12-31T23:59:59", "date_modified": True},
                    {"id": "3", "url": "http://[::1", "authors": {"name": "x"}, "tags": "abc"},
                    {"id": "4", "title": "\ud800 lone", "summary": "\udfff"},
                    {"id": "5", "date_published": "Fri, 31 Dec 9999 23:59:59 -1200"},
                    {"id": "6", "date_published": "0001-01-01T00:00:00+14:00"},
                ],
            }
        ).encode(),
        "json",
    ),
    ("json-bom", codecs.BOM_UTF8 + b'{"version": "https://jsonfeed.org/version/1"}', "json"),
    ("nul-bytes", _item(b"<title>a\x00b</title>"), "xml"),
    ("control-bytes", _item(b"<title>\x01\x1b[31m\x7f</title>"), "xml"),
    ("bad-link-ipv6", _item(b"<title>t</title><link>http://[::1</link>"), "xml"),
    ("bad-link-relative-ipv6", _item(b"<title>t</title><link>//[zz/x</link>"), "xml"),
    ("bad-link-port", _item(b"<title>t</title><link>https://h.example:99999999/x</link>"), "xml"),
    ("year-one", _item(b"<title>t</title><pubDate>Mon, 01 Jan 0001 00:00:00</pubDate>"), "xml"),
    (
        "year-one-iso",
        _item(
            b"<title>t</title><dc:date xmlns:dc='http://purl.org/dc/elements/1.1/'>0001-01-01T00:00:00</dc:date>"
        ),
        "xml",
    ),
    (
        "year-max",
        _item(b"<title>t</title><pubDate>Fri, 31 Dec 9999 23:59:59 -1200</pubDate>"),
        "xml",
    ),
    ("date-garbage", _item(b"<title>t</title><pubDate>99999999999999999999</pubDate>"), "xml"),
    ("unclosed-cdata", _item(b"<title><![CDATA[never closed"), "xml"),
    ("unclosed-comment", _item(b"<title>t</title><!-- never closed"), "xml"),
    (
        "unknown-encoding",
        b'<?xml version="1.0" encoding="x-bogus-9"?><rss><channel><item><title>\xff\xfe</title></item></channel></rss>',
        "xml",
    ),
    (
        "utf16-odd-length",
        codecs.BOM_UTF16_LE + "<rss><channel><item><title>t".encode("utf-16-le") + b"\x00\xd8\x3c",
        "xml",
    ),
    ("utf32-truncated", codecs.BOM_UTF32_BE + b"\x00\x00\x00<\x00\x00", "xml"),
    ("ebcdic-truncated", b"\x4c\x6f\xa7\x94", "xml"),
    ("null-pattern-only", b"\x00<\x00?", "xml"),
    ("doctype-unclosed", b'<!DOCTYPE rss [<!ENTITY a "', "xml"),
    ("doctype-bad-quotes", b"<!DOCTYPE rss [ ' ]> <rss/>", "xml"),
    (
        "entity-bomb-lowercase",
        b'<!doctype rss [\n<!ENTITY a "'
        + b"x" * 10_000
        + b'">\n]>\n<rss><channel><item><title>'
        + b"&a;" * 10_000
        + b"</title></item></channel></rss>",
        "xml",
    ),
    (
        "entity-undeclared-bomb",
        RSS_HEAD.replace(b"?>", b'?>\n<!ENTITY a "xxxxxxxxxx">\n')
        + _item(b"<title>" + b"&a;" * 10_000 + b"</title>")[len(RSS_HEAD) :],
        "xml",
    ),
    (
        "char-refs",
        _item(b"<title>&#; &#x; &#xZZ; &#-1; &#x-1; &#1e5; &#" + b"0" * 10_000 + b"65;</title>"),
        "xml",
    ),
    ("many-bad-refs", _item(b"<title>" + b"&#0;" * 50_000 + b"</title>"), "xml"),
    (
        "surrogate-chain",
        _item(b"<title>" + b"&#xD83D;" * 1000 + b"&#xDE00;" * 1000 + b"</title>"),
        "xml",
    ),
    ("long-attribute", _item(b'<title a="' + b"x" * 200_000 + b'">t</title>'), "xml"),
    ("html-title", _item(b'<title type="html">' + b"&lt;a x=&quot;" * 20_000 + b"</title>"), "xml"),
    ("rdf-empty", b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'/>", "xml"),
    ("just-lt", b"<", "xml"),
    ("just-bom", codecs.BOM_UTF8, "xml"),
    ("bom-space", codecs.BOM_UTF8 + b"   ", "xml"),
    ("xml-decl-only", b'<?xml version="1.0" encoding="utf-16"?>', "xml"),
    ("binary", bytes(range(256)) * 40, "xml"),
]


def _truncations() -> Iterator[tuple[str, bytes, str]]:
    for name in TEMPLATES:
        body = feeds.load(name)
        for cut in range(1, len(body), max(1, len(body) // 25)):
            yield f"{name}[:{cut}]", body[:cut], "xml"
    body = (feeds.DATA / "jsonfeed.json").read_bytes()
    for cut in range(1, len(body), max(1, len(body) // 25)):
        yield f"jsonfeed.json[:{cut}]", body[:cut], "json"
    for codec in ("cp932", "euc_jp", "utf-16", "utf-32"):
        body = feeds.load("ja_news.xml", codec, "")
        for cut in range(1, len(body), max(1, len(body) // 15)):
            yield f"ja_news.{codec}[:{cut}]", body[:cut], "xml"


def _random() -> Iterator[tuple[str, bytes, str]]:
    rng = random.Random(20261121)
    for n in range(60):
        size = rng.choice([1, 3, 8, 64, 512, 4096])
        yield f"random-{n}", rng.randbytes(size), rng.choice(["xml", "json"])
    alphabet = b"<>&#;\"'=/![]?-x0123456789 \n\x00\xff\xfe\xe3\x81\x82abcrsitemtl"
    for n in range(60):
        size = rng.choice([16, 256, 2048])
        yield f"markup-soup-{n}", bytes(rng.choice(alphabet) for _ in range(size)), "xml"
    for name in TEMPLATES:
        body = bytearray(feeds.load(name))
        for n in range(8):
            mutated = bytearray(body)
            for _ in range(rng.choice([1, 5, 40])):
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            yield f"{name}-mutated-{n}", bytes(mutated), "xml"


CONTENT_TYPES = {"xml": "application/rss+xml", "json": "application/feed+json"}


@pytest.mark.parametrize(
    ("body", "kind"),
    [pytest.param(body, kind, id=name) for name, body, kind in HOSTILE],
)
def test_hostile_documents_parse_or_raise_parse_error(body, kind):
    _parse_or_parse_error(body, CONTENT_TYPES[kind])


def test_truncated_and_random_documents_parse_or_raise_parse_error():
    cases = [*_truncations(), *_random()]
    assert len(cases) > 300
    outcomes = {"parsed": 0, "ParseError": 0}
    for _name, body, kind in cases:
        outcomes[_parse_or_parse_error(body, CONTENT_TYPES[kind])] += 1
    # both outcomes occur: the corpus really reaches the parser and its error paths
    assert outcomes["parsed"] > 50 and outcomes["ParseError"] > 50


def _parse_or_parse_error(body: bytes, content_type: str) -> str:
    started = time.perf_counter()
    try:
        result = parse_feed(
            body,
            {"content-type": content_type, "content-location": "https://loc.example/f"},
            feed="fuzz",
            url="https://x.example/feed",
            now=NOW,
        )
    except ParseError as e:
        assert e.kind in ("not_a_feed", "empty", "unparseable")
        assert str(e).startswith("https://x.example/feed: ")
        outcome = "ParseError"
    else:
        assert isinstance(result, ParsedFeed)
        for article in result.articles:
            assert len(article.title) <= 1000 and len(article.summary) <= 4000
            article.title.encode("utf-8")  # no lone surrogates: storable
            article.summary.encode("utf-8")
            article.link.encode("utf-8")
        outcome = "parsed"
    assert time.perf_counter() - started < 5.0
    return outcome
