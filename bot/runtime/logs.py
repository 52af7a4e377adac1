"""Logging: readable lines on a terminal, one JSON object per event with --log-format json.

Secrets never reach the log: Slack tokens, webhook URLs (Slack's, GovSlack's, or behind a
proxy: the values of the configured variables) and credentials in URLs are scrubbed from
every message and traceback as a last line of defence (code never logs them on purpose).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
_TOKEN = re.compile(
    r"xox[a-z]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+"
    r"|https?://hooks\.slack(?:-gov)?\.com/[^\s\"'<>]+"
    r"|/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"
)
_USERINFO = re.compile(r"(?<=://)[^/?#@\s\"']+@")
#: variables that always hold secrets; register_secrets() adds the configured ones
SECRET_VARIABLES = {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_WEBHOOK_URL"}
_MIN_SECRET = 8


def register_secrets(*names: str) -> None:
    """Scrub the values of these environment variables too (a renamed token variable,
    every webhook variable the configuration names)."""
    SECRET_VARIABLES.update(n for n in names if n)


def _secret_forms(value: str) -> set[str]:
    """A value as it may appear in a message: itself, escaped as repr() writes it (a token
    with a stray newline shows up as ``...\\n`` in a traceback), and each of its lines."""
    forms = {value, value.strip(), value.encode("unicode_escape").decode("ascii", "replace")}
    forms.update(value.splitlines())
    return {f for f in forms if len(f) >= _MIN_SECRET}


def scrub(text: str) -> str:
    text = _TOKEN.sub("[secret]", text)
    text = _USERINFO.sub("***@", text)
    for name in SECRET_VARIABLES:
        value = os.environ.get(name)
        if value:
            for form in sorted(_secret_forms(value), key=len, reverse=True):
                text = text.replace(form, "[secret]")
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def setup(level: str = "warning", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO; that is our poll event's job.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # slack-sdk logs the webhook URL at INFO on every retry; our delivery events say what
    # happened.
    logging.getLogger("slack_sdk").setLevel(logging.WARNING)
