"""Configuration: every problem names the file, the key and the reason; exit code 2."""

from __future__ import annotations

import shutil

import pytest

from bot.config import load_config, parse_duration
from bot.errors import ConfigError
from tests.conftest import ROOT

KEYWORDS = ROOT / "config" / "keywords.yaml"


def test_shipped_default_config_is_valid(run_bot):
    result = run_bot("check-config")
    assert result.code == 0, result.err
    assert "OK" in result.out


@pytest.mark.parametrize(
    ("feeds_yaml", "bot_yaml", "file", "fragment"),
    [
        ("feeds:\n  - name: a\n    url: ftp://x\n", "", "feeds.yaml", "feeds[0].url"),
        (
            "feeds:\n  - name: a\n    url: https://x.example/\n    intervall: 5m\n",
            "",
            "feeds.yaml",
            "feeds[0].intervall",
        ),
        (
            "feeds:\n  - name: a\n    url: https://x.example/\n    interval: soon\n",
            "",
            "feeds.yaml",
            "not a duration",
        ),
        (
            "feeds:\n  - name: a\n    url: https://x.example/\n    language: fr\n",
            "",
            "feeds.yaml",
            "feeds[0].language",
        ),
        (
            "feeds:\n  - name: a\n    url: https://x.example/a\n  - name: a\n    url: https://x.example/b\n",
            "",
            "feeds.yaml",
            "feeds[1].name",
        ),
        (
            "feeds:\n  - name: a\n    url: https://x.example/\n  - name: b\n    url: https://x.example/\n",
            "",
            "feeds.yaml",
            "already listed",
        ),
        ("feeds: [\n", "", "feeds.yaml", "invalid YAML"),
        (
            "feeds:\n  - name: a\n    url: https://x.example/\n",
            "timezone: Mars/Olympus\n",
            "bot.yaml",
            "unknown time zone",
        ),
        (
            "feeds:\n  - name: a\n    url: https://x.example/\n",
            "fetch:\n  max_concurrency: 0\n",
            "bot.yaml",
            "fetch.max_concurrency",
        ),
        (
            "feeds:\n  - name: a\n    url: https://x.example/\n",
            "- a list\n",
            "bot.yaml",
            "top level must be a mapping",
        ),
    ],
)
def test_invalid_config_names_file_key_and_reason(
    tmp_path, run_bot, feeds_yaml, bot_yaml, file, fragment
):
    (tmp_path / "feeds.yaml").write_text(feeds_yaml, encoding="utf-8")
    (tmp_path / "bot.yaml").write_text(bot_yaml, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert file in str(info.value) and fragment in str(info.value)
    result = run_bot("--config", str(tmp_path), "check-config")
    assert result.code == 2
    assert file in result.err and fragment in result.err


def test_missing_folder_and_missing_files(tmp_path, run_bot):
    assert run_bot("--config", str(tmp_path / "nope"), "check-config").code == 2
    result = run_bot("--config", str(tmp_path), "check-config")
    assert result.code == 2 and "feeds.yaml" in result.err and "not found" in result.err
    (tmp_path / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    result = run_bot("--config", str(tmp_path), "check-config")
    assert result.code == 2 and "keywords.yaml" in result.err and "not found" in result.err


def test_env_vars_select_config_and_data_dir(tmp_path, run_bot):
    (tmp_path / "cfg").mkdir()
    shutil.copy(KEYWORDS, tmp_path / "cfg" / "keywords.yaml")
    (tmp_path / "cfg" / "feeds.yaml").write_text("feeds: []\n", encoding="utf-8")
    result = run_bot("check-config", env={"BOT_CONFIG": str(tmp_path / "cfg")})
    assert result.code == 0 and "0 feeds" in result.out
    result = run_bot(
        "feeds",
        "--json",
        env={"BOT_CONFIG": str(tmp_path / "cfg"), "BOT_DATA_DIR": str(tmp_path / "state")},
    )
    assert result.code == 0 and (tmp_path / "state" / "bot.sqlite3").exists()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("0.5s", 0.5)],
)
def test_durations(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "soon", "-5m", 0, True])
def test_bad_durations(value):
    with pytest.raises(ValueError):
        parse_duration(value)


def test_articles_since_accepts_durations_and_local_dates():
    from datetime import UTC, datetime

    from bot.cli import parse_since

    now = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
    assert parse_since("24h", "Asia/Tokyo", now) == datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    assert parse_since("7d", "Asia/Tokyo", now) == datetime(2026, 11, 14, 0, 0, tzinfo=UTC)
    # a date without a zone is read in the configured zone: midnight in Tokyo
    assert parse_since("2026-11-20", "Asia/Tokyo", now) == datetime(2026, 11, 19, 15, 0, tzinfo=UTC)
    assert parse_since("2026-11-20T09:00:00+00:00", "Asia/Tokyo", now) == datetime(
        2026, 11, 20, 9, 0, tzinfo=UTC
    )
    with pytest.raises(ConfigError, match="duration"):
        parse_since("yesterday", "Asia/Tokyo", now)
