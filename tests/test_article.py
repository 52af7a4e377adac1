"""extract_article: real pages from tests/data/articles (manifest.json says what each must keep
and drop), walls, encodings, and the edges (not HTML, empty, the length cap)."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import lxml.html
import pytest

from bot.ingest.article import MAX_TEXT_CHARS, ArticleText, extract_article

ARTICLES = Path(__file__).parent / "data" / "articles"
MANIFEST = json.loads((ARTICLES / "manifest.json").read_text(encoding="utf-8"))["articles"]
# The pages in the repository. The others ("committed": false) were only ever fetched, are kept
# out of it by the .gitignore beside them, and serve bench/extract_compare.py alone.
COMMITTED = [e for e in MANIFEST if e["committed"]]


def fixture(entry: dict[str, object]) -> bytes:
    """A committed fixture's bytes; one that is missing fails the test that needs it."""
    assert entry["committed"], (
        f"{entry['file']} is not in the repository; tests use committed pages"
    )
    path = ARTICLES / str(entry["file"])
    assert path.is_file(), f"{entry['file']} is committed but missing from {ARTICLES}"
    return path.read_bytes()


def page_text(body: bytes) -> str:
    """Everything a reader of the page can see, whitespace collapsed."""
    tree = lxml.html.document_fromstring(body.decode("utf-8"))
    for bad in tree.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    return re.sub(r"\s+", " ", tree.text_content())


def html(body: str, *, head: str = "", lang: str = "ja") -> str:
    return f'<!DOCTYPE html><html lang="{lang}"><head>{head}</head><body>{body}</body></html>'


ARTICLE_JA = html(
    "<nav><a href='/'>トップ</a> <a href='/ai'>AI</a> <a href='/semi'>半導体</a></nav>"
    "<article><h1>総務省、生成AIの利用指針を改定</h1>"
    "<p>総務省は9日、自治体が生成AIを業務で使う際の指針を改定したと発表した。個人情報を含む文書の入力を原則として禁じ、"
    "出力の確認手順を定めた。</p>"
    "<p>改定は今年度に入って2回目で、各地の自治体から寄せられた質問を踏まえた。{circled}の三つの場面ごとに注意点を示している。</p>"
    "</article><aside class='related'><a href='/x'>半導体工場の建設が本格化</a></aside>",
    head='<meta charset="{charset}"><title>総務省、生成AIの利用指針を改定</title>',
).replace("{circled}", "三つ")


# -- the fixtures ---------------------------------------------------------------------------


def test_the_fixture_set_is_what_the_bench_claims():
    real = [e for e in MANIFEST if not e["synthetic"] and e["outcome"] == "ok"]
    assert len(real) >= 10
    assert {e["language"] for e in real} == {"ja", "en"}
    assert abs(sum(e["language"] == "ja" for e in real) - len(real) / 2) <= 1
    walls = {e["outcome"] for e in MANIFEST if e["outcome"] != "ok"}
    assert walls == {"paywall", "cookie_wall"}
    for entry in MANIFEST:
        assert entry["synthetic"] or entry["source"]
        assert isinstance(entry["committed"], bool)
        if entry["outcome"] == "ok":
            assert len(entry["must_include"]) >= 2 and len(entry["must_exclude"]) >= 2


def test_the_committed_fixtures_are_present_and_enough_real_pages():
    # The manifest-driven test below runs over these; it must not pass on an empty set.
    for entry in COMMITTED:
        assert (ARTICLES / entry["file"]).is_file(), f"{entry['file']} is committed but missing"
        assert entry["synthetic"] or entry["obtained"].startswith("read_file ")
    real = [e for e in COMMITTED if not e["synthetic"] and e["outcome"] == "ok"]
    assert len(real) >= 5
    assert sum(e["language"] == "ja" for e in real) >= 2
    assert sum(e["language"] == "en" for e in real) >= 2
    assert {e["outcome"] for e in COMMITTED if e["outcome"] != "ok"} == {"paywall", "cookie_wall"}


def test_the_gitignore_keeps_out_exactly_the_fetched_only_pages():
    lines = (ARTICLES / ".gitignore").read_text(encoding="utf-8").splitlines()
    ignored = {line.removeprefix("/") for line in lines if line and not line.startswith("#")}
    assert ignored == {e["file"] for e in MANIFEST if not e["committed"]}


