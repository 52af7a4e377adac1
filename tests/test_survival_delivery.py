"""Survive the real web (issue 8), delivery and operations side: a message Slack refuses,
two processes on one data directory, a full disk, a damaged database, secrets in logs,
a shutdown during a rate limit, hostile text on a terminal."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import AdminSettings
from bot.digest.blocks import alert_digest
from bot.digest.stories import DigestItem
from bot.runtime.admin import find_problems
from bot.runtime.logs import register_secrets, scrub
from bot.runtime.service import CycleRecord, ingestion_healthy
from bot.storage.sqlite import DB_FILE, SqliteStorage
from tests import feeds
from tests.conftest import ROOT
from tests.fakeslack import Failure
from tests.procs import free_port, http_get, start, wait_for
from tests.stories import distinct_titles, feed_of
from tests.test_deliver import SUB, setup, slack_env
from tests.test_poll import poll

NOW = datetime.now(UTC).replace(microsecond=0)


def outbox(run_bot, args) -> list[dict]:
    result = run_bot(*args, "outbox", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


# -- a digest Slack refuses ------------------------------------------------------------------


def test_a_refused_digest_is_parked_and_its_articles_go_into_the_next(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    titles = distinct_titles(4)
    config, args = setup(feed_server, make_config, tmp_path, titles[:2])
    env = slack_env(fake_slack)
    fake_slack.fail_next(Failure(error="invalid_blocks"))
    first = run_bot(*args, "digest", env=env)
    assert first.code == 1 and "invalid_blocks" in first.err
    [pending] = outbox(run_bot, args)
    assert pending["status"] == "pending" and pending["failures"] == 1
    # refused again on the next run: parked, and its two articles go into a new digest
    # together with the article that arrived meanwhile; nothing waits behind it
    feed_server.route("/f.xml", body=feed_of(titles[:3], NOW))
    poll(config, tmp_path / "data", force=True)
    fake_slack.fail_next(Failure(error="invalid_blocks"))
    second = run_bot(*args, "digest", env=env)
    assert second.code == 1 and "parked" in second.err
    # the two released articles go out alone (one of them might be what Slack refuses),
    # the new one in the regular digest
    messages = [json.dumps(m["blocks"], ensure_ascii=False) for m in fake_slack.posted()]
    assert len(messages) == 3
    assert sorted(sum(t in m for t in titles[:3]) for m in messages) == [1, 1, 1]
    [parked] = outbox(run_bot, args)
    assert parked["status"] == "parked" and parked["failures"] == 2 and parked["articles"] == 0
    # the admin hears of it, with what to do
    problems = find_problems(
        [], {}, {}, AdminSettings(), now=NOW, parked=SqliteStorage(tmp_path / "data").outbox()
    )
    assert any("outbox retry" in p.text and "invalid_blocks" in p.text for p in problems)
    # nothing is left to re-render; dropping it clears it from the list of problems
    retry = run_bot(*args, "outbox", "retry", str(parked["id"]))
    assert retry.code == 1 and "went out in later digests" in retry.err
    assert run_bot(*args, "outbox", "drop", str(parked["id"])).code == 0
    assert outbox(run_bot, args)[0]["status"] == "dropped"


def test_an_article_slack_never_takes_cannot_block_its_subscription(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    titles = distinct_titles(3)
    config, args = setup(feed_server, make_config, tmp_path, titles[:2])
    env = slack_env(fake_slack)
    fake_slack.refuse_containing = titles[0]
    # refused twice: parked, both articles released, each to go out alone; the one Slack
    # never takes is refused alone twice, parked, and stays there
    for _ in range(4):
        run_bot(*args, "digest", env=env)
    delivered = json.dumps([m["blocks"] for m in fake_slack.posted()], ensure_ascii=False)
    assert titles[1] in delivered and titles[0] not in delivered
    parked = [d for d in outbox(run_bot, args) if d["status"] == "parked"]
    assert [d["articles"] for d in parked] == [0, 1]
    assert not [d for d in outbox(run_bot, args) if d["status"] == "pending"]
    # it blocks nothing: the next article goes out in the next digest
    feed_server.route("/f.xml", body=feed_of(titles, NOW))
    poll(config, tmp_path / "data", force=True)
    result = run_bot(*args, "digest", env=env)
    assert result.code == 0, result.err
    text = json.dumps(fake_slack.posted()[-1]["blocks"], ensure_ascii=False)
    assert titles[2] in text and titles[0] not in text
    # once Slack takes it (the cause fixed), the digest is re-rendered and delivered
    fake_slack.refuse_containing = None
    assert run_bot(*args, "outbox", "retry", str(parked[-1]["id"])).code == 0
    assert run_bot(*args, "digest", env=env).code == 0
    assert titles[0] in json.dumps(fake_slack.posted()[-1]["blocks"], ensure_ascii=False)


def test_crash_recovery_finds_a_message_beyond_the_first_page_of_history(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    config, args = setup(feed_server, make_config, tmp_path, distinct_titles(2))
    assert run_bot(*args, "digest", env=slack_env(fake_slack)).code == 0  # learns the channel
    feed_server.route("/f.xml", body=feed_of(distinct_titles(4)[2:], NOW, prefix="t"))
    poll(config, tmp_path / "data", force=True)
    fake_slack.hold = hold = threading.Event()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", *args, "digest"],
        cwd=ROOT,
        env={**os.environ, **slack_env(fake_slack)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert fake_slack.held.wait(60)
    proc.kill()
    proc.wait(30)
    hold.set()
    fake_slack.hold = None
    # a busy channel: 450 messages from people since, more than two pages of history
    fake_slack.add_chatter("C0TECH01", 450)
    assert run_bot(*args, "digest", env=slack_env(fake_slack)).code == 0
    assert len(fake_slack.posted()) == 2
    cursors = [c[1].get("cursor") for c in fake_slack.calls if c[0].endswith("history")]
    assert len(cursors) >= 3  # it paged


# -- one process per data directory ----------------------------------------------------------


def test_a_second_digest_on_the_same_data_directory_is_refused(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    _, args = setup(feed_server, make_config, tmp_path, distinct_titles(2))
    fake_slack.hold = hold = threading.Event()  # Slack answers slowly
    first = subprocess.Popen(
        [sys.executable, "-m", "bot", *args, "digest"],
        cwd=ROOT,
        env={**os.environ, **slack_env(fake_slack)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake_slack.held.wait(60)
        second = run_bot(*args, "digest", env=slack_env(fake_slack))
        assert second.code == 1
        assert f"pid {first.pid}, 'digest'" in second.err and "another bot process" in second.err
        for command in (("poll", "--once"), ("run", "--once")):
            assert run_bot(*args, *command).code == 1
        # read-only commands still work beside it
        assert run_bot(*args, "status").code == 0
    finally:
        hold.set()
        fake_slack.hold = None
        first.communicate(timeout=60)
    assert first.returncode == 0
    assert len(fake_slack.posted()) == 1
    # the lock dies with its process
    assert run_bot(*args, "digest", env=slack_env(fake_slack)).code == 0


# -- a full disk and a damaged file ----------------------------------------------------------


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not death by signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_is_one_clear_error_and_loses_nothing(feed_server, make_config, tmp_path):
    url = feed_server.route("/f.xml", body=feed_of(distinct_titles(2), NOW))
    config = make_config([{"name": "Wire", "url": url}])
    data = tmp_path / "data"
    poll(config, data)
    size = (data / DB_FILE).stat().st_size
    feed_server.route("/f.xml", body=feed_of(distinct_titles(100), NOW, prefix="n"))
    command = [sys.executable, "-m", "bot", "--config", str(config), "--data-dir", str(data)]
    full = subprocess.run(
        [*command, "poll", "--once", "--force"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_file_size(size + 4096),
    )
    assert full.returncode == 1
    assert "ERROR storage" in full.stdout and "disk" in full.stdout
    assert "Traceback" not in full.stderr
    assert full.stderr.count("polling stores nothing") == 1
    # space freed: the next poll stores everything, nothing was lost
    again = subprocess.run(
        [*command, "poll", "--once", "--force"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert "new 98" in again.stdout


@pytest.mark.slow
def test_healthz_fails_while_the_database_cannot_be_written(feed_server, make_config, tmp_path):
    url = feed_server.route("/f.xml", body=feed_of(distinct_titles(2), NOW))
    config = make_config([{"name": "Wire", "url": url, "interval": "2s"}])
    data = tmp_path / "data"
    poll(config, data)
    size = (data / DB_FILE).stat().st_size
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "SLACK_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "--data-dir", str(data), "run",
         "--health-port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_limit_file_size(size + 2048),
    )  # fmt: skip
    try:
        feed_server.route("/f.xml", body=feed_of(distinct_titles(100), NOW, prefix="n"))

        def unhealthy() -> bool:
            try:
                status, body = http_get(f"http://127.0.0.1:{port}/healthz")
            except OSError:
                return False
            return status == 503 and json.loads(body)["storage_writable"] is False

        wait_for(unhealthy, 60, "/healthz to report the database")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_a_damaged_database_gives_a_clear_message(feed_server, make_config, tmp_path, run_bot):
    url = feed_server.route("/f.xml", body=feed_of(distinct_titles(40), NOW))
    config = make_config([{"name": "Wire", "url": url}])
    data = tmp_path / "data"
    poll(config, data)
    path = data / DB_FILE
    raw = bytearray(path.read_bytes())
    page = 4096
    for offset in range(2 * page, len(raw) - page, page):  # every page but the header's
        raw[offset + 16 : offset + 400] = os.urandom(384)
    path.write_bytes(bytes(raw))
    result = run_bot("--config", str(config), "--data-dir", str(data), "articles")
    assert result.code == 1
    assert "damaged" in result.err and ".recover" in result.err
    assert "Traceback" not in result.err


# -- secrets -------------------------------------------------------------------------------


def test_secrets_never_reach_the_log(feed_server, make_config, tmp_path, run_bot, fake_slack):
    hook = fake_slack.webhook_url()
    titles = distinct_titles(2)
    url = feed_server.route("/f.xml", body=feed_of(titles, NOW))
    token = "xoxb-renamed-variable-token"
    fake_slack.tokens.add(token)
    config = make_config(
        [{"name": "Wire", "url": url}],
        {
            "slack": {"token_env": "OUR_TOKEN", "server_error_retries": 2},
            "subscriptions": [
                {"name": "hook", "webhook_env": "OUR_HOOK", "schedule": "0 9 * * *"},
                {"name": "bot", "channel": "#jp-tech-policy", "schedule": "0 9 * * *"},
            ],
        },
    )
    args = ("--config", str(config), "--data-dir", str(tmp_path / "data"))
    poll(config, tmp_path / "data")
    fake_slack.fail_next(Failure(status=500, error="fatal_error"))
    env = {"OUR_HOOK": hook, "OUR_TOKEN": token, "SLACK_API_URL": fake_slack.api_url}
    result = run_bot(*args, "--log-level", "debug", "digest", env=env)
    assert result.code == 0, result.err
    assert len(fake_slack.webhook_messages["/hooks/T000/B000/good"]) == 1
    assert "/hooks/T000/B000/good" not in result.err + result.out
    assert token not in result.err + result.out


@pytest.mark.parametrize(
    ("token", "problem"),
    [("xoxb-abc\nxyz-continued", "line break"), ("xoxb-tökén-abcdef", "not plain ASCII")],
)
def test_a_broken_token_fails_its_subscription_only(
    feed_server, make_config, tmp_path, run_bot, fake_slack, token, problem
):
    titles = distinct_titles(2)
    _, args = setup(
        feed_server,
        make_config,
        tmp_path,
        titles,
        subs=[SUB, {"name": "hook", "webhook_env": "HOOK", "schedule": "0 9 * * *"}],
    )
    env = {"SLACK_BOT_TOKEN": token, "SLACK_API_URL": fake_slack.api_url}
    result = run_bot(*args, "digest", env={**env, "HOOK": fake_slack.webhook_url()})
    assert result.code == 1
    assert problem in result.err and "SLACK_BOT_TOKEN" in result.err
    assert len(fake_slack.webhook_messages["/hooks/T000/B000/good"]) == 1  # the other went out
    for part in token.split("\n"):
        assert part not in result.err + result.out
    assert "Traceback" not in result.err


def test_scrub_knows_govslack_and_proxied_webhooks(monkeypatch):
    assert "T1/B2" not in scrub("posting to https://hooks.slack-gov.com/services/T1/B2/xyzabc")
    monkeypatch.setenv("CUSTOM_HOOK", "https://proxy.internal.example/relay/abcdef123456")
    register_secrets("CUSTOM_HOOK")
    assert "abcdef123456" not in scrub("retrying https://proxy.internal.example/relay/abcdef123456")
    assert "pw" not in scrub("GET https://user:pw@feeds.example.com/x")


# -- shutdown during a rate limit -----------------------------------------------------------


@pytest.mark.slow
def test_sigterm_during_a_rate_limit_wait_stops_at_once(
    feed_server, make_config, tmp_path, fake_slack
):
    url = feed_server.route("/f.xml", body=feed_of(distinct_titles(2), NOW))
    sub = {**SUB, "schedule": "*/2 * * * * *"}
    config = make_config(
        [{"name": "Wire", "url": url, "interval": "60s"}], {"subscriptions": [sub]}
    )
    fake_slack.fail_next(*[Failure(status=429, headers={"retry-after": "15"}) for _ in range(20)])
    log = tmp_path / "service.log"
    proc = start(
        ["--config", str(config), "--data-dir", str(tmp_path / "data"), "run"],
        slack_env(fake_slack),
        log,
    )
    try:
        wait_for(lambda: any("postMessage" in c[0] for c in fake_slack.calls), 60, "a 429")
        time.sleep(1)  # now inside the 15 s Retry-After wait
        asked = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert time.monotonic() - asked < 10
    finally:
        if proc.poll() is None:
            proc.kill()
    store = SqliteStorage(tmp_path / "data")
    pending = [d for d in store.outbox() if d.status == "pending"]
    store.close()
    assert len(pending) == 1  # not lost: it goes out on the next run


# -- hostile text ----------------------------------------------------------------------------


HOSTILE_TITLE = "政府、AI\x1b[2J\x1b]0;pwned\x07法案を\u202e決定\u200b ok"


def test_terminal_and_slack_never_see_control_or_bidi_characters(
    feed_server, make_config, tmp_path, run_bot, fake_slack
):
    body = feeds.rss(
        [
            feeds.item(
                HOSTILE_TITLE,
                "https://news.example.jp/h/1",
                guid="h1",
                published=NOW - timedelta(minutes=5),
                description="経済産業省は\x1b]52;c;ZXZpbA==\x07半導体の支援を決めた。",
            )
        ]
    )
    url = feed_server.route("/h.xml", body=body)
    config = make_config(
        [{"name": "Wire", "url": url}],
        {"subscriptions": [SUB, {**SUB, "name": "term", "webhook_env": "UNSET", "channel": None}]},
    )
    poll(config, tmp_path / "data")
    args = ("--config", str(config), "--data-dir", str(tmp_path / "data"))
    printed = run_bot(*args, "digest", "--subscription", "term")
    listed = run_bot(*args, "articles")
    for output in (printed.out, listed.out):
        assert "法案を" in output
        assert not any(ch in output for ch in "\x1b\x07\u202e\u200b")
    assert run_bot(*args, "digest", "--subscription", "jp", env=slack_env(fake_slack)).code == 0
    sent = json.dumps(fake_slack.posted(), ensure_ascii=True)
    assert "\\u001b" not in sent and "\\u202e" not in sent and "\\u200b" not in sent


def test_alert_notification_text_has_no_formatting():
    item = DigestItem(
        1, "*Breaking* _AI_ ~law~ `code` <!channel>", "https://x.example/1", "", "Wire", NOW, 95,
        ("ai",),
    )  # fmt: skip
    text = alert_digest(item, subscription="s", title="T", now=NOW, timezone="UTC").messages[0].text
    assert not any(ch in text for ch in "*_~`<>")
    assert "＊Breaking＊" in text and "&lt;!channel&gt;" in text


# -- the pure parts -------------------------------------------------------------------------


def test_health_fails_when_polls_store_nothing_because_of_bugs():
    window = timedelta(minutes=30)
    broken = frozenset({"a", "b", "c"})
    cycles = [CycleRecord(NOW - timedelta(minutes=m), parsed=0, broken=broken) for m in (1, 6, 11)]
    assert not ingestion_healthy(cycles, now=NOW, window=window)
    # one buggy feed among working ones is that feed's problem
    one = [CycleRecord(NOW, parsed=11, broken=frozenset({"a"})) for _ in range(3)]
    assert ingestion_healthy(one, now=NOW, window=window)
    # old failures age out
    assert ingestion_healthy(cycles, now=NOW + timedelta(hours=2), window=window)


def test_opml_with_control_characters_imports_into_a_valid_file(tmp_path, make_config, run_bot):
    config = make_config([{"name": "Existing", "url": "https://a.example/feed"}])
    before = (config / "feeds.yaml").read_text()
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        '<outline text="News\u0085 \u009b2Jwire" xmlUrl="https://b.example/rss"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    result = run_bot("--config", str(config), "import-opml", str(opml))
    assert result.code == 0, result.err
    assert run_bot("--config", str(config), "check-config").code == 0
    assert "News 2Jwire" in (config / "feeds.yaml").read_text()
    # a file that would not validate is never written
    bad = tmp_path / "bad.opml"
    bad.write_text(
        '<opml version="2.0"><body><outline text="x" xmlUrl="ftp://c.example/rss"/></body></opml>'
    )
    refused = run_bot("--config", str(config), "import-opml", str(bad))
    assert refused.code == 2
    assert (config / "feeds.yaml").read_text().startswith(before.rstrip("\n"))
    assert "ftp://" not in (config / "feeds.yaml").read_text()
