"""Three ``run`` replicas on one PostgreSQL (a real server, tests/pgtest.py), a fake Slack and
the local feed server: feeds change while they run, and the replica caught sending a
digest is SIGKILLed in the middle of a message. Every flagged article must be posted
exactly once, every feed fetched once per interval between the replicas, nothing lost."""

from __future__ import annotations

import itertools
import json
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.procs import free_port, http_get, start, wait_for
from tests.stories import distinct_titles, feed_of

pytestmark = pytest.mark.slow

TOKEN = "xoxb-test-token"
INTERVAL = 4.0
FEEDS = ("a", "b", "c")


def posted_text(fake_slack) -> str:
    return "\n".join(
        json.dumps(m["blocks"], ensure_ascii=False) + (m["text"] or "") for m in fake_slack.posted()
    )


def times_posted(fake_slack, title: str, channel: str = "C0TECH01") -> int:
    """In how many messages of ``channel`` a title appears (a story is in one message of
    one digest; an alert is one message)."""
    return sum(
        title in json.dumps(m["blocks"], ensure_ascii=False) for m in fake_slack.posted(channel)
    )


def deliver_claim_owner(pg_url: str, subscription: str) -> int | None:
    """The pid of the replica holding a subscription's delivery claim now."""
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT owner FROM leases WHERE name = %s AND expires_at > now()",
            (f"deliver:{subscription}",),
        ).fetchone()
    return int(str(row[0]).rsplit(":", 1)[1]) if row else None


def test_three_replicas_post_every_story_once_and_fetch_each_feed_once_per_interval(
    tmp_path: Path, pg_url: str, feed_server, fake_slack, make_config
):
    now = datetime.now(UTC).replace(microsecond=0)
    titles = distinct_titles(36, seed=11)
    batches = [titles[0:9], titles[9:21], titles[21:36]]  # three rounds, three feeds each

    def serve(rounds: int) -> None:
        shown = [t for batch in batches[:rounds] for t in batch]
        for index, name in enumerate(FEEDS):
            mine = shown[index::3]
            feed_server.route(f"/{name}.xml", body=feed_of(mine, now, prefix=name))

    serve(1)
    config = make_config(
        [
            {"name": f"Feed {n}", "url": feed_server.url(f"/{n}.xml"), "interval": f"{INTERVAL:g}s"}
            for n in FEEDS
        ],
        {
            "subscriptions": [
                {
                    "name": "live",
                    "channel": "#jp-tech-policy",
                    "schedule": "*/6 * * * * *",
                },
                # every story as an alert at once: alerts go out once across replicas too
                {
                    "name": "urgent",
                    "channel": "#alerts",
                    "schedule": "0 0 1 1 *",
                    "alert_score": 1,
                },
            ],
            "replicas": {"claim_ttl": "3s"},
            "fetch": {"deadline": "5s", "connect_timeout": "2s", "read_timeout": "2s"},
            "poll": {"parse_timeout": "5s", "parse_workers": 1},
            "slack": {"timeout": 5},
        },
    )
    fake_slack.tokens.add(TOKEN)
    env = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": fake_slack.api_url,
        "BOT_DATABASE_URL": pg_url,
    }
    replicas = {}
    for n in range(3):
        port = free_port()
        args = [
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / f"data{n}"),
            "run",
            "--health-port",
            str(port),
        ]
        proc = start(args, env, tmp_path / f"replica{n}.log")
        replicas[proc.pid] = (proc, port)
    started = time.monotonic()
    try:
        wait_for(
            lambda: all(times_posted(fake_slack, t) for t in batches[0]), 90, "the first digest"
        )

        # A replica is caught in the middle of a message: Slack has it, the replica never
        # learns its ts. It is killed there; another replica must finish the digest
        # without posting that message again.
        fake_slack.hold = hold = threading.Event()
        fake_slack.held.clear()
        serve(2)
        wait_for(fake_slack.held.is_set, 60, "a digest message in flight")
        # the message held is the last one Slack recorded: a digest's or an alert's
        held = fake_slack.messages[-1]["channel"]
        victim = deliver_claim_owner(pg_url, "urgent" if held == "C0ALERT1" else "live")
        assert victim in replicas, "the replica holding the delivery claim"
        replicas[victim][0].send_signal(signal.SIGKILL)
        replicas[victim][0].wait(10)
        fake_slack.hold = None
        hold.set()
        survivors = {pid: v for pid, v in replicas.items() if pid != victim}

        wait_for(
            lambda: all(times_posted(fake_slack, t) for t in batches[1]), 90, "the second round"
        )
        serve(3)
        wait_for(
            lambda: all(times_posted(fake_slack, t) for t in batches[2]), 90, "the third round"
        )
        elapsed = time.monotonic() - started

        # every story once: not lost, not repeated (not even the message in flight)
        counts = {t: times_posted(fake_slack, t) for t in titles}
        assert all(c == 1 for c in counts.values()), {t: c for t, c in counts.items() if c != 1}
        wait_for(lambda: all(times_posted(fake_slack, t, "C0ALERT1") for t in titles), 60, "alerts")
        alerts = {t: times_posted(fake_slack, t, "C0ALERT1") for t in titles}
        assert all(c == 1 for c in alerts.values()), {t: c for t, c in alerts.items() if c != 1}
        with psycopg.connect(pg_url) as conn:
            assert conn.execute("SELECT count(*) FROM articles").fetchone() == (len(titles),)
            # no digest left behind, and none built twice for one slot with nothing in it
            assert conn.execute(
                "SELECT count(*) FROM digests WHERE status <> 'sent'"
            ).fetchone() == (0,)
        assert all(fake_slack.posted()), "no empty digests"

        # each feed fetched once per interval between the three replicas
        for name in FEEDS:
            times = sorted(r.at for r in feed_server.requests_to(f"/{name}.xml"))
            gaps = [b - a for a, b in itertools.pairwise(times)]
            assert min(gaps) >= INTERVAL * 0.7, (name, gaps)
            assert len(times) >= elapsed / INTERVAL / 2, (name, len(times), elapsed)

        for _pid, (_proc, port) in survivors.items():
            status, body = http_get(f"http://127.0.0.1:{port}/healthz")
            assert status == 200, body
    finally:
        for proc, _port in replicas.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _port in replicas.values():
            try:
                proc.wait(30)
            except Exception:
                proc.kill()
    for pid, (proc, _port) in replicas.items():
        if pid != victim:
            assert proc.returncode == 0, (tmp_path / "replica.log").name