@pytest.mark.parametrize("entry", COMMITTED, ids=[e["file"] for e in COMMITTED])
def test_fixture_keeps_the_article_and_drops_the_rest(entry):
    body = fixture(entry)
    # Every expectation is about text that is on the page: a phrase that is not could never
    # leak, and the exclusion would test nothing.
    visible = page_text(body)
    for phrase in entry["must_include"] + entry["must_exclude"]:
        assert phrase in visible, f"{phrase!r} is not on the page"

    result = extract_article(body, entry["url"], content_type="text/html")

    assert result.outcome == entry["outcome"]
    assert result.language == entry["language"]
    missing = [p for p in entry["must_include"] if p not in result.text]
    leaked = [p for p in entry["must_exclude"] if p in result.text]
    assert not missing, f"main text lost: {missing}"
    assert not leaked, f"boilerplate kept: {leaked}"
    if entry["outcome"] == "ok":
        assert result.title and "\n\n" in result.text


def test_a_real_page_reads_the_same_in_shift_jis_as_in_utf8():
    entry = next(e for e in MANIFEST if e["file"] == "ja-ipa-go-jp-alert.html")
    source = fixture(entry).decode("utf-8")
    assert 'charset="UTF-8"' in source or "charset=UTF-8" in source
    # A Shift_JIS page writes what Shift_JIS lacks (©) as a character reference.
    sjis = re.sub(r"charset=\"?UTF-8\"?", 'charset="Shift_JIS"', source)
    sjis_bytes = sjis.encode("cp932", errors="xmlcharrefreplace")
    from_utf8 = extract_article(source.encode("utf-8"), entry["url"])
    from_sjis = extract_article(sjis_bytes, entry["url"])
    assert from_sjis == from_utf8
    assert entry["must_include"][0] in from_sjis.text


# -- encodings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "label"),
    [("cp932", "Shift_JIS"), ("cp932", "shift_jis"), ("euc_jp", "EUC-JP"), ("utf-8", "utf-8")],
)
def test_declared_japanese_charsets_are_decoded(codec, label):
    body = ARTICLE_JA.replace("{charset}", label).encode(codec)
    result = extract_article(body, "https://example.jp/a")
    assert result.outcome == "ok"
    assert result.title == "総務省、生成AIの利用指針を改定"
    assert "個人情報を含む文書の入力を原則として禁じ" in result.text
    assert "半導体工場の建設が本格化" not in result.text


def test_the_header_charset_outranks_a_wrong_meta():
    body = ARTICLE_JA.replace("{charset}", "utf-8").encode("euc_jp")
    result = extract_article(body, "https://example.jp/a", content_type="text/html; charset=EUC-JP")
    assert "自治体が生成AIを業務で使う際の指針" in result.text


def test_undeclared_euc_jp_is_recognised():
    body = ARTICLE_JA.replace('<meta charset="{charset}">', "").encode("euc_jp")
    result = extract_article(body, "https://example.jp/a")
    assert "自治体が生成AIを業務で使う際の指針" in result.text


def test_cp932_only_characters_survive_a_shift_jis_label():
    page = ARTICLE_JA.replace("{charset}", "Shift_JIS").replace("三つの場面", "①から③の場面")
    body = page.encode("cp932")
    assert "①から③の場面ごとに" in extract_article(body, "https://example.jp/a").text


def test_an_xml_declaration_in_another_charset_does_not_garble_the_text():
    body = (
        '<?xml version="1.0" encoding="Shift_JIS"?>\n'
        + ARTICLE_JA.replace("{charset}", "Shift_JIS").replace("<!DOCTYPE html>", "")
    ).encode("cp932")
    result = extract_article(body, "https://example.jp/a")
    assert "自治体が生成AIを業務で使う際の指針" in result.text


# -- outcomes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog>> endobj", "application/pdf"),
        (b"%PDF-1.7\n1 0 obj <</Type /Catalog>> endobj", "text/html"),  # mislabelled
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None),
        (b'{"title": "<p>not a page</p>"}', "application/json"),
        ("政府、AI推進法案を閣議決定\n首相を本部長とする戦略本部を置く。".encode(), "text/plain"),
        (b"just some words, no markup at all", None),
        (b"<?xml version='1.0'?><rss><channel><title>x</title></channel></rss>", None),
    ],
    ids=["pdf", "pdf-labelled-html", "png", "json", "text-plain", "no-markup", "rss"],
)
def test_what_is_not_html_is_refused(body, content_type):
    result = extract_article(body, "https://example.com/f", content_type=content_type)
    assert result == ArticleText("", None, None, "not_html")


