"""One process per data directory.

Two bot processes on one SQLite data directory race: both select the same articles, both
post the same digest (issue 8). ``run``, ``run --once``, ``poll`` and ``digest`` take an
exclusive lock on the directory for as long as they run; a second one is refused with the
holder's process id and command. The lock is an ``flock`` on a file: the kernel releases
it when the process ends, however it ends (kill -9 included), so it never goes stale.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from bot.errors import BotError

LOCK_FILE = "bot.runtime.lock"


class DataDirBusy(BotError):
    """Another bot process holds the data directory."""


class DataDirLock:
    def __init__(self, data_dir: Path, command: str) -> None:
        self.path = data_dir / LOCK_FILE
        self.command = command
        self._handle: IO[str] | None = None

    def acquire(self) -> DataDirLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            raise DataDirBusy(
                f"another bot process is using {self.path.parent} ({_describe(holder)}); "
                "stop it first, or give this one its own --data-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "command": self.command,
                    "since": datetime.now(UTC).isoformat(timespec="seconds"),
                    "argv": sys.argv[1:],
                }
            )
        )
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _describe(holder: str) -> str:
    try:
        info = json.loads(holder)
        return f"pid {info['pid']}, '{info['command']}', since {info['since']}"
    except (ValueError, KeyError, TypeError):
        return "process unknown"
