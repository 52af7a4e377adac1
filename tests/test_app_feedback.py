"""Feedback use cases (bot.app.feedback) over a real SQLite store: one vote per person,
precision as judged by subscribers, the stories most often marked not relevant, and the
export in the relevance corpus's format."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import feedback
from bot.storage.sqlite import SqliteStorage
from tests.test_storage_contract import NOW, matched


@pytest.fixture
def storage(tmp_path: Path):
    store = SqliteStorage(tmp_path)
    yield store
    store.close()


def vote(storage, article_id, user, verdict, sub="main", minutes=0):
    return feedback.record_click(
        storage,
        article_id=article_id,
        subscription=sub,
        user_id=user,
        verdict=verdict,
        now=NOW + timedelta(minutes=minutes),
    )


def test_one_person_counts_once_and_may_change_their_mind(storage):
    [a] = matched(storage, 1)
    first = vote(storage, a, "U1", "relevant")
    again = vote(storage, a, "U1", "relevant", minutes=1)
    assert (first.changed, again.changed) == (True, False)
    assert again.counts == {"relevant": 1}
    changed = vote(storage, a, "U1", "not_relevant", minutes=2)
    assert changed.changed and changed.counts == {"not_relevant": 1}
    assert vote(storage, a, "U2", "relevant").counts == {"relevant": 1, "not_relevant": 1}


def test_precision_as_judged_by_subscribers(storage):
    a, b, c, d = matched(storage, 4)
    vote(storage, a, "U1", "relevant")
    vote(storage, b, "U1", "not_relevant")
    vote(storage, b, "U2", "not_relevant")
    vote(storage, c, "U1", "relevant")
    vote(storage, c, "U2", "not_relevant")  # a tie: no verdict
    vote(storage, d, "U1", "relevant", sub="other")
    report = feedback.report(storage)
    assert report.votes == 6
    by_sub = {p.name: (p.judged, p.relevant) for p in report.by_subscription}
    assert by_sub == {"main": (2, 1), "other": (1, 1)}
    assert {p.name: p.precision for p in report.by_feed} == {"f": 2 / 3}
    worst = [j.article.id for j, _ in report.worst]
    assert worst[0] == b  # two people said not relevant
    assert a not in worst


def test_export_gives_corpus_entries_for_the_tuning_part_only(storage):
    a, b, c = matched(storage, 3)
    vote(storage, a, "U1", "relevant")
    vote(storage, b, "U1", "not_relevant")
    vote(storage, c, "U1", "relevant")
    vote(storage, c, "U2", "not_relevant")  # tied: not exported
    entries = feedback.corpus_entries(storage, {"f": ("jp-gov",)})
    assert [(e["id"], e["label"]) for e in entries] == [
        (f"feedback-{a}", True),
        (f"feedback-{b}", False),
    ]
    entry = entries[0]
    assert entry["split"] == "tune"
    assert entry["official"] is True and entry["feed_tags"] == ["jp-gov"]
    assert entry["source"].startswith("https://") and entry["shape"] == "headline_desc"
    assert "subscriber feedback: 1 relevant, 0 not relevant" in entry["note"]
