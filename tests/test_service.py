"""The service end to end, and the operator commands (run --once, demo, init, OPML)."""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import AdminSettings, load_config
from bot.models import FeedState
from bot.runtime.admin import find_problems, quiet, usual_gap
from bot.settings import Settings
from bot.storage import DeliveryFailure, SubscriptionStatus
from tests.procs import free_port, http_get, listening, start, wait_for
from tests.stories import distinct_titles, feed_of

NOW = datetime.now(UTC).replace(microsecond=0)
TOKEN = "xoxb-service-test"


def texts(fake_slack) -> str:
    return json.dumps([m["blocks"] for m in fake_slack.posted()], ensure_ascii=False)


@pytest.mark.slow
def test_service_polls_posts_stops_and_restarts_without_duplicates(
    feed_server, make_config, tmp_path, fake_slack
):
    titles = distinct_titles(3)
    url = feed_server.route("/live.xml", body=feed_of(titles[:2], NOW))
    sub = {
        "name": "live",
        "title": "Live digest",
        "channel": "#jp-tech-policy",
        "schedule": "*/3 * * * * *",
    }
    config = make_config([{"name": "Live", "url": url, "interval": "2s"}], {"subscriptions": [sub]})
    port = free_port()
    args = [
        "--config",
        str(config),
        "--data-dir",
        str(tmp_path / "data"),
        "--log-format",
        "json",
        "run",
        "--health-port",
        str(port),
    ]
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake_slack.api_url}
    fake_slack.tokens.add(TOKEN)
    log = tmp_path / "service.log"
    proc = start(args, env, log)
    try:
        wait_for(lambda: all(t in texts(fake_slack) for t in titles[:2]), 40, "the first digest")
        assert len(fake_slack.posted()) == 1
        # a new article while it runs: it comes in the next digest, alone
        feed_server.route("/live.xml", body=feed_of(titles, NOW))
        wait_for(lambda: len(fake_slack.posted()) == 2, 40, "the second digest")
        second = json.dumps(fake_slack.posted()[1]["blocks"], ensure_ascii=False)
        assert titles[2] in second and titles[0] not in second and titles[1] not in second
        status, body = http_get(f"http://127.0.0.1:{port}/healthz")
        health = json.loads(body)
        assert status == 200 and health["status"] == "ok" and health["storage_writable"] is True
        status, metrics = http_get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        families = {f.name: f for f in text_string_to_metric_families(metrics)}
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for f in families.values()
            for s in f.samples
        }
        assert samples[("bot_feed_polls_total", (("status", "ok"),))] >= 1
        delivered = ("bot_digests_delivered_total", (("kind", "digest"), ("subscription", "live")))
        assert samples[delivered] == 2
        assert samples[("bot_articles_flagged_total", ())] == 3
        # poll time is one histogram: buckets, sum and count of the same cycles
        assert families["bot_poll_duration_seconds"].type == "histogram"
        cycles = samples[("bot_poll_duration_seconds_count", ())]
        assert (
            cycles >= 2
            and samples[("bot_poll_duration_seconds_bucket", (("le", "+Inf"),))] == cycles
        )
        assert http_get(f"http://127.0.0.1:{port}/nope")[0] == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(e.get("event") == "poll" and e.get("feed") == "Live" for e in events)
    assert any(e.get("event") == "delivery" for e in events)
    assert events[-1]["message"] == "stopped"
    assert TOKEN not in log.read_text()
    # Restart: several schedule ticks later, nothing was posted again.
    proc = start(args, env, log)
    try:
        wait_for(
            lambda: (
                http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200 if listening(port) else False
            ),
            30,
            "restart",
        )
        time.sleep(7)
        assert len(fake_slack.posted()) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def test_healthz_is_503_when_polls_stop_succeeding(feed_server, make_config, tmp_path):
    import asyncio

    from bot.runtime.service import Service

    url = feed_server.route("/dead.xml", status=500)
    config = load_config(make_config([{"name": "Dead", "url": url, "interval": "60s"}]))
    clock_now = [NOW]
    service = Service(config, Settings(data_dir=tmp_path / "data"), clock=lambda: clock_now[0])

    async def check() -> tuple[bool, dict[str, object]]:
        service.scheduler.start(paused=True)
        try:
            return await service.check()
        finally:
            service.scheduler.shutdown(wait=False)

    ok, details = asyncio.run(check())
    assert ok, details  # just started: polls have not had time to succeed
    clock_now[0] = NOW + timedelta(hours=2)
    service = Service(config, Settings(data_dir=tmp_path / "data"), clock=lambda: clock_now[0])
    service.started = NOW
    ok, details = asyncio.run(check())
    assert not ok and details["polls_recent"] is False


