from __future__ import annotations

import pytest

from bot.text import html_to_text, truncate


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
