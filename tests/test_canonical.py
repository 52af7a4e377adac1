from __future__ import annotations

import pytest

from bot.ingest.canonical import canonicalize


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM:80/a?b=2&a=1#frag", "https://example.com/a?a=1&b=2"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com", "https://example.com/"),
        (
            "https://news.example.jp/a?utm_source=rss&utm_medium=feed&fbclid=x&gclid=y&partner=yahoo&id=7",
            "https://news.example.jp/a?id=7",
        ),
        (
            "https://www.asahi.com/articles/ASR1.html?ref=rss",
            "https://www.asahi.com/articles/ASR1.html",
        ),
        (
            "https://www.google.com/url?rct=j&sa=t&url=https://www.nikkei.com/article/DGX1/%3Futm_source%3Dx&ct=ga",
            "https://www.nikkei.com/article/DGX1/",
        ),
        (
            "https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.org%2Fstory&h=AT0",
            "https://example.org/story",
        ),
        (
            "https://www.bing.com/news/apiclick.aspx?url=https%3A%2F%2Fex.org%2Fn1&c=1",
            "https://ex.org/n1",
        ),
        (
            "https://b.hatena.ne.jp/entry/s/www.itmedia.co.jp/news/articles/2611/20/news1.html",
            "https://www.itmedia.co.jp/news/articles/2611/20/news1.html",
        ),
        ("https://b.hatena.ne.jp/entry/www.example.jp/x", "https://www.example.jp/x"),
        # raw Japanese and percent-encoded Japanese are the same URL
        ("https://ex.jp/記事/1", "https://ex.jp/%E8%A8%98%E4%BA%8B/1"),
        ("https://ex.jp/%e8%a8%98%e4%ba%8b/1", "https://ex.jp/%E8%A8%98%E4%BA%8B/1"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
    ],
)
def test_canonicalize(url, expected):
    assert canonicalize(url) == expected


def test_canonicalize_is_idempotent():
    url = "https://www.google.com/url?q=https://Ex.org/a?utm_campaign=c%26b%3D1"
    once = canonicalize(url)
    assert canonicalize(once) == once


def test_non_redirector_url_parameter_is_kept():
    # a search page's own "url" parameter is content, not a redirect
    assert (
        canonicalize("https://ex.org/search?url=https://a.example/")
        == "https://ex.org/search?url=https%3A%2F%2Fa.example%2F"
    )