def test_run_once_polls_and_delivers(feed_server, make_config, tmp_path, run_bot, fake_slack):
    titles = distinct_titles(2)
    url = feed_server.route("/f.xml", body=feed_of(titles, NOW))
    sub = {"name": "jp", "channel": "#jp-tech-policy", "schedule": "0 9 * * *"}
    config = make_config([{"name": "Wire", "url": url}], {"subscriptions": [sub]})
    fake_slack.tokens.add(TOKEN)
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": fake_slack.api_url}
    result = run_bot(
        "--config", str(config), "--data-dir", str(tmp_path / "d"), "run", "--once", env=env
    )
    assert result.code == 0, result.err
    assert "new 2 (2 flagged)" in result.out and "1 digest(s)" in result.err
    assert all(t in texts(fake_slack) for t in titles)


def test_json_logs_are_one_event_per_line_without_secrets(
    feed_server, make_config, tmp_path, run_bot
):
    url = feed_server.route("/f.xml", status=500)
    config = make_config([{"name": "Broken", "url": url}])
    result = run_bot(
        "--config",
        str(config),
        "--data-dir",
        str(tmp_path / "d"),
        "--log-format",
        "json",
        "--log-level",
        "info",
        "poll",
        "--once",
        env={"SLACK_BOT_TOKEN": "xoxb-secret-value-123"},
    )
    events = [json.loads(line) for line in result.err.splitlines()]
    poll_events = [e for e in events if e.get("event") == "poll"]
    assert (
        poll_events and poll_events[0]["feed"] == "Broken" and poll_events[0]["status"] == "error"
    )
    assert "xoxb-secret-value-123" not in result.err


def test_demo_runs_the_whole_pipeline_offline(run_bot):
    result = run_bot("demo", env={"SLACK_BOT_TOKEN": "xoxb-not-used"})
    assert result.code == 0, result.err
    assert "[FLAG] 政府、AI推進法案を閣議決定" in result.out
    assert "[skip] 米商務省、対中半導体規制を強化" in result.out
    assert "[skip] ソニー、半導体事業が過去最高益" in result.out
    assert "detected cp932" in result.out  # the undeclared Shift_JIS sample
    assert (
        "=== Japan tech policy (demo)" in result.out and "also: Japanese news (demo)" in result.out
    )


def test_init_writes_a_valid_configuration_and_never_overwrites(tmp_path, run_bot):
    target = tmp_path / "newconf"
    result = run_bot("init", str(target))
    assert result.code == 0 and {p.name for p in target.iterdir()} == {
        "feeds.yaml",
        "bot.yaml",
        "keywords.yaml",
    }
    assert run_bot("--config", str(target), "check-config").code == 0
    again = run_bot("init", str(target))
    assert again.code == 2 and "already exist" in again.err
    assert run_bot("init", str(target), "--force").code == 0


def test_empty_config_volume_is_initialised_when_asked(tmp_path, run_bot):
    target = tmp_path / "volume"
    target.mkdir()
    # check-config, not run: the defaults list real feeds, and no test touches the internet
    result = run_bot("--config", str(target), "check-config", env={"BOT_INIT_IF_EMPTY": "1"})
    assert result.code == 0 and "wrote the default feeds.yaml" in result.err
    assert "40 feeds" in result.out and (target / "keywords.yaml").exists()


