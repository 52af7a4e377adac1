from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakeslack import FakeSlack
from tests.feedserver import FeedServer

ROOT = Path(__file__).resolve().parent.parent

# a real PostgreSQL for the storage contract suite and the replica tests (pgserver wheel)
pytest_plugins = ["tests.pgtest"]


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config folder: ``make_config(feeds=[...], bot={...}, keywords=None)``."""

    def make(feeds: list[dict[str, Any]], bot: dict[str, Any] | None = None, **extra: Any) -> Path:
        directory = tmp_path / "config"
        directory.mkdir(exist_ok=True)
        (directory / "feeds.yaml").write_text(
            yaml.safe_dump({"feeds": feeds}, allow_unicode=True), encoding="utf-8"
        )
        (directory / "bot.yaml").write_text(
            yaml.safe_dump(bot or {}, allow_unicode=True), encoding="utf-8"
        )
        extra.setdefault(
            "keywords", (ROOT / "config" / "keywords.yaml").read_text(encoding="utf-8")
        )
        for name, content in extra.items():
            path = directory / f"{name}.yaml"
            if isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            else:
                path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
        return directory

    return make


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run_bot(tmp_path: Path) -> Callable[..., Result]:
    """Run ``python -m bot ARGS`` as a real process (a new process = a restart)."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "SLACK_"))}
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=ROOT,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    slack = FakeSlack().start()
    yield slack
    slack.stop()
