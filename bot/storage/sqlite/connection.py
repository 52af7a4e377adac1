"""The SQLite engine's connection: WAL, migrations, transactions, errors that say what to do.

One connection per ``SqliteStorage``, shared by the threads that call it (``asyncio.to_thread``
from the event loop, the delivery thread...): a re-entrant lock serialises them, so a
transaction is never interleaved with another thread's statements.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from bot.errors import StorageError
from bot.storage.sqlite.schema import MIGRATIONS

DB_FILE = "bot.sqlite3"


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def storage_error(path: Path | str, e: sqlite3.Error | OSError) -> StorageError:
    """What went wrong with the database, in words that say what to do."""
    text = str(e)
    lowered = text.lower()
    if "full" in lowered or (isinstance(e, OSError) and e.errno == 28):
        hint = (
            "the disk is full: free some space; nothing is lost, and polling and delivery "
            "resume by themselves"
        )
    elif "i/o error" in lowered or "file too large" in lowered:
        hint = "the disk refused a write: check free space and the volume's health"
    elif "locked" in lowered or "busy" in lowered:
        hint = "another process holds the database: is a second bot using this --data-dir?"
    elif "readonly" in lowered or "read-only" in lowered:
        hint = "the data directory is read-only: give the bot's user write access"
    elif "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        hint = (
            f"the database file is damaged: stop the bot, keep a copy of {path}, then either "
            f"recover it (sqlite3 {Path(path).name} .recover | sqlite3 recovered.sqlite3, and "
            "put the result in its place) or move it aside to start afresh"
        )
    else:
        hint = "the database refused the operation"
    return StorageError(f"{path}: {hint} ({text})")


class Connection:
    """The database file, opened and migrated, with transactions that nest."""

    def __init__(self, data_dir: Path, *, busy_timeout: float = 10.0) -> None:
        self.path = data_dir / DB_FILE
        self.lock = threading.RLock()
        self._depth = 0
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except (OSError, sqlite3.Error) as e:
            raise StorageError(
                f"cannot open the database in {data_dir}: {storage_error(self.path, e)}"
            ) from e

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise StorageError(
                f"{self.path} has schema version {version}, newer than this bot knows "
                f"({len(MIGRATIONS)}); upgrade the bot or use another --data-dir"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in script.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={number}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE); nested uses join the outer one, inside
        a savepoint: a nested step that fails is undone on its own (a digest whose articles
        cannot be given to it leaves no digest), and the outer transaction stays usable."""
        with self.lock:
            if self._depth:
                savepoint = f"nested_{self._depth}"
                try:
                    self.db.execute(f"SAVEPOINT {savepoint}")
                except sqlite3.Error as e:
                    raise storage_error(self.path, e) from e
                self._depth += 1
                try:
                    yield
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        self.db.execute(f"ROLLBACK TO {savepoint}")
                        self.db.execute(f"RELEASE {savepoint}")
                    raise
                else:
                    try:
                        self.db.execute(f"RELEASE {savepoint}")
                    except sqlite3.Error as e:
                        raise storage_error(self.path, e) from e
                finally:
                    self._depth -= 1
                return
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as e:
                raise storage_error(self.path, e) from e
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                with contextlib.suppress(sqlite3.Error):  # a failed COMMIT may have ended it
                    self.db.execute("ROLLBACK")
                raise
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error as e:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                raise storage_error(self.path, e) from e
            finally:
                self._depth = 0

    def close(self) -> None:
        with self.lock:
            self.db.close()


class SqliteMixin:
    """What every part of the SQLite engine shares: the connection."""

    conn: Connection

    @property
    def db(self) -> sqlite3.Connection:
        return self.conn.db


_F = TypeVar("_F", bound=Callable[..., Any])


def _guarded(method: _F) -> _F:
    """One thread at a time, and sqlite3 errors leave as StorageError with a hint."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.conn.lock:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as e:
                raise storage_error(self.conn.path, e) from e

    return cast(_F, wrapper)


_C = TypeVar("_C", bound=type)


def guard_public_methods(cls: _C) -> _C:
    """Wrap every public method of the engine (its mixins' included): see _guarded."""
    for name in dir(cls):
        if name.startswith("_") or name in ("transaction", "close"):
            continue
        value = inspect.getattr_static(cls, name)
        if inspect.isfunction(value):
            setattr(cls, name, _guarded(value))
    return cls
