"""What full text costs a poll cycle: ``python -m bench.fulltext_cost``.

30 headline-only feeds on 10 loopback hosts, 5 thin candidate entries each (150 new entries
whose pages decide them), article pages of about 60 KB (navigation, a sidebar, the article).
The real ``python -m bot poll --once`` on a fresh data dir, with full text off, with the
defaults (40 pages a cycle, one request per host every 2 s), and unbounded; wall time, CPU
time, article pages fetched and bytes served, counted at the servers.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
HOSTS = 10
FEEDS_PER_HOST = 3
ENTRIES = 5
BODY = (
    "総務省は10日、生成AIの開発事業者向けのガイドライン案を公表し、意見募集を始めた。"
    "AI事業者ガイドラインの改定は、偽情報対策や著作権への対応を盛り込む。"
)


def article_page(n: int) -> bytes:
    sidebar = "".join(f"<li><a href='/r{i}'>関連記事 {i} のタイトル</a></li>" for i in range(300))
    paragraphs = "".join(f"<p>{BODY}（{n}-{i}）</p>" for i in range(20))
    return (
        f"<!doctype html><html lang='ja'><head><meta charset='utf-8'><title>記事 {n}</title>"
        f"</head><body><nav>{'<a href=/>トップ</a> ' * 50}</nav><aside><ul>{sidebar}</ul></aside>"
        f"<main><article><h1>総務相、閣議後に会見 {n}</h1>{paragraphs}</article></main>"
        f"<footer>{'Copyright ' * 100}</footer></body></html>"
    ).encode()


def handler(farm: Farm, feeds: dict[str, bytes]) -> type[BaseHTTPRequestHandler]:
    """A request handler serving ``feeds`` and counting the article pages it serves."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path in feeds:
                body, kind = feeds[self.path], "application/rss+xml"
            elif self.path.startswith("/a/"):
                body, kind = article_page(int(self.path.rsplit("/", 1)[1])), "text/html"
                with farm.lock:
                    farm.pages += 1
                    farm.page_bytes += len(body)
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


class Farm:
    def __init__(self) -> None:
        self.pages = 0
        self.page_bytes = 0
        self.lock = threading.Lock()
        self.servers: list[ThreadingHTTPServer] = []
        now = datetime.now(UTC)
        self.feeds: list[str] = []
        for h in range(HOSTS):
            feeds: dict[str, bytes] = {}
            server = ThreadingHTTPServer((f"127.0.0.{h + 1}", 0), handler(self, feeds))
            base = f"http://127.0.0.{h + 1}:{server.server_address[1]}"
            for f in range(FEEDS_PER_HOST):
                items = "".join(
                    f"<item><title>{escape(f'総務相、閣議後に会見 {h}-{f}-{e}')}</title>"
                    f"<link>{base}/a/{(h * 100 + f) * 10 + e}</link><guid>{h}-{f}-{e}</guid>"
                    f"<pubDate>{format_datetime(now - timedelta(minutes=5 + ((h * FEEDS_PER_HOST + f) * ENTRIES + e)))}</pubDate></item>"
                    for e in range(ENTRIES)
                )
                feeds[f"/f{f}.xml"] = (
                    f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
                    f"<title>feed {h}-{f}</title>{items}</channel></rss>"
                ).encode()
                self.feeds.append(f"{base}/f{f}.xml")
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)

    def reset(self) -> None:
        with self.lock:
            self.pages = self.page_bytes = 0

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()


def run(farm: Farm, tmp: Path, label: str, full_text: str) -> None:
    cfg = tmp / label / "config"
    cfg.mkdir(parents=True)
    (cfg / "feeds.yaml").write_text(
        "feeds:\n"
        + "".join(
            f"  - name: feed-{i:03d}\n    url: {u}\n    full_text: "
            f"{'never' if full_text == 'never' else 'auto'}\n"
            for i, u in enumerate(farm.feeds)
        )
    )
    (cfg / "bot.yaml").write_text(
        "fetch:\n  allow_private_hosts: [127.0.0.0/8]\n"
        + (
            "full_text:\n  per_cycle: 10000\n  per_host_interval: 0.05s\n"
            if full_text == "unbounded"
            else ""
        )
    )
    shutil.copy(ROOT / "config" / "keywords.yaml", cfg / "keywords.yaml")
    farm.reset()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(cfg),
            "--data-dir",
            str(tmp / label / "data"),
            "poll",
            "--once",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if "--verbose" in sys.argv:
        print(out)
    total = out.strip().splitlines()[-1]
    flagged = total.split("(")[1].split(" flagged")[0]
    print(
        f"  {label:<34}{wall:>8.1f}{cpu:>8.1f}{farm.pages:>8}{farm.page_bytes / 1e6:>9.1f}{flagged:>9}"
    )


def main() -> None:
    farm = Farm()
    n = len(farm.feeds) * ENTRIES
    print(
        f"full text cost: {len(farm.feeds)} headline-only feeds on {HOSTS} hosts, {n} thin candidates, pages ~{len(article_page(0)) // 1000} KB"
    )
    print(f"  {'':<34}{'wall s':>8}{'CPU s':>8}{'pages':>8}{'MB':>9}{'flagged':>9}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run(farm, Path(tmp), "full_text: never", "never")
            run(farm, Path(tmp), "auto, defaults (40/cycle, 2 s/host)", "auto")
            run(farm, Path(tmp), "auto, unbounded (no budget, 50 ms)", "unbounded")
    finally:
        farm.stop()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
