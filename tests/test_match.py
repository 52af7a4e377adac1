"""Matcher mechanics on small keyword sets written for each case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.errors import ConfigError, RuleSyntaxError
from bot.match import Matcher
from bot.match.keywords import KeywordsFile, build_keywords
from bot.match.normalize import fold, normalize
from bot.match.rules import parse_rule

BASE = {
    "groups": {
        "japan": {"kind": "actor", "terms": ["Japan", "政府", "日本"], "yields_to": ["foreign"]},
        "foreign": {
            "kind": "foreign",
            "terms": ["China", "中国", "米国", "米国政府"],
            "exclude": ["中国地方"],
        },
        "policy": {
            "kind": "action",
            "terms": ["subsidy", "戦略", "補助金", {"term": "Act", "case": "exact", "weight": 0.5}],
        },
        "ai": {"kind": "topic", "terms": [{"term": "AI", "case": "exact"}, "人工知能"]},
        "chips": {"kind": "topic", "terms": ["chip*", "半導体"]},
        "cyber": {"kind": "topic", "terms": ["サイバー", "サイバー攻撃", "hacking"]},
    },
    "feed_tags": {"jp-gov": {"japan": 3, "policy": 2}},
    "rules": {
        "tech": "ai OR chips OR cyber",
        "default": "japan AND policy AND tech AND japan >= foreign",
    },
    "boilerplate": {"inline_markers": ["関連記事", "Related:"], "block_markers": ["RELATED"]},
}


def matcher(**changes) -> Matcher:
    data = {**BASE, **changes}
    return Matcher(build_keywords(KeywordsFile.model_validate(data), "keywords.yaml"))


@pytest.fixture(scope="module")
def m() -> Matcher:
    return matcher()


def terms_of(result, group):
    return {t.term for r in result.reasons if r.group == group for t in r.terms}


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("ＡＩと５Ｇ", "AIと5G"),
        ("ｻｲﾊﾞｰ攻撃", "サイバー攻撃"),
        ("サ―バ－", "サーバー"),
        ("2026–2027", "2026-2027"),
        ("政府　の\n AI", "政府 の AI"),
    ],
)
def test_normalize(raw, normal):
    assert normalize(raw) == normal


def test_fold_keeps_offsets():
    text = "İstanbul AI"
    assert len(fold(text)) == len(text)


@pytest.mark.parametrize(
    ("title", "flagged"),
    [
        ("政府のAI戦略", True),  # \b would fail next to kana: we match on letter/digit boundaries
        ("政府のＡＩ戦略", True),  # full-width
        ("政府の人工知能戦略", True),
        ("Japan AI subsidy", True),
        ("Japan said subsidy chips", True),  # "said" does not contain the term AI...
        ("Japan said subsidy", False),  # ...and without chips nothing is left
        ("Japan Ai subsidy", False),  # exact-case AI
        ("Japan AIST subsidy", False),  # boundary: AIST is not AI
        ("Japan chipmakers get subsidy", True),  # prefix chip*
        ("TSMC半導体に補助金 政府", True),  # Japanese right after Latin letters
        ("政府のｻｲﾊﾞｰ戦略", True),  # half-width katakana
    ],
)
def test_matching_boundaries_and_forms(m, title, flagged):
    assert m.match(title, "").flagged is flagged


def test_nested_terms_of_one_group_count_once(m):
    result = m.match("政府、サイバー攻撃対策の戦略", "")
    assert terms_of(result, "cyber") == {"サイバー攻撃"}


def test_government_of_another_country_is_not_japan(m):
    result = m.match("米国政府、半導体戦略を発表", "")
    assert terms_of(result, "japan") == set()  # 政府 inside 米国政府 yields to foreign
    assert not result.flagged


def test_exclusion_phrase(m):
    result = m.match("政府、中国地方の半導体工場に補助金", "")
    assert "foreign" not in {r.group for r in result.reasons}
    assert result.flagged


def test_foreign_dominance_decides(m):
    assert not m.match("China chip subsidy", "Japan is mentioned once in passing.").flagged
    assert m.match("Japan and China chip subsidy talks", "").flagged


def test_title_weighs_more_than_body(m):
    in_title = m.match("Japan chip subsidy", "")
    in_body = m.match("News", "Japan chip subsidy")
    assert in_title.score > in_body.score > 0


def test_feed_tags_supply_context(m):
    assert not m.match("半導体の研究拠点を公募", "").flagged
    tagged = m.match("半導体の研究拠点を公募", "", feed_tags=["jp-gov"])
    assert tagged.flagged
    assert ("feed tag jp-gov", "feed") in {
        (t.term, t.where) for r in tagged.reasons for t in r.terms
    }


def test_boilerplate_inline_block_and_separator(m):
    assert not m.match("大谷翔平がMVP", "満票だった。関連記事：政府、AI戦略").flagged
    assert not m.match(
        "Cherry blossoms", "Early this year.\nRELATED\nJapan AI subsidy\nJapan chips"
    ).flagged
    assert not m.match(
        "Cherry blossoms", "Early this year.\n-\nJapan AI subsidy\nBy X Published"
    ).flagged
    long_paragraph = "Japan AI subsidy " + "x " * 200
    # a real paragraph after the teaser block counts again
    assert m.match("Cherry blossoms", f"Early.\nRELATED\nteaser\n{long_paragraph}").flagged


def test_reasons_say_what_where_and_how_much(m):
    result = m.match("政府のAI戦略", "補助金も")
    reasons = {r["group"]: r for r in result.reasons_json()}
    assert reasons["ai"]["terms"] == [
        {"term": "AI", "where": "title", "count": 1, "contribution": 3.0}
    ]
    policy = {t["term"]: t for t in reasons["policy"]["terms"]}
    assert policy["戦略"]["where"] == "title" and policy["補助金"]["where"] == "lede"
    assert result.topics == ("ai",)
    assert 0 < result.score <= 100
    assert "ai: AI" in result.short_reasons()


def test_duplicate_terms_count_once():
    twice = matcher(
        groups={**BASE["groups"], "foreign": {"kind": "foreign", "terms": ["EU", "EU"]}}
    )
    result = twice.match("Japan and EU chip subsidy", "")
    foreign = next(r for r in result.reasons if r.group == "foreign")
    assert foreign.score == 3.0 and result.flagged


def test_regex_terms():
    m2 = matcher(
        groups={**BASE["groups"], "space": {"kind": "topic", "terms": [{"regex": r"H-?3\b"}]}},
        rules={"default": "japan AND space"},
    )
    assert m2.match("Japan launches H3 rocket", "").flagged
    assert not m2.match("Japan launches H30 rocket", "").flagged


@pytest.mark.parametrize("pattern", [r"(a+)+b", r"(\w*)*x", r"([a-z]+){2,}"])
def test_pathological_regex_is_rejected(pattern):
    with pytest.raises(ValueError, match="repeats a repeated group"):
        matcher(groups={**BASE["groups"], "x": {"terms": [{"regex": pattern}]}})


def test_invalid_regex_is_rejected():
    with pytest.raises(ValueError, match="invalid regex"):
        matcher(groups={**BASE["groups"], "x": {"terms": [{"regex": "(unclosed"}]}})


@pytest.mark.parametrize(
    ("rule", "position", "reason"),
    [
        ("japan AND", 9, "expected a group name"),
        ("japan AND (ai OR chips", 22, "missing closing parenthesis"),
        ("japan && ai", 6, "unexpected character"),
        ("japan ai", 6, "expected AND, OR or the end"),
        ("", 0, "empty rule"),
    ],
)
def test_rule_syntax_errors_point_at_the_position(rule, position, reason):
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule(rule, path="bot.yaml", key="subscriptions[0].rule")
    assert info.value.position == position
    assert reason in str(info.value)
    assert "bot.yaml: subscriptions[0].rule" in str(info.value)
    assert "\n    " + " " * position + "^" in str(info.value)


def test_unknown_group_in_rule(m):
    with pytest.raises(RuleSyntaxError, match="unknown group or rule 'quantum'") as info:
        m.keywords.rule("japan AND quantum")
    assert info.value.position == 10


def test_rule_operators(m):
    kw = m.keywords
    assert m.match("Japan chip subsidy", "", rule=kw.rule("japan AND NOT ai")).flagged
    assert not m.match("Japan AI subsidy", "", rule=kw.rule("japan AND NOT ai")).flagged
    assert m.match("Japan AI", "", rule=kw.rule("(ai OR chips) AND japan >= 3")).flagged
    assert not m.match("News", "Japan AI", rule=kw.rule("ai AND japan >= 3")).flagged
    assert m.match("Japan AI", "", rule=kw.rule("japan and tech")).flagged  # lower-case keywords


def test_config_errors_name_the_key(tmp_path: Path):
    bad = {**BASE, "rules": {"default": "japan AND"}}
    with pytest.raises(RuleSyntaxError, match=r"rules\.default"):
        build_keywords(KeywordsFile.model_validate(bad), "keywords.yaml")
    cyclic = {**BASE, "rules": {"a": "b", "b": "a", "default": "a"}}
    with pytest.raises(ConfigError, match="refers to itself"):
        build_keywords(KeywordsFile.model_validate(cyclic), "keywords.yaml")
    no_default = {**BASE, "rules": {"tech": "ai"}}
    with pytest.raises(ConfigError, match="default rule is required"):
        build_keywords(KeywordsFile.model_validate(no_default), "keywords.yaml")
    unknown_tag_group = {**BASE, "feed_tags": {"x": {"nope": 1}}}
    with pytest.raises(ConfigError, match=r"feed_tags\.x\.nope"):
        build_keywords(KeywordsFile.model_validate(unknown_tag_group), "keywords.yaml")


def test_check_config_reports_keyword_errors(make_config, run_bot):
    keywords = yaml.safe_load(
        (Path(__file__).parent.parent / "config" / "keywords.yaml").read_text(encoding="utf-8")
    )
    keywords["rules"]["default"] = "japanese_actor AND (tech"
    config = make_config([], keywords=keywords)
    result = run_bot("--config", str(config), "check-config")
    assert result.code == 2
    assert (
        "keywords.yaml: rules.default" in result.err and "missing closing parenthesis" in result.err
    )


def test_match_jsonl_cli(run_bot, tmp_path):
    lines = [
        {"id": "a", "title": "政府、半導体に補助金", "summary": "", "lang": "ja"},
        {"id": "b", "title": "Nvidia unveils new GPU", "summary": "", "lang": "en"},
        {"id": "c", "title": "半導体の研究拠点を公募", "summary": "", "feed_tags": ["jp-gov"]},
    ]
    path = tmp_path / "in.jsonl"
    path.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n", encoding="utf-8"
    )
    result = run_bot("match", "--jsonl", str(path))
    assert result.code == 0, result.err
    out = [json.loads(line) for line in result.out.splitlines()]
    assert [(o["id"], o["flagged"]) for o in out] == [("a", True), ("b", False), ("c", True)]
    assert out[0]["topics"] == ["semiconductors"]
    assert set(out[0]) == {"id", "flagged", "score", "topics", "reasons"}
    assert {"group", "kind", "score", "present", "terms"} <= set(out[0]["reasons"][0])


def test_match_jsonl_bad_line_is_reported_not_fatal(run_bot, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": 1, "title": "政府のAI戦略"}\nnot json\n[1]\n', encoding="utf-8")
    result = run_bot("match", "--jsonl", str(path))
    assert result.code == 1 and "2 input line(s)" in result.err
    out = [json.loads(line) for line in result.out.splitlines()]
    assert out[0]["flagged"] is True and out[1]["line"] == 2 and "error" in out[2]


def test_explain_text_file_and_url(run_bot, tmp_path, feed_server):
    result = run_bot("explain", "--text", "米国政府、半導体輸出規制を強化")
    assert result.code == 0
    assert result.out.startswith("not flagged")
    assert "✗ japan >= foreign" in result.out and "米国政府 (title" in result.out
    article = tmp_path / "a.txt"
    article.write_text(
        "政府、AI推進法案を閣議決定\n首相を本部長とする戦略本部を置く。", encoding="utf-8"
    )
    result = run_bot("explain", "--file", str(article))
    assert result.out.startswith("FLAGGED") and "title: 政府、AI推進法案を閣議決定" in result.out
    page = """<html><head><meta charset="shift_jis"><title>政府、量子技術に1000億円</title></head><body>
    <nav>AI 半導体 サイバー</nav><article><h1>政府、量子技術に1000億円</h1>
    <p>経済産業省は量子コンピュータの開発を基金で支援する。</p></article>
    <aside class="related">中国がAI規制</aside></body></html>""".encode("cp932")
    url = feed_server.route("/page.html", body=page, content_type="text/html")
    result = run_bot("explain", "--url", url, "--json")
    data = json.loads(result.out)
    assert data["flagged"] is True and data["topics"] == ["quantum"]
    assert "foreign" not in {r["group"] for r in data["reasons"]}  # the aside was dropped


def test_product_terms_are_every_combination():
    m2 = matcher(
        groups={
            **BASE["groups"],
            "acts": {
                "kind": "action",
                "terms": [{"product": [["Japan", "Tokyo"], ["to", "approves"]], "weight": 2}],
            },
        },
        rules={"default": "acts AND chips"},
    )
    assert m2.match("Tokyo approves chip plan", "").flagged
    assert m2.match("Japan to fund chips", "").flagged
    assert not m2.match("Japan chips", "").flagged  # "Japan" alone is not a phrase of it
    terms = {t.text for t in m2.keywords.terms if t.group == "acts"}
    assert terms == {"Japan to", "Japan approves", "Tokyo to", "Tokyo approves"}


def test_excluded_products_keep_other_countries_out():
    m2 = matcher(
        groups={
            **BASE["groups"],
            "japan": {
                "kind": "actor",
                "terms": [{"product": [["国"], ["が", "の"]], "joiner": ""}],
                "exclude": [{"product": [["中", "米"], ["国が", "国の"]], "joiner": ""}],
            },
        },
        rules={"default": "japan AND chips"},
    )
    assert m2.match("国が半導体を支援", "").flagged
    assert not m2.match("中国が半導体を支援", "").flagged
    assert not m2.match("米国の半導体", "").flagged


def test_a_term_is_one_kind_of_thing():
    with pytest.raises(ValueError, match="one of 'term', 'regex' or 'product'"):
        matcher(groups={**BASE["groups"], "x": {"terms": [{"term": "a", "product": [["b"]]}]}})
    with pytest.raises(ValueError, match="lists of words"):
        matcher(groups={**BASE["groups"], "x": {"terms": [{"product": [["a"], []]}]}})


def test_rules_compare_a_score_with_a_sum(m):
    kw = m.keywords
    rule = kw.rule("chips AND NOT foreign > japan + policy")
    # China 3 (title) against Japan 3 + subsidy 3, or subsidy 3 alone: not more
    assert m.match("Japan China chip subsidy", "", rule=rule).flagged
    assert m.match("China chip subsidy", "", rule=rule).flagged
    # against nothing: more
    assert not m.match("China chip", "", rule=rule).flagged
    with pytest.raises(RuleSyntaxError, match=r"expected a group name after '\+'"):
        kw.rule("chips > japan +")
