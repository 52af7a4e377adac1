"""A farm of feeds for benchmarks, run as its own process.

``python bench/feedfarm.py N HOSTS [MIN_MS MAX_MS]`` serves N feeds of ~50 items (~50 KB,
Japanese and English, HTML summaries) spread over HOSTS loopback addresses (127.0.0.1 ...),
and prints one JSON line: ``{"urls": [...], "control": "..."}``.

With MIN_MS MAX_MS (the latency farm), every answer comes after MIN_MS to MAX_MS
milliseconds (fixed per feed, spread evenly), as servers across the internet do, and no
feed is slow or failing. Without them, behaviour by feed index i:

- i % 20 == 7: slow, answers after 1-2 s (5%);
- i % 50 == 13: fails with HTTP 500 (2%);
- i % 10 < 7: sends an ETag (304 when unchanged); the others send no validators;
- 15% of items are dense tech-policy text, the rest ordinary news of the same length;
- GET /_bump on the control URL adds two new items to every feed with i % 10 == 3 (10%).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

ITEMS = 50
BASE = datetime(2026, 11, 20, tzinfo=UTC)
JA_TOPICS = [
    "半導体",
    "生成AI",
    "サイバーセキュリティ",
    "量子技術",
    "5G基地局",
    "宇宙開発",
    "経済安全保障",
]
JA_ACTORS = ["経済産業省", "総務省", "デジタル庁", "文部科学省", "内閣府", "政府"]
JA_ACTIONS = ["補助金を決定", "指針を公表", "予算を要求", "法案を提出", "戦略を改定", "基金を創設"]
EN_TOPICS = ["chip", "AI", "cybersecurity", "quantum", "5G", "space", "robotics"]
EN_ACTORS = ["METI", "Japan's government", "The Digital Agency", "MIC", "The Cabinet Office"]
EN_ACTIONS = [
    "approves subsidy",
    "publishes guidelines",
    "seeks budget",
    "submits bill",
    "revises strategy",
]


JA_NEWS = [
    "全国の天気は晴れ間が広がり、気温が平年より高くなる見込みだ。",
    "プロ野球の試合は延長戦の末にサヨナラ勝ちとなった。",
    "市内の商店街で秋祭りが開かれ、多くの家族連れでにぎわった。",
    "円相場は一時1ドル150円台まで値下がりした。",
    "人気歌手のコンサートに3万人が集まった。",
    "駅前の再開発計画について住民説明会が開かれた。",
]
EN_NEWS = [
    "Fans packed the stadium for the season opener on Saturday night.",
    "The yen weakened against the dollar in afternoon trading.",
    "A new ramen shop opened near the station and drew long lines.",
    "Heavy rain is expected across the region through the weekend.",
    "The museum will extend its opening hours during the holidays.",
]
#: share of items about tech policy; the rest are ordinary news of the same length
POLICY_SHARE = 0.15


def _summary(rng: random.Random, ja: bool, n: int, policy: bool) -> str:
    if ja and policy:
        words = "".join(
            rng.choice(JA_ACTORS)
            + "は"
            + rng.choice(JA_TOPICS)
            + "に関する"
            + rng.choice(JA_ACTIONS)
            + "した。"
            for _ in range(6)
        )
    elif ja:
        words = "".join(rng.choice(JA_NEWS) for _ in range(5))
    elif policy:
        words = " ".join(
            f"{rng.choice(EN_ACTORS)} {rng.choice(EN_ACTIONS)} for {rng.choice(EN_TOPICS)} projects."
            for _ in range(5)
        )
    else:
        words = " ".join(rng.choice(EN_NEWS) for _ in range(4))
    return (
        f'<p><img src="/img/{n}.jpg" width="120" height="80" alt=""/>{words}</p>'
        f'<p>Related: <a href="https://news.example.com/a/{n}?utm_source=rss">link</a> '
        f"<strong>{n}</strong> &amp; more &#x2026;</p><ul><li>{words[:60]}</li><li>{words[-60:]}</li></ul>"
    )


def render(i: int, gen: int) -> bytes:
    ja = i % 2 == 0
    first = gen * 2  # each bump adds two items on top
    items = []
    for k in range(first + ITEMS - 1, first - 1, -1):
        rng = random.Random(i * 100_000 + k)  # an item's text never changes
        when = BASE + timedelta(hours=k)
        policy = rng.random() < POLICY_SHARE
        if ja and policy:
            title = f"{rng.choice(JA_ACTORS)}、{rng.choice(JA_TOPICS)}の{rng.choice(JA_ACTIONS)}（{i}-{k}）"
        elif ja:
            title = f"地域の話題：{rng.choice(JA_NEWS)[:20]}（{i}-{k}）"
        elif policy:
            title = f"{rng.choice(EN_ACTORS)} {rng.choice(EN_ACTIONS)} for {rng.choice(EN_TOPICS)} ({i}-{k})"
        else:
            title = f"Local roundup: {rng.choice(EN_NEWS)[:40]} ({i}-{k})"
        summary = _summary(rng, ja, k, policy)
        items.append(
            f"<item><title>{escape(title)}</title><link>https://news{i % 37}.example.com/{i}/{k}.html</link>"
            f'<guid isPermaLink="false">feed{i}-item{k}</guid><pubDate>{format_datetime(when, usegmt=True)}</pubDate>'
            f"<description>{escape(summary)}</description></item>"
        )
    lang = "ja" if ja else "en"
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Farm feed {i}</title>'
        f"<link>https://farm.example.com/{i}</link><language>{lang}</language>{''.join(items)}</channel></rss>"
    ).encode()


class Farm:
    def __init__(self, count: int, hosts: int, latency: tuple[float, float] | None = None) -> None:
        self.count = count
        self.latency = latency
        self.gen = [0] * count
        self.cache: dict[tuple[int, int], bytes] = {}
        self.lock = threading.Lock()
        farm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                farm.handle(self)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients hanging up (the naive loop, timeouts) are not news

        self.servers = [Server((f"127.0.0.{h + 1}", 0), Handler) for h in range(hosts)]
        for server in self.servers:
            server.daemon_threads = True
            server.request_queue_size = 256
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def url(self, i: int) -> str:
        # spread the slow and failing feeds (fixed residues of i) over all hosts
        host, port = self.servers[(i + i // 20) % len(self.servers)].server_address[:2]
        return f"http://{host}:{port}/feed/{i}.xml"

    def body(self, i: int) -> bytes:
        key = (i, self.gen[i])
        with self.lock:
            if key not in self.cache:
                self.cache[key] = render(*key)
            return self.cache[key]

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        if h.path == "/_bump":
            for i in range(self.count):
                if i % 10 == 3:
                    self.gen[i] += 1
            self._send(h, 200, {"content-type": "text/plain"}, b"bumped")
            return
        try:
            i = int(h.path.removeprefix("/feed/").removesuffix(".xml"))
        except ValueError:
            self._send(h, 404, {}, b"")
            return
        if self.latency is not None:
            low, high = self.latency
            time.sleep((low + (high - low) * ((i * 37) % 101) / 100) / 1000)
        elif i % 20 == 7:
            time.sleep(1 + (i % 11) / 10)
        if self.latency is None and i % 50 == 13:
            self._send(h, 500, {"content-type": "text/plain"}, b"internal error")
            return
        headers = {"content-type": "application/rss+xml; charset=utf-8"}
        if i % 10 < 7:
            etag = f'"{i}-{self.gen[i]}"'
            headers["etag"] = etag
            if h.headers.get("if-none-match") == etag:
                self._send(h, 304, {"etag": etag}, b"")
                return
        self._send(h, 200, headers, self.body(i))

    def _send(
        self, h: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        try:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            h.send_header("content-length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass


def main() -> None:
    count, hosts = int(sys.argv[1]), int(sys.argv[2])
    latency = (float(sys.argv[3]), float(sys.argv[4])) if len(sys.argv) > 4 else None
    farm = Farm(count, hosts, latency)
    for i in range(count):  # render up front: the farm must not be the bottleneck
        farm.body(i)
    control = farm.url(0).rsplit("/feed/", 1)[0] + "/_bump"
    print(json.dumps({"urls": [farm.url(i) for i in range(count)], "control": control}), flush=True)
    sys.stdin.read()  # run until the parent closes our stdin


if __name__ == "__main__":
    main()