def test_replicas_initialising_one_volume_together_leave_whole_files(tmp_path):
    # Two replicas start on one empty volume: one has written bot.yaml when the other
    # looks. The second writes only what is missing, and never a half-written file.
    from bot.app.starter import default_file, init

    target = tmp_path / "volume"
    target.mkdir()
    (target / "bot.yaml").write_text("timezone: UTC\n")  # the other replica's (or the user's)
    written = init(target, missing_only=True)
    assert {p.name for p in written} == {"keywords.yaml", "feeds.yaml"}
    assert (target / "bot.yaml").read_text() == "timezone: UTC\n"  # not overwritten
    assert (target / "feeds.yaml").read_bytes() == default_file("feeds.yaml")
    assert init(target, missing_only=True) == []
    assert not [p for p in target.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_opml_round_trip(tmp_path, run_bot, make_config):
    source = make_config(
        [
            {
                "name": "METI",
                "url": "https://www.meti.go.jp/ml_index_release_atom.xml",
                "language": "ja",
                "tags": ["jp-gov"],
            },
            {
                "name": "Wire & Co <EN>",
                "url": "https://wire.example.com/feed?a=1&b=2",
                "language": "en",
            },
        ]
    )
    exported = run_bot("--config", str(source), "export-opml")
    assert (
        exported.code == 0 and 'xmlUrl="https://wire.example.com/feed?a=1&amp;b=2"' in exported.out
    )
    opml = tmp_path / "feeds.opml"
    opml.write_text(exported.out, encoding="utf-8")
    target = tmp_path / "target"
    run_bot("init", str(target))
    (target / "feeds.yaml").write_text("# my feeds\nfeeds: []\n", encoding="utf-8")
    result = run_bot("--config", str(target), "import-opml", str(opml))
    assert result.code == 0 and "2 feeds added" in result.out, result.err
    feeds = load_config(target).feeds
    assert [(f.name, f.url, f.language, f.tags) for f in feeds] == [
        ("METI", "https://www.meti.go.jp/ml_index_release_atom.xml", "ja", ("jp-gov",)),
        ("Wire & Co <EN>", "https://wire.example.com/feed?a=1&b=2", "en", ()),
    ]
    assert (
        (target / "feeds.yaml").read_text(encoding="utf-8").startswith("# my feeds")
    )  # comments kept
    again = run_bot("--config", str(target), "import-opml", str(opml))
    assert "0 feeds added, 2 already listed" in again.out


def test_a_feed_is_quiet_only_far_beyond_its_own_rhythm():
    # one definition for the admin report and the Slack app's `feeds`
    settings = AdminSettings(quiet_factor=10, quiet_min=7 * 86400)
    daily = [NOW - timedelta(days=30 - d) for d in range(20)]
    hourly = [NOW - timedelta(days=9, hours=h) for h in range(20)]

    def feed(days: float) -> FeedState:
        return FeedState(name="F", url="u", config_url="u", last_new=NOW - timedelta(days=days))

    assert quiet(feed(9), daily, settings, now=NOW) is None  # 10 daily gaps not yet
    found = quiet(feed(11), daily, settings, now=NOW)
    assert found is not None and found.usual_gap == timedelta(days=1)
    assert quiet(feed(6), hourly, settings, now=NOW) is None  # at least quiet_min
    assert quiet(feed(8), hourly, settings, now=NOW) is not None
    assert quiet(feed(30), daily[:2], settings, now=NOW) is None  # too little history


def test_admin_reports_failing_and_quiet_feeds_and_failing_delivery():
    settings = AdminSettings(channel="#ops")
    now = NOW
    failing = FeedState(
        name="Dead",
        url="u",
        config_url="u",
        consecutive_failures=30,
        last_success=now - timedelta(hours=30),
        last_error_kind="http",
        last_error_message="HTTP 503",
    )
    fresh_failure = FeedState(
        name="Blip",
        url="u",
        config_url="u",
        consecutive_failures=1,
        last_success=now - timedelta(hours=1),
    )
    quiet = FeedState(name="Quiet", url="u", config_url="u", last_new=now - timedelta(days=20))
    # answers 200 every poll, but with the same old entries
    stale = FeedState(
        name="Stale",
        url="u",
        config_url="u",
        last_new=now - timedelta(days=9),
        last_success=now - timedelta(minutes=30),
    )
    busy = [now - timedelta(hours=h) for h in range(0, 60, 6)]
    arrivals = {
        "Quiet": [now - timedelta(days=20, hours=h) for h in range(0, 60, 6)],
        "Stale": [now - timedelta(days=9, hours=h) for h in range(0, 60, 6)],
        "Busy": busy,
    }
    normal = FeedState(name="Busy", url="u", config_url="u", last_new=now - timedelta(hours=1))
    deliveries = {
        "jp": SubscriptionStatus(
            started_at=now - timedelta(days=3),
            last_delivered_at=None,
            last_digest=None,
            pending_digests=2,
            pending_articles=5,
            pending_messages=2,
            last_error=DeliveryFailure("not_in_channel", "invite the bot", now),
        )
    }
    problems = find_problems(
        [failing, fresh_failure, quiet, stale, normal], arrivals, deliveries, settings, now=now
    )
    keys = {p.key for p in problems}
    assert keys == {"failing:Dead", "quiet:Quiet", "quiet:Stale", "delivery:jp:not_in_channel"}
    texts = {p.key: p.text for p in problems}
    assert "is stale: it still answers" in texts["quiet:Stale"]
    assert "may have moved" in texts["quiet:Quiet"]
    assert usual_gap(busy) == timedelta(hours=6)
    assert usual_gap(busy[:3]) is None  # not enough history to judge


def test_missed_digest_rule():
    from zoneinfo import ZoneInfo

    from bot.runtime.schedule import missed

    tokyo = ZoneInfo("Asia/Tokyo")
    now = datetime(2026, 11, 24, 9, 20, tzinfo=tokyo)  # a Tuesday, 20 min after the digest
    hour = timedelta(hours=1)
    assert missed(
        "0 9 * * mon-fri", "Asia/Tokyo", now=now, last_delivered=None, grace=hour
    ) == datetime(2026, 11, 24, 9, 0, tzinfo=tokyo)
    # already sent at (or after) 09:00: nothing to catch up
    assert (
        missed(
            "0 9 * * mon-fri",
            "Asia/Tokyo",
            now=now,
            last_delivered=datetime(2026, 11, 24, 9, 0, 5, tzinfo=tokyo),
            grace=hour,
        )
        is None
    )
    # down for longer than the grace: the next scheduled digest carries everything
    assert (
        missed("0 9 * * mon-fri", "Asia/Tokyo", now=now + 2 * hour, last_delivered=None, grace=hour)
        is None
    )


def test_service_start_catches_up_a_digest_missed_while_down(make_config, tmp_path):
    import asyncio
    from zoneinfo import ZoneInfo

    from bot.runtime.service import Service
    from bot.storage.sqlite import SqliteStorage

    sub = {
        "name": "jp",
        "channel": "#jp-tech-policy",
        "schedule": "0 9 * * mon-fri",
        "timezone": "Asia/Tokyo",
    }
    config = load_config(make_config([], {"subscriptions": [sub]}))
    restarted = datetime(2026, 11, 24, 9, 20, tzinfo=ZoneInfo("Asia/Tokyo")).astimezone(UTC)

    def jobs() -> list[str]:
        service = Service(config, Settings(data_dir=tmp_path / "data"), clock=lambda: restarted)

        async def scheduled() -> list[str]:
            service.schedule()
            ids = [job.id for job in service.scheduler.get_jobs()]
            service.deliverer.close()
            service.storage.close()
            return ids

        return asyncio.run(scheduled())

    assert "catch-up:jp" in jobs()
    # once a digest was delivered after 09:00, a restart sends nothing extra
    store = SqliteStorage(tmp_path / "data")
    store.ensure_subscription("jp@terminal", start=restarted - timedelta(days=2))
    digest_id = store.create_digest(
        "jp@terminal", kind="digest", now=restarted, payloads=[{"terminal": "x"}], article_ids=[]
    )
    store.finish_digest(
        "jp@terminal", digest_id, now=restarted - timedelta(minutes=15), channel_id=None
    )
    store.close()
    assert "catch-up:jp" not in jobs()