def test_html_sent_as_octet_stream_is_still_read():
    body = ARTICLE_JA.replace("{charset}", "utf-8").encode()
    result = extract_article(body, "https://e.jp/a", content_type="application/octet-stream")
    assert result.outcome == "ok"


@pytest.mark.parametrize(
    "body",
    [
        "",
        "<html><body></body></html>",
        html("<nav><a href='/'>Home</a> <a href='/news'>News</a></nav><div></div>", lang="en"),
        html("<script>document.write('rendered later')</script><div id='app'></div>", lang="en"),
    ],
    ids=["nothing", "bare", "menu-only", "script-only"],
)
def test_a_page_without_prose_is_empty(body):
    result = extract_article(body, "https://example.com/a", content_type="text/html")
    assert result.outcome == "empty"
    assert result.text == ""


def test_paragraphs_are_separated_by_a_blank_line_and_the_title_found():
    body = html(
        "<article><h1>Cabinet approves AI bill</h1>"
        "<p>The cabinet approved a bill on Tuesday that sets up a strategy headquarters led by "
        "the prime minister to promote research and use of artificial intelligence.</p>"
        "<p>The bill also lets the government ask companies for information when their AI "
        "systems are suspected of harming citizens' rights.</p></article>",
        head="<title>Cabinet approves AI bill | Example News</title>",
        lang="en-GB",
    )
    result = extract_article(body, "https://news.example/ai-bill")
    assert result.outcome == "ok" and result.language == "en"
    assert result.title and result.title.startswith("Cabinet approves AI bill")
    paragraphs = result.text.split("\n\n")
    assert paragraphs[-2].startswith("The cabinet approved a bill on Tuesday")
    assert paragraphs[-1].startswith("The bill also lets the government ask companies")


def test_long_text_is_capped_at_a_paragraph_boundary():
    paragraph = "経済産業省は半導体の国内生産を支援する。" * 20  # 400 characters
    body = html("<article>" + "".join(f"<p>{i}: {paragraph}</p>" for i in range(80)) + "</article>")
    result = extract_article(body, "https://example.jp/long")
    assert result.outcome == "ok"
    assert MAX_TEXT_CHARS - 500 < len(result.text) <= MAX_TEXT_CHARS
    assert result.text.startswith("0: 経済産業省")
    assert result.text.endswith(paragraph)  # whole paragraphs only


def test_a_short_article_mentioning_subscriptions_and_consent_is_not_a_wall():
    body = html(
        "<article><h1>Regulator opens consultation on data rules</h1>"
        "<p>The Personal Information Protection Commission asked for public comment on rules "
        "for consent to the use of data by subscription services.</p></article>"
        "<footer><a href='/subscribe'>Subscribe</a> <a href='/login'>Log in</a> "
        "<a href='/cookies'>Cookie policy</a></footer>",
        lang="en",
    )
    result = extract_article(body, "https://news.example/consultation")
    assert result.outcome == "ok"
    assert "asked for public comment" in result.text


def test_a_teaser_keeps_its_lead_and_drops_the_wall():
    entry = next(e for e in MANIFEST if e["file"] == "wall-ja-yuryo-synthetic.html")
    result = extract_article(fixture(entry), entry["url"])
    assert result.outcome == "paywall"
    assert result.text.endswith("開発事業者の自主的な評価を点検する。")
    assert "残り" not in result.text and "会員" not in result.text


def test_str_and_bytes_give_the_same_record_and_it_pickles():
    text = ARTICLE_JA.replace("{charset}", "utf-8")
    from_str = extract_article(text, "https://example.jp/a")
    from_bytes = extract_article(text.encode(), "https://example.jp/a")
    assert from_str == from_bytes
    assert pickle.loads(pickle.dumps(from_bytes)) == from_bytes
    with pytest.raises(AttributeError):
        from_bytes.text = ""  # type: ignore[misc]
