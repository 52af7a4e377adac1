"""Survive the real web (issue 8): one bad feed, page or message stays one bad input.

Every poll-path scenario here runs through the worker processes, as production does: more
feeds than PROCESS_POOL_MIN_FEEDS, or the service (which always parses in workers). The
same hostile inputs are also polled below the threshold, where parsing runs in a thread.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import pickle
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import brotli
import pytest

from bot import errors
from bot.config import load_config
from bot.ingest.poll import PROCESS_POOL_MIN_FEEDS, Poller
from bot.storage.sqlite import SqliteStorage
from tests import feeds
from tests.conftest import ROOT
from tests.procs import alive, children, free_port, http_get, start, wait_for
from tests.test_poll import Clock, poll

NOW = datetime.now(UTC).replace(microsecond=0)


def good_feed(name: str, n: int = 2) -> bytes:
    return feeds.rss(
        [
            feeds.item(
                f"{name} story {i}",
                f"https://good.example.com/{name}/{i}",
                guid=f"{name}-{i}",
                published=NOW - timedelta(minutes=10 + i),
                description=f"{name} body {i}",
            )
            for i in range(n)
        ]
    )


def almost_utf8() -> bytes:
    """A UTF-8 Japanese feed with one truncated character (as a real JPCERT capture had)."""
    body = feeds.rss(
        [
            feeds.item(
                f"政府、サイバー対策の指針を公表 {i}",
                f"https://u8.example.jp/{i}",
                guid=f"u8-{i}",
                published=NOW - timedelta(minutes=5 + i),
                description="内閣サイバーセキュリティセンターは指針を公表した。",
            )
            for i in range(3)
        ]
    )
    broken = "指針".encode()
    return body.replace(broken, broken[:-1], 1)  # cut the last byte of one character


def bad_references() -> bytes:
    """Numeric references XML forbids, as real CMSs write them, and a raw NUL."""
    return feeds.rss(
        [
            feeds.item(
                "Emoji as surrogates &#55357;&#56832; and &#xD800; &#x110000; &#0; done",
                "https://refs.example.com/1",
                guid="refs-1",
                published=NOW - timedelta(minutes=5),
            ),
            feeds.item(
                "Second entry\x00 with a NUL",
                "https://refs.example.com/2",
                guid="refs-2",
                published=NOW - timedelta(minutes=6),
            ),
        ]
    ).replace(b"&amp;#", b"&#")


def entity_bomb() -> bytes:
    """A 40 KB feed whose one internal entity, referenced 10,000 times, expands to 100
    million characters (the lenient parser expands it)."""
    head = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<!DOCTYPE rss [<!ENTITY a "{"a" * 10_000}">]>'
        '<rss version="2.0"><channel><title>bomb</title><item><title>'
    )
    tail = "</title><link>https://bomb.example.com/1</link><guid>b1</guid></item></channel></rss>"
    return (head + "&a;" * 10_000 + tail).encode()


def brotli_bomb(gigabytes: float = 1.0) -> bytes:
    compressor = brotli.Compressor(quality=11)
    chunk = bytes(1024 * 1024)
    parts = [compressor.process(chunk) for _ in range(int(gigabytes * 1024))]
    return b"".join(parts) + compressor.finish()


def gzip_gzip_bomb() -> bytes:
    return gzip.compress(gzip.compress(bytes(1024 * 1024 * 1024), 9), 9)


# -- errors cross process boundaries -------------------------------------------------------


def _every_error_class() -> list[type[errors.BotError]]:
    found, todo = [], [errors.BotError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


SAMPLE_ARGS: dict[str, tuple[object, ...]] = {
    "ConfigError": ("config/feeds.yaml", "feeds[0].url", "not a URL"),
    "RuleSyntaxError": ("config/keywords.yaml", "rules.default", "a AND (b", 8, "missing )"),
    "FeedError": ("https://u:p@x.example/feed", "broken", "not_a_feed"),
    "FetchError": ("https://x.example/feed", "HTTP 503", "unavailable"),
    "ParseError": ("https://x.example/feed", "not an RSS/Atom feed", "not_a_feed"),
    "StorageError": ("data/bot.sqlite3: the disk is full",),
    "DeliveryError": ("Slack #jp", "invalid_blocks", "refused", True),
    "DataDirBusy": ("another bot process is using data",),
    "CommandError": ("Unknown command `subscibe`. Try `help`.",),
    "NotAllowed": ("Only <@U0ADMIN> and workspace admins can add a feed.",),
}


def test_every_error_in_the_tree_pickles_with_all_its_fields():
    import bot.runtime.lock  # noqa: F401 - registers DataDirBusy in the tree

    classes = _every_error_class()
    assert {c.__name__ for c in classes} >= set(SAMPLE_ARGS) - {"DataDirBusy"}
    for cls in classes:
        if cls.__name__ not in SAMPLE_ARGS:
            assert cls is errors.BotError
            continue
        args = SAMPLE_ARGS[cls.__name__]
        error = cls(*args[:-1], permanent=args[-1]) if cls is errors.DeliveryError else cls(*args)
        if cls is errors.FetchError:
            error = errors.FetchError(*args, status=503, retry_after=120.0)
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is cls
        assert (
            copy.__dict__ == error.__dict__ and str(copy) == str(error) and copy.args == error.args
        )
    # a feed URL's credentials never show in the message
    assert "u:p@" not in str(errors.FeedError("https://u:p@x.example/feed", "broken"))


# -- the worker pool, end to end -------------------------------------------------------------


HOSTILE = {
    "html page": (
        "/page",
        b"<!DOCTYPE html><html><head><title>Moved</title></head><body>We moved</body></html>",
        "text/html; charset=utf-8",
        "not_a_feed",
    ),
    "empty body": ("/empty", b"", "application/rss+xml", "empty"),
    "invalid json": (
        "/bad.json",
        b'{"version": "https://jsonfeed.org/version/1", ',
        "application/feed+json",
        "not_a_feed",
    ),
    "json, not a feed": ("/other.json", b'{"hello": "world"}', "application/json", "not_a_feed"),
}


def _hostile_routes(feed_server) -> list[dict[str, object]]:
    routes = [
        {"name": name, "url": feed_server.route(path, body=body, content_type=ctype)}
        for name, (path, body, ctype, _) in HOSTILE.items()
    ]
    routes.append(
        {
            "name": "malformed",
            "url": feed_server.route("/malformed.xml", body=feeds.load("malformed.xml")),
        }
    )
    return routes


@pytest.mark.slow
def test_poll_above_the_pool_threshold_survives_every_bad_feed(feed_server, make_config, tmp_path):
    good = [
        {"name": f"good{i}", "url": feed_server.route(f"/good{i}.xml", body=good_feed(f"g{i}"))}
        for i in range(8)
    ]
    bad = [
        *_hostile_routes(feed_server),
        {"name": "entity bomb", "url": feed_server.route("/bomb.xml", body=entity_bomb())},
        {"name": "almost utf-8", "url": feed_server.route("/u8.xml", body=almost_utf8())},
        {"name": "bad references", "url": feed_server.route("/refs.xml", body=bad_references())},
        {"name": "endless", "url": feed_server.route("/endless.xml", stream_bytes=10**12)},
        {"name": "hangs", "url": feed_server.route("/hang.xml", body=good_feed("h"), delay=30)},
    ]
    assert len(good) + len(bad) >= PROCESS_POOL_MIN_FEEDS
    config = make_config(
        good + bad,
        # two workers whatever the machine: this test is about the worker pool
        {
            "fetch": {"deadline": "4s", "read_timeout": "3s", "max_body_mb": 2},
            "poll": {"parse_workers": 2},
        },
    )
    outcomes, articles, health = poll(config, tmp_path / "d")
    # every good feed is stored, whatever the others did
    assert {o.feed for o in outcomes.values() if o.status == "ok" and o.new == 2} >= {
        f["name"] for f in good
    }
    titles = {a.article.title for a in articles}
    assert all(f"g{i} story {j}" in titles for i in range(8) for j in range(2))
    kinds = {
        name: outcomes[name].error_kind for name in outcomes if outcomes[name].status == "error"
    }
    for name, (_, _, _, kind) in HOSTILE.items():
        assert kinds[name] == kind, (name, outcomes[name])
    assert kinds["endless"] == "too_large" and kinds["hangs"] == "timeout"
    # the malformed feed is read by the lenient parser, with a warning
    malformed = outcomes["malformed"]
    assert malformed.status == "ok" and malformed.new + malformed.backlog == 2
    assert any("not well-formed" in w for w in malformed.warnings)
    # the bomb never becomes a 100-million-character title
    assert outcomes["entity bomb"].status == "ok"
    assert all(len(a.article.title) <= 1000 for a in articles)
    # one truncated character costs one character, not the feed: the rest reads right
    u8 = outcomes["almost utf-8"]
    assert u8.new == 3 and any("U+FFFD" in w for w in u8.warnings)
    assert {f"政府、サイバー対策の指針を公表 {i}" for i in (1, 2)} <= titles
    assert "政府、サイバー対策の指\ufffdを公表 0" in titles
    # references XML forbids do not fail the feed; the surrogate pair is the emoji it means
    assert outcomes["bad references"].new == 2
    assert "Emoji as surrogates 😀" in " ".join(titles)
    assert not any("\x00" in t for t in titles) and "Second entry with a NUL" in titles
    # nothing was the bot's fault
    assert not [o for o in outcomes.values() if o.error_kind in errors.BUG_KINDS]
    # and the failures are recorded per feed, each with its kind
    assert health["html page"].last_error_kind == "not_a_feed"
    assert "HTML page" in (health["html page"].last_error_message or "")


def test_poll_below_the_pool_threshold_survives_the_same_bad_feeds(
    feed_server, make_config, tmp_path
):
    routes = _hostile_routes(feed_server)[:3]
    routes.append({"name": "good", "url": feed_server.route("/good.xml", body=good_feed("g"))})
    assert len(routes) < PROCESS_POOL_MIN_FEEDS
    outcomes, articles, _ = poll(make_config(routes), tmp_path / "d")
    assert outcomes["good"].new == 2 and len(articles) == 2
    for route in routes[:3]:
        name = str(route["name"])
        assert outcomes[name].error_kind == HOSTILE[name][3]


def _poller(config_dir: Path, data_dir: Path, clock: Clock) -> tuple[Poller, SqliteStorage]:
    store = SqliteStorage(data_dir)
    return Poller(load_config(config_dir), store, clock=clock, keep_workers=True), store


def big_feed(items: int, tag: str) -> bytes:
    return feeds.rss(
        [
            feeds.item(
                f"{tag} 政府、半導体の支援策を決定 {i}",
                f"https://big.example.com/{tag}/{i}",
                guid=f"{tag}-{i}",
                published=NOW - timedelta(minutes=i),
                description="経済産業省は半導体の量産に向けた支援を決めた。" * 8,
            )
            for i in range(items)
        ]
    )


@pytest.mark.slow
def test_a_worker_killed_mid_parse_fails_only_its_feed_and_the_pool_heals(
    feed_server, make_config, tmp_path
):
    big = feed_server.route("/big.xml", body=big_feed(15000, "big"))
    small = [
        {"name": f"s{i}", "url": feed_server.route(f"/s{i}.xml", body=good_feed(f"s{i}"))}
        for i in range(3)
    ]
    config = make_config(
        [{"name": "big", "url": big}, *small],
        {"poll": {"parse_workers": 2}, "fetch": {"max_body_mb": 50}},
    )
    clock = Clock()
    poller, store = _poller(config, tmp_path / "d", clock)

    async def scenario() -> list:
        task = asyncio.create_task(poller.poll())
        # wait for the small feeds, then kill whichever worker is busy (the big feed's)
        pool = None
        for _ in range(200):
            await asyncio.sleep(0.05)
            pool = poller._pool
            if pool and pool.worker_pids() and store.count_articles() >= 6:
                break
        assert pool is not None
        # the busy worker is the one whose CPU time grows
        before = {pid: _cpu_time(pid) for pid in pool.worker_pids()}
        await asyncio.sleep(0.3)
        busy = max(before, key=lambda pid: _cpu_time(pid) - before[pid])
        os.kill(busy, signal.SIGKILL)
        return await task

    try:
        outcomes = {o.feed: o for o in asyncio.run(scenario())}
        assert outcomes["big"].error_kind == "worker_died"
        assert "died" in (outcomes["big"].error_message or "")
        assert all(outcomes[f"s{i}"].new == 2 for i in range(3))
        # the next cycle works: the feed that lost its worker is parsed and stored
        clock.advance(hours=1)
        outcomes = {o.feed: o for o in asyncio.run(poller.poll(force=True))}
        big_outcome = outcomes["big"]
        assert big_outcome.status == "ok" and big_outcome.new + big_outcome.backlog == 15000
    finally:
        poller.close()
        store.close()


def _cpu_time(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().split(")")[-1].split()
    return int(fields[11]) + int(fields[12])


@pytest.mark.slow
def test_watchdog_stops_a_feed_that_parses_too_long(feed_server, make_config, tmp_path):
    big = feed_server.route("/big.xml", body=big_feed(8000, "slow"))
    small = [
        {"name": f"s{i}", "url": feed_server.route(f"/s{i}.xml", body=good_feed(f"s{i}"))}
        for i in range(8)
    ]
    config = make_config(
        [{"name": "big", "url": big}, *small],
        {"poll": {"parse_timeout": "1s", "parse_workers": 2}, "fetch": {"max_body_mb": 50}},
    )
    outcomes, articles, health = poll(config, tmp_path / "d")
    assert outcomes["big"].error_kind == "parse_timeout"
    assert "1s" in (outcomes["big"].error_message or "")
    assert health["big"].last_error_kind == "parse_timeout"
    assert all(outcomes[f"s{i}"].new == 2 for i in range(8)) and len(articles) == 16


@pytest.mark.slow
def test_killing_a_poll_leaves_no_worker_behind(feed_server, make_config, tmp_path):
    feeds_list = [
        {"name": f"f{i}", "url": feed_server.route(f"/f{i}.xml", body=big_feed(3000, f"f{i}"))}
        for i in range(10)
    ]
    config = make_config(feeds_list, {"fetch": {"max_body_mb": 50}})
    log = tmp_path / "poll.log"
    proc = start(
        ["--config", str(config), "--data-dir", str(tmp_path / "d"), "poll", "--once"], {}, log
    )
    try:
        wait_for(lambda: len(children(proc.pid)) >= 2, 30, "the worker processes")
        workers = children(proc.pid)
    finally:
        proc.kill()
        proc.wait(10)
    # the workers and the resource tracker notice their parent is gone and exit
    wait_for(lambda: not any(alive(pid) for pid in workers), 15, "the workers to exit")


# -- the service over several cycles -------------------------------------------------------


def _stored_titles(data_dir: Path) -> set[str]:
    store = SqliteStorage(data_dir)
    try:
        return {a.article.title for a in store.articles()}
    finally:
        store.close()


@pytest.mark.slow
def test_service_keeps_storing_beside_an_html_page_over_many_cycles(
    feed_server, make_config, tmp_path
):
    """The reported scenario: 12 good feeds polled every few seconds beside one that
    answers an HTML page; each good feed then publishes a new item."""
    good = [
        {
            "name": f"good{i}",
            "url": feed_server.route(f"/g{i}.xml", body=good_feed(f"g{i}", 1)),
            "interval": "2s",
        }
        for i in range(12)
    ]
    page = {
        "name": "page",
        "url": feed_server.route("/page", body=HOSTILE["html page"][1], content_type="text/html"),
        "interval": "2s",
    }
    # the page is retried every cycle (no backoff), so it reaches the workers every time
    config = make_config([*good, page], {"poll": {"backoff_base": "1s", "backoff_max": "1s"}})
    data = tmp_path / "data"
    port = free_port()
    log = tmp_path / "service.log"
    proc = start(
        ["--config", str(config), "--data-dir", str(data), "run", "--health-port", str(port)],
        {},
        log,
    )
    try:
        wait_for(lambda: len(_stored_titles(data)) >= 12 if data.exists() else False, 60, "cycle 1")
        for round_ in (2, 3):
            for i in range(12):
                feed_server.route(f"/g{i}.xml", body=good_feed(f"g{i}", round_))
            expected = {f"g{i} story {j}" for i in range(12) for j in range(round_)}
            wait_for(lambda e=expected: e <= _stored_titles(data), 60, f"round {round_}")
        status, body = http_get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200, body
        assert json.loads(body)["storing"] is True
        # the HTML page was polled every cycle and failed as itself, never as a bug
        assert len(feed_server.requests_to("/page")) >= 3
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    text = log.read_text()
    assert "internal error" not in text and "Traceback" not in text
    assert "BrokenProcessPool" not in text


# -- fetching ---------------------------------------------------------------------------


def test_decompression_bombs_stop_at_the_size_cap(feed_server, make_config, tmp_path):
    br = feed_server.route("/br.xml", body=brotli_bomb(), headers={"content-encoding": "br"})
    gg = feed_server.route(
        "/gg.xml", body=gzip_gzip_bomb(), headers={"content-encoding": "gzip, gzip"}
    )
    ok = feed_server.route(
        "/ok.xml", body=brotli.compress(good_feed("ok")), headers={"content-encoding": "br"}
    )
    config = make_config(
        [{"name": "br", "url": br}, {"name": "gg", "url": gg}, {"name": "ok", "url": ok}],
        {"fetch": {"max_body_mb": 1}},
    )
    outcomes, articles, _ = poll(config, tmp_path / "d")
    assert outcomes["br"].error_kind == "too_large" and outcomes["gg"].error_kind == "too_large"
    assert outcomes["ok"].new == 2 and len(articles) == 2


BOMB_SCRIPT = """
import asyncio, resource, sys
from bot.config import FetchSettings
from bot.errors import FetchError
from bot.ingest.fetch import Fetcher

