"""``python -m bot demo``: the whole pipeline on bundled sample feeds, with no network and
no Slack. The samples (written for this project) hold articles the bot must flag and the
traps it must not: a US rule that mentions Japanese companies, a company's earnings, the
Bank of Japan, a related-links line, an undeclared Shift_JIS feed, one story in two feeds.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import json
import re
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, cast

from bot.app.delivery import run_subscription
from bot.app.starter import default_file
from bot.config import load_config
from bot.delivery.destination import Terminal
from bot.ingest.poll import Poller
from bot.match import Matcher
from bot.storage.sqlite import SqliteStorage

SAMPLES = {
    # path: (file, content type, encoding the bytes are served in)
    "/ministry.rdf": ("ministry.rdf", "application/rdf+xml", "utf-8"),
    "/news_ja.xml": ("news_ja.xml", "text/xml", "cp932"),  # Shift_JIS, charset not declared
    "/wire_en.xml": ("wire_en.xml", "application/atom+xml", "utf-8"),
}
_PLACEHOLDER = re.compile(r"\{\{(iso|rfc822):-(\d+)h\}\}")


def render(name: str, now: datetime, base: str, codec: str) -> bytes:
    text = (importlib.resources.files("bot.demo") / name).read_text(encoding="utf-8")

    def when(m: re.Match[str]) -> str:
        moment = now - timedelta(hours=int(m.group(2)))
        return moment.isoformat() if m.group(1) == "iso" else format_datetime(moment, usegmt=True)

    return _PLACEHOLDER.sub(when, text.replace("{{base}}", base)).encode(codec)


def _serve(now: datetime) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            sample = SAMPLES.get(self.path)
            if sample is None:
                self.send_error(404)
                return
            name, ctype, codec = sample
            port = cast(ThreadingHTTPServer, self.server).server_port
            body = render(name, now, f"http://127.0.0.1:{port}", codec)
            self.send_response(200)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _write_config(config_dir: Path, base: str) -> None:
    config_dir.mkdir()
    (config_dir / "keywords.yaml").write_bytes(default_file("keywords.yaml"))
    feeds = [
        {
            "name": "METI press (demo)",
            "url": f"{base}/ministry.rdf",
            "language": "ja",
            "tags": ["jp-gov"],
        },
        {"name": "Japanese news (demo)", "url": f"{base}/news_ja.xml"},
        {"name": "Tech Policy Wire (demo)", "url": f"{base}/wire_en.xml", "language": "en"},
    ]
    sub = {
        "name": "demo",
        "title": "Japan tech policy (demo)",
        "channel": "#demo",
        "schedule": "0 9 * * *",
    }
    # JSON is YAML: no quoting questions
    (config_dir / "feeds.yaml").write_text(json.dumps({"feeds": feeds}), encoding="utf-8")
    (config_dir / "bot.yaml").write_text(json.dumps({"subscriptions": [sub]}), encoding="utf-8")


def run(out: IO[str] = sys.stdout) -> int:
    now = datetime.now(UTC)
    server = _serve(now)
    base = f"http://127.0.0.1:{int(server.server_address[1])}"
    with tempfile.TemporaryDirectory(prefix="bot-demo-") as tmp:
        _write_config(Path(tmp) / "config", base)
        config = load_config(Path(tmp) / "config")
        store = SqliteStorage(Path(tmp) / "data")
        try:
            out.write(f"Serving 3 sample feeds on {base}/ and polling them...\n\n")
            # One feed after the other, so the demo shows the same thing every time (the
            # ministry's copy of the shared story is stored first, the news copy is "also").
            poller = Poller(config, store)
            outcomes = [o for feed in config.feeds for o in asyncio.run(poller.poll([feed]))]
            for o in outcomes:
                notes = "".join(f"; {w}" for w in o.warnings)
                out.write(f"  {o.feed:<28} {o.new} new, {o.flagged} flagged{notes}\n")
            out.write("\nWhat the matcher decided, and why:\n")
            for item in sorted(store.articles(), key=lambda a: -(a.match.score if a.match else 0)):
                mark = "FLAG" if item.flagged else "skip"
                also = f" (also in {', '.join(item.sources[1:])})" if len(item.sources) > 1 else ""
                out.write(f"  [{mark}] {item.article.title}{also}\n")
            out.write("\nThe digest a subscriber would get (with SLACK_BOT_TOKEN: in Slack):\n\n")
            # Always the terminal here, even if a token is set: the demo never posts.
            run_subscription(
                config,
                store,
                Matcher(config.keywords),
                config.bot.subscriptions[0],
                Terminal(out),
                clock=lambda: datetime.now(UTC),
            )
            out.write(
                'Try your own text: python -m bot explain --text "政府、量子技術に1000億円"\n'
                "Next: edit config/feeds.yaml and config/bot.yaml, then `make run`.\n"
            )
        finally:
            store.close()
            server.shutdown()
            server.server_close()
    return 0