def test_two_poll_once_due_only_replicas_share_a_cycle_and_fetch_each_feed_once(
    tmp_path: Path, pg_url: str, feed_server, make_config
):
    """`poll --once --due-only` on two replicas at once (cron on two hosts): above the worker
    pool threshold, each feed fetched by exactly one of them, and both take a share (a replica
    claims a feed when it starts on it, not the whole cycle up front)."""
    now = datetime.now(UTC).replace(microsecond=0)
    titles = distinct_titles(60, seed=5)
    names = [f"f{n:02d}" for n in range(30)]
    for n, name in enumerate(names):
        feed_server.route(
            f"/{name}.xml", body=feed_of(titles[2 * n : 2 * n + 2], now, prefix=name), delay=0.3
        )
    config = make_config(
        [{"name": name, "url": feed_server.url(f"/{name}.xml")} for name in names],
        {"fetch": {"max_concurrency": 2, "per_host_concurrency": 2}},
    )
    env = {"BOT_DATABASE_URL": pg_url}
    procs = [
        start(
            [
                "--config",
                str(config),
                "--data-dir",
                str(tmp_path / f"data{n}"),
                "poll",
                "--once",
                "--due-only",
            ],
            env,
            tmp_path / f"poll{n}.log",
        )
        for n in range(2)
    ]
    for proc in procs:
        assert proc.wait(120) == 0
    for name in names:
        assert len(feed_server.requests_to(f"/{name}.xml")) == 1, name
    shares = []
    for n in range(2):
        total = (tmp_path / f"poll{n}.log").read_text().strip().splitlines()[-1]
        shares.append(int(total.split("; ")[1].split(" parsed")[0]))
    assert sum(shares) == len(names) and min(shares) >= 3, shares
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (len(titles),)
