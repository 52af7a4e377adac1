from __future__ import annotations

import pytest

from bot.text import clean_text, html_to_text, truncate


@pytest.mark.parametrize(
    ("fragment", "text"),
    [
        ("<p>One</p><p>Two</p>", "One Two"),
        ("Line<br/>break", "Line break"),
        ("<b>bold</b>, <a href='x'>link</a>.", "bold, link."),
        ("<script>alert('x')</script>Visible<style>p{}</style>", "Visible"),
        ("<!-- hidden -->shown", "shown"),
        ("Tom &amp; Jerry &lt;3 &#x2026; &rsquo;", "Tom & Jerry <3 … ’"),
        ("a <3 b and x < y", "a <3 b and x < y"),
        ("  lots\n\n of\t space  ", "lots of space"),
        (
            "<p>政府は<strong>半導体</strong>の支援を決定した。</p>",
            "政府は半導体の支援を決定した。",
        ),
        ("", ""),
    ],
)
def test_html_to_text(fragment, text):
    assert html_to_text(fragment) == text


def test_truncate_on_a_word_boundary():
    assert truncate("alpha beta gamma delta", 15) == "alpha beta…"
    assert truncate("short", 15) == "short"
    assert len(truncate("長い日本語の文章" * 10, 20)) == 20


@pytest.mark.parametrize(
    ("fragment", "text"),
    [
        # ">" inside a quoted attribute value does not end the tag
        ('<img alt="政府>方針">本文', "本文"),
        ("<img alt='a>b' src=x>text", "text"),
        ('<p title="a>b">para</p><br data-x="1>2"/>graph', "para graph"),
        ('<script src="a>b">alert(1)</script>shown', "shown"),
        # a quote that does not follow "=" is an ordinary character; so is an unclosed one
        ("<a href=x'y>Tom's book</a>", "Tom's book"),
        ('<a title="unterminated>text', "text"),
    ],
)
def test_html_to_text_skips_quoted_attribute_values(fragment, text):
    assert html_to_text(fragment) == text


def test_html_to_text_is_linear_on_hostile_markup():
    import time

    hostile = '<a x="' + "<b y='" * 20_000 + "<" * 20_000 + "<a " * 20_000
    started = time.perf_counter()
    html_to_text(hostile)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # terminal sequences go whole: CSI colours and screen clears, OSC titles and links
        ("\x1b[31mred\x1b[0m alert", "red alert"),
        ("\x1b[2J\x1b[Hcleared", "cleared"),
        ("\x1b]0;pwned\x07title", "title"),
        ("\x1b]8;;https://evil.example\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1b]0;no terminator", ""),
        ("\x9b31m8-bit CSI", "8-bit CSI"),
        ("\x1bcreset", "reset"),
        ("bell\x07 nul\x00 del\x7f c1\x85\x8d", "bell nul del c1"),
        # whitespace-like controls become a space, like other whitespace
        ("tab\tnew\nline\x0bvt\x1ffs", "tab new line vt fs"),
        # bidi embeddings, overrides and isolates: removed; marks stay
        ("\u202eevil\u202c \u2066iso\u2069 \u200fmark", "evil iso \u200fmark"),
        # invisible characters that split keywords
        ("半\u200b導\u200c体\u2060\ufeff\u00ad", "半導体"),
        # ZWJ only between emoji (👩‍💻, ❤️‍🔥)
        ("\U0001f469\u200d\U0001f4bb", "\U0001f469\u200d\U0001f4bb"),
        ("\u2764\ufe0f\u200d\U0001f525", "\u2764\ufe0f\u200d\U0001f525"),
        ("AI\u200d戦略", "AI戦略"),
        ("\U0001f469\u200dA", "\U0001f469A"),
        # lone surrogates cannot be stored: replaced
        ("bad \ud83d pair", "bad \ufffd pair"),
        ("  政府、ＡＩ推進法案を閣議決定  ", "政府、ＡＩ推進法案を閣議決定"),
    ],
)
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


def test_clean_text_cuts_at_the_limit_with_an_ellipsis():
    cut = clean_text("word " * 500, 100)
    assert len(cut) <= 100 and cut.endswith("…")
    assert clean_text("short", 100) == "short"


def test_html_to_text_cleans_what_entities_decode_to():
    assert html_to_text("<b>a</b>&#x202E;b&#8203;c") == "abc"
