"""The Slack app's command-line side: feedback, eval --feedback, feedback export, retraining
with feedback; and a service whose app token Slack refuses carries on posting digests."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import feedback
from bot.storage.sqlite import SqliteStorage
from tests.procs import start, wait_for
from tests.stories import distinct_titles, feed_of
from tests.test_storage_contract import (
    FLAGGED,
    NOW,
    art,
    put,
)


@pytest.fixture
def judged(make_config, tmp_path: Path) -> tuple[Path, Path, list[int]]:
    """A configuration and a data directory where subscribers judged three stories."""
    config = make_config(
        [{"name": "f", "url": "https://example.org/f.xml", "tags": ["jp-gov"]}],
        {"subscriptions": [{"name": "main", "channel": "#jp-tech-policy"}]},
    )
    data = tmp_path / "data"
    store = SqliteStorage(data)
    try:
        titles = ["経済産業省、半導体補助金を決定", "総務省、6G戦略を改定", "芸能ニュース"]
        articles = [art(f"e{i}", t, summary="") for i, t in enumerate(titles)]
        ids = list(put(store, "f", articles, matches={a.entry_id: FLAGGED for a in articles}).new)
        for user, verdicts in {
            "U1": ["relevant", "relevant", "not_relevant"],
            "U2": ["relevant", None, "not_relevant"],
        }.items():
            for article_id, verdict in zip(ids, verdicts, strict=True):
                if verdict:
                    feedback.record_click(
                        store, article_id=article_id, subscription="main", user_id=user,
                        verdict=verdict, now=NOW + timedelta(minutes=1),
                    )  # fmt: skip
    finally:
        store.close()
    return config, data, ids


def test_feedback_lists_votes(judged, run_bot):
    config, data, ids = judged
    base = ["--config", str(config), "--data-dir", str(data)]
    listed = run_bot(*base, "feedback")
    assert listed.code == 0, listed.err
    assert "NOT relevant  +0 -2  main" in listed.out and "芸能ニュース" in listed.out
    rows = json.loads(run_bot(*base, "feedback", "--json").out)
    assert {(r["article_id"], r["relevant"], r["not_relevant"]) for r in rows} == {
        (ids[0], 2, 0), (ids[1], 1, 0), (ids[2], 0, 2),
    }  # fmt: skip


def test_eval_feedback_reports_precision_and_the_worst_stories(judged, run_bot):
    config, data, ids = judged
    base = ["--config", str(config), "--data-dir", str(data)]
    result = run_bot(*base, "eval", "--feedback")
    assert result.code == 0, result.err
    assert "main" in result.out and "0.667" in result.out  # 2 of 3 judged relevant
    assert "most often marked not relevant" in result.out and "芸能ニュース" in result.out
    report = json.loads(run_bot(*base, "eval", "--feedback", "--json").out)
    assert report["by_subscription"] == [
        {"name": "main", "judged": 3, "relevant": 2, "precision": 2 / 3}
    ]
    assert report["most_marked_not_relevant"][0]["article_id"] == ids[2]


def test_feedback_export_and_retraining_with_it(judged, run_bot, tmp_path):
    config, data, _ = judged
    base = ["--config", str(config), "--data-dir", str(data)]
    out = tmp_path / "judged.jsonl"
    result = run_bot(*base, "feedback", "export", "--out", str(out))
    assert result.code == 0, result.err
    entries = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(e["label"], e["split"], e["official"]) for e in entries] == [
        (True, "tune", True), (True, "tune", True), (False, "tune", True),
    ]  # fmt: skip
    model = tmp_path / "model.json"
    trained = run_bot(*base, "train-model", "--feedback", "--out", str(model))
    assert trained.code == 0, trained.err
    assert "with 3 entries judged in Slack" in trained.out
    meta = json.loads(model.read_text())["meta"]
    assert meta["items"] == 1996 + 3  # the tuning part and the judged stories


@pytest.mark.slow
def test_an_app_token_slack_refuses_leaves_the_digests_running(
    feed_server, make_config, tmp_path, fake_slack
):
    titles = distinct_titles(1, seed=21)
    url = feed_server.route("/one.xml", body=feed_of(titles, datetime.now(UTC)))
    config = make_config(
        [{"name": "One", "url": url, "interval": "2s"}],
        {"subscriptions": [{"name": "one", "channel": "#jp-tech-policy", "alert_score": 1}]},
    )
    fake_slack.tokens.add("xoxb-good")
    env = {
        "SLACK_BOT_TOKEN": "xoxb-good",
        "SLACK_APP_TOKEN": "xapp-revoked",  # Slack answers invalid_auth
        "SLACK_API_URL": fake_slack.api_url,
    }
    log = tmp_path / "service.log"
    proc = start(["--config", str(config), "--data-dir", str(tmp_path / "data"), "run"], env, log)
    try:
        wait_for(lambda: len(fake_slack.posted()) == 1, 40, "the alert, app or not")
        text = log.read_text()
        assert "Slack app not started: invalid_auth" in text
        assert "xapp-revoked" not in text
        # posted without buttons: nobody would receive the clicks
        assert not [b for b in fake_slack.posted()[0]["blocks"] if b["type"] == "actions"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_poll_and_digest_include_what_was_made_in_slack(
    feed_server, make_config, tmp_path, run_bot
):
    from bot.storage.records import AppFeed, AppSubscription

    titles = distinct_titles(2, seed=31)
    url = feed_server.route("/slack.xml", body=feed_of(titles, datetime.now(UTC)))
    config = make_config([], {"fetch": {"allow_private_hosts": ["127.0.0.1"]}})
    data = tmp_path / "data"
    store = SqliteStorage(data)
    try:
        store.add_app_feed(AppFeed("from-slack", url, (), "U1", NOW))
        store.add_app_subscription(
            AppSubscription("slack-sub", "C0SLACK01", None, "0 9 * * *", "U1", NOW)
        )
    finally:
        store.close()
    base = ["--config", str(config), "--data-dir", str(data)]
    polled = run_bot(*base, "poll", "--once")
    assert polled.code == 0, polled.err
    assert "from-slack" in polled.out and "new 2" in polled.out
    digest = run_bot(*base, "digest")
    assert digest.code == 0, digest.err
    assert "slack-sub" in digest.err and all(t in digest.out for t in titles)
