"""The quality floor: precision and recall on the labelled sets, and the seed-like articles."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.match import Matcher, load_keywords
from bot.match.matcher import split_title
from tests.quality import DEVSET, HELDOUT, ROOT, SHAPES, evaluate, load

SEEDLIKE = Path(__file__).parent / "data" / "seedlike"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_keywords(ROOT / "config"))


def test_development_set_is_big_enough_and_bilingual():
    items = load(DEVSET)
    assert len(items) >= 200
    assert sum(i["lang"] == "ja" for i in items) / len(items) >= 0.4
    kinds = {i["kind"] for i in items if not i["label"]}
    assert kinds == {
        "jp_policy_not_tech",
        "foreign_tech_policy",
        "jp_tech_business",
        "generic_tech",
        "boilerplate",
    }
    assert len({i["id"] for i in items}) == len(items)


def test_quality_floor_on_the_development_set(matcher):
    report = evaluate(load(DEVSET), matcher)
    assert report.overall.precision >= 0.95, report.misses
    assert report.overall.recall >= 0.90, report.misses
    for lang in ("ja", "en"):
        counts = report.by["language"][lang]
        assert counts.precision >= 0.95 and counts.recall >= 0.90


def test_quality_floor_on_the_held_out_set(matcher):
    # Written after tuning; a regression here means the keywords stopped generalising.
    report = evaluate(load(HELDOUT), matcher)
    assert report.overall.precision >= 0.95, report.misses
    assert report.overall.recall >= 0.90, report.misses


@pytest.mark.parametrize(
    ("name", "topics"),
    [
        ("research_push_with_japanese_line.txt", {"semiconductors", "ai", "cyber"}),
        (
            "tech_fund_with_sidebar.txt",
            {"ai", "quantum", "telecom", "robotics", "biotech", "semiconductors", "econsec"},
        ),
    ],
)
def test_seed_like_articles_are_flagged_with_their_topics(matcher, name, topics):
    title, body = split_title((SEEDLIKE / name).read_text(encoding="utf-8"))
    result = matcher.match(title, body)
    assert result.flagged
    assert topics <= set(result.topics)


def test_sidebar_words_decide_nothing(matcher):
    title, body = split_title((SEEDLIKE / "tech_fund_with_sidebar.txt").read_text(encoding="utf-8"))
    result = matcher.match(title, body)
    by_group = {r.group: r for r in result.reasons}
    # hacking, CISOs, the UK and China appear only in the teaser list under the article
    assert "cyber" not in result.topics
    assert "foreign" not in by_group or not by_group["foreign"].present
    # the newsletter box mentions cloud; that must not make the article a "digital" one
    assert "digital" not in result.topics
    # and the article without its sidebar decides the same way
    main = body.split("Get the TechWire")[0]
    assert matcher.match(title, main).flagged


def test_japanese_related_link_line_does_not_count(matcher):
    _, body = split_title(
        (SEEDLIKE / "research_push_with_japanese_line.txt").read_text(encoding="utf-8")
    )
    result = matcher.match("", body)
    terms = {t.term for r in result.reasons for t in r.terms}
    assert "提携" not in terms  # the business word in the 関連記事 line


# --- the real corpus (tests/data/corpus): its brief, its split, and the frozen part's floor ---

#: sha256 of the frozen part's sorted ids, one per line: the split is recorded once and items
#: never move across it (a change here is a moved item, not a fix)
FROZEN_IDS_SHA256 = "5eaf06f52b3714219566d379d9ae2fb9041b6de225695c2d602e935bc30bff7f"


def test_corpus_meets_its_brief():
    items = load()
    assert len(items) >= 1500
    assert len({i["id"] for i in items}) == len(items)
    assert all(i["source"] and i["split"] in ("tune", "test") for i in items)
    assert sum(i["lang"] == "ja" for i in items) / len(items) >= 0.45
    assert sum(i["shape"] in ("headline", "headline_desc") for i in items) / len(items) >= 0.5
    # official entries carry the tags config/feeds.yaml gives their feed
    official = [i for i in items if i["official"]]
    assert all({"jp-gov", "security-agency"} & set(i["feed_tags"]) for i in official)
    assert sum("jp-gov" in i["feed_tags"] for i in official) >= 300
    negatives = [i for i in items if not i["label"]]
    for kind in (1, 2, 3, 4):
        assert sum(i["negative_kind"] == kind for i in negatives) >= 40, kind
    topics = {i["topic"] for i in items if i["label"]}
    assert topics >= {
        "semiconductors", "ai", "cyber", "quantum", "telecom", "robotics", "biotech",
        "space", "fusion", "digital", "econsec", "research",
    }  # fmt: skip
    # a debatable label says why
    assert all(i["note"] for i in items if i["debatable"])


def test_the_frozen_part_never_moves():
    import hashlib

    ids = sorted(i["id"] for i in load(split="test"))
    # split once, about 35% frozen; the later wave2-* collection went to the tuning part only
    first = [i for i in load() if not i["id"].startswith("wave2-")]
    assert 0.30 <= len(ids) / len(first) <= 0.40
    assert not any(i.startswith("wave2-") for i in ids)
    assert hashlib.sha256("\n".join(ids).encode()).hexdigest() == FROZEN_IDS_SHA256


def test_quality_floor_on_the_frozen_part(matcher):
    # The frozen part is measured, never tuned on. These floors hold what the matcher reaches
    # on it today (overall 0.842 / 0.839), so any change that loses ground fails here. They are
    # below the product's floors (precision 0.95, recall 0.92, 0.88 per language and shape),
    # which the keyword matcher does not reach on entries it has never seen: see README.
    report = evaluate(load(split="test"), matcher)
    assert report.overall.precision >= 0.83, report.overall
    assert report.overall.recall >= 0.83, report.overall
    for dimension, values in (("language", ("ja", "en")), ("shape", SHAPES)):
        for value in values:
            counts = report.by[dimension][value]
            assert counts.recall >= 0.76, (dimension, value, counts)
            assert counts.precision >= 0.79, (dimension, value, counts)