async def main() -> None:
    async with Fetcher(FetchSettings(max_body_mb=10)) as fetcher:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for url in sys.argv[1:]:
            try:
                await fetcher.fetch(url)
            except FetchError as e:
                print(e.kind)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) // 1024)

asyncio.run(main())
"""


@pytest.mark.slow
def test_a_bomb_stays_within_a_few_tens_of_megabytes(feed_server, tmp_path):
    br = feed_server.route("/br.xml", body=brotli_bomb(), headers={"content-encoding": "br"})
    gg = feed_server.route(
        "/gg.xml", body=gzip_gzip_bomb(), headers={"content-encoding": "gzip, gzip"}
    )
    result = subprocess.run(
        [sys.executable, "-c", BOMB_SCRIPT, br, gg],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    *kinds, grown_mb = result.stdout.split()
    assert kinds == ["too_large", "too_large"]
    # the 10 MB body cap plus one decoding step, not a gigabyte
    assert int(grown_mb) < 40, f"peak memory grew by {grown_mb} MB"


def test_a_redirect_to_javascript_is_the_servers_fault_not_a_bug(
    feed_server, make_config, tmp_path, caplog
):
    url = feed_server.route("/js.xml", status=302, location="javascript:alert(1)")
    outcomes, _, _ = poll(make_config([{"name": "js", "url": url}]), tmp_path / "d")
    assert outcomes["js"].error_kind == "redirect"
    assert "Traceback" not in caplog.text and "internal" not in caplog.text


def test_credentials_in_a_feed_url_are_never_shown(feed_server, make_config, tmp_path, run_bot):
    target = feed_server.route("/new.xml", body=good_feed("c"))
    moved = feed_server.route(
        "/old.xml", status=301, location=target.replace("http://", "http://reader:s3cret@")
    )
    config = make_config(
        [{"name": "private", "url": moved.replace("http://", "http://reader:s3cret@")}]
    )
    args = ("--config", str(config), "--data-dir", str(tmp_path / "d"))
    polled = run_bot(*args, "poll", "--once")
    assert polled.code == 0, polled.err
    assert "moved permanently" in polled.out
    shown = run_bot(*args, "feeds").out + run_bot(*args, "feeds", "--json").out
    store = SqliteStorage(tmp_path / "d")
    warnings = store.feed_warnings("private")
    state = store.all_feeds()[0]
    store.close()
    for text in (polled.out, polled.err, shown, json.dumps(warnings)):
        assert "s3cret" not in text
    # the stored URL keeps them: the feed still has to be fetched with them
    assert "reader:s3cret@" in state.url


def test_timeout_message_says_which_limit(feed_server, make_config, tmp_path):
    url = feed_server.route("/hang.xml", body=good_feed("h"), delay=2)
    config = make_config([{"name": "hang", "url": url}], {"fetch": {"read_timeout": "0.5s"}})
    outcomes, _, _ = poll(config, tmp_path / "d")
    message = outcomes["hang"].error_message or ""
    assert message == "timed out waiting for data (no answer within 0.5s)"


# -- identity --------------------------------------------------------------------------------


def test_undated_entries_with_per_request_tokens_are_not_new_again(
    feed_server, make_config, tmp_path
):
    def tokened() -> bytes:
        items = []
        for i in range(3):
            token = "".join(random.choices("abcdef0123456789", k=32))
            link = f"https://tok.example.com/news/{i}?id={i}&s={token}"
            items.append(feeds.item(f"Undated story {i}", link, guid=link))
        return feeds.rss(items)

    url = feed_server.route("/tok.xml", body=tokened())
    config = make_config([{"name": "tok", "url": url}])
    clock = Clock()
    outcomes, articles, _ = poll(config, tmp_path / "d", clock)
    assert outcomes["tok"].backlog == 3  # undated on the first poll: backlog
    for _ in range(3):
        feed_server.route("/tok.xml", body=tokened())
        clock.advance(hours=1)
        outcomes, articles, _ = poll(config, tmp_path / "d", clock)
        assert outcomes["tok"].new == 0 and len(articles) == 3
    # a genuinely new undated story still is new
    feed_server.route(
        "/tok.xml",
        body=feeds.rss([feeds.item("Another story", "https://tok.example.com/news/9?id=9")]),
    )
    clock.advance(hours=1)
    outcomes, _, _ = poll(config, tmp_path / "d", clock)
    assert outcomes["tok"].new == 1
