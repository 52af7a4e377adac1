"""The PostgreSQL engine's connections: a pool, migrations, transactions that nest, errors
that say what to do.

Each call borrows a connection from the pool for one transaction, so threads never wait for
each other's statements (the server orders them). ``transaction()`` makes several calls
atomic: the thread's connection is remembered (thread-local), and calls made inside it on
the same thread join it. A call that fails inside the caller's transaction is undone alone
(a savepoint), so the caller's transaction stays usable as it does in SQLite, where a failed
statement does not end the transaction.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import inspect
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from bot.errors import StorageError
from bot.storage.postgres.schema import migrate

#: a connection of the pool: rows come back as dicts
Conn = psycopg.Connection[DictRow]

#: seconds to wait for the server to answer a connection attempt (unless the URL says)
CONNECT_TIMEOUT = 10
#: seconds to wait for a free connection of the pool
POOL_TIMEOUT = 30.0


def ts(value: datetime | None) -> datetime | None:
    """A time as stored: to the second, as the SQLite engine stores it (ISO text)."""
    return value.replace(microsecond=0) if value is not None else None


def dt(value: datetime | None) -> datetime | None:
    """A stored time as the records carry it: aware, in UTC."""
    return value.astimezone(UTC) if value is not None else None


# -- where the server is, fit to print ------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """The parts of a database URL that messages name (never the password)."""

    location: str
    host: str
    port: str
    user: str
    dbname: str
    #: only to make sure no message shows it
    password: str = field(repr=False)

    @classmethod
    def from_url(cls, url: str) -> Server:
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as e:
            # not the parser's message: it may quote the password
            raise StorageError(
                "database_url is not a valid PostgreSQL URL: write it as "
                "postgresql://user:password@host:port/dbname (percent-encode special "
                "characters in the password)"
            ) from e
        password = str(params.get("password") or "")
        # libpq's defaults: the environment's, then the operating system's user name
        user = str(params.get("user") or os.environ.get("PGUSER") or _system_user())
        return cls(
            location=without_password(url),
            host=str(params.get("host") or os.environ.get("PGHOST") or "localhost"),
            port=str(params.get("port") or os.environ.get("PGPORT") or "5432"),
            user=user,
            dbname=str(params.get("dbname") or os.environ.get("PGDATABASE") or user),
            password=password,
        )

    @property
    def address(self) -> str:
        if self.host.startswith("/"):  # a Unix socket directory
            return f"{self.host} (socket, port {self.port})"
        return f"{self.host}:{self.port}"


def _system_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no name for this uid (a bare container)
        return "the default user"


def without_password(url: str) -> str:
    """``url`` with its password removed (from the user part and from the query)."""
    if "://" not in url:  # a key=value connection string
        params = {k: v for k, v in conninfo_to_dict(url).items() if k != "password"}
        return make_conninfo("", **params)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}@{hosts}" if user else hosts
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"],
        safe="/",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# -- errors ---------------------------------------------------------------------------------

_UNREACHABLE = (
    "connection refused",
    "could not connect",
    "could not translate host name",
    "name or service not known",
    "no route to host",
    "network is unreachable",
    "timeout expired",
    "connection timed out",
    "no such file or directory",  # a socket directory with no server
    "connection failed",
)
_LOST = (
    "server closed the connection",
    "terminating connection",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "consuming input failed",
    "connection is lost",
    "connection is closed",
    "ssl syscall",
    "eof detected",
)


def storage_error(server: Server, e: psycopg.Error) -> StorageError:
    """What went wrong with the database, in words that say what to do."""
    text = _scrub(str(e), server.password)
    lowered = text.lower()
    state = e.sqlstate or ""
    if isinstance(e, PoolTimeout):
        hint = (
            f"no database connection came free within {POOL_TIMEOUT:g} s: the server at "
            f"{server.address} stopped answering, or every connection of the pool is busy "
            "(raise max_size)"
        )
    elif (
        state in ("28P01", "28000")
        or "authentication failed" in lowered
        or ("password" in lowered and "supplied" in lowered)
        or ('role "' in lowered and "does not exist" in lowered)
    ):
        hint = (
            f"the server at {server.address} refused user {server.user!r}: check the user "
            "name and password in database_url (or BOT_DATABASE_URL), and the server's "
            "pg_hba.conf"
        )
    elif state == "3D000" or ('database "' in lowered and "does not exist" in lowered):
        hint = (
            f"database {server.dbname!r} does not exist on {server.address}: create it "
            f"(createdb -h {server.host} -p {server.port} {server.dbname}) or correct its name "
            "in database_url"
        )
    elif state == "53100" or "no space left" in lowered or "disk full" in lowered:
        hint = (
            "the database server's disk is full: free some space on it; nothing is lost, and "
            "polling and delivery resume by themselves"
        )
    elif state == "25006" or "read-only" in lowered or "hot standby" in lowered:
        hint = (
            "the database refuses writes (a standby server, or default_transaction_read_only "
            "is on): point database_url at the primary server"
        )
    elif state == "53300" or ("too many" in lowered and "clients" in lowered):
        hint = (
            f"the server at {server.address} has no connection left: raise its "
            "max_connections, or lower the bot's pool size or number of replicas"
        )
    elif state == "22P05" or ("nul" in lowered and "0x00" in lowered):
        hint = (
            "a value to store contains a NUL character (\\x00 or \\u0000), which PostgreSQL "
            "cannot hold (SQLite can): it came from a feed (an entry id?); nothing of this "
            "call was stored"
        )
    elif state == "42501":
        hint = (
            f"user {server.user!r} lacks a privilege on database {server.dbname!r}: connect as "
            "the database's owner, or grant it (GRANT ALL ON SCHEMA public TO the user)"
        )
    elif state in ("40P01", "40001", "55P03"):
        hint = "another replica's transaction got in the way; the next run tries again"
    elif state.startswith(("08", "57P")) or any(s in lowered for s in _LOST):
        hint = (
            f"the connection to the server at {server.address} was lost (it restarted, or "
            "the network failed); the next run connects again"
        )
    elif isinstance(e, psycopg.OperationalError) and any(s in lowered for s in _UNREACHABLE):
        hint = (
            f"cannot reach the PostgreSQL server at {server.address}: check that it is "
            "running, that host and port in database_url are right, and that no firewall "
            "is in the way"
        )
    elif isinstance(e, PoolClosed):
        hint = "the storage was closed (a bug: it is used after close())"
    else:
        hint = "the database refused the operation"
    return StorageError(f"{server.location}: {hint} ({text})")


def _scrub(text: str, password: str) -> str:
    """One line, and never the password (libpq does not print it; this makes sure)."""
    text = " ".join(text.split())
    return text.replace(password, "***") if password else text


# -- the pool and transactions --------------------------------------------------------------


def _configure(conn: Conn) -> None:
    # Times come back as UTC (psycopg gives them the session's zone); a naive time handed
    # in is read as UTC too.
    conn.execute("SET TIME ZONE 'UTC'")


class Database:
    """The pool of connections to one database, migrated, with transactions that nest."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 4) -> None:
        self.server = Server.from_url(url)
        self.location = self.server.location
        self._local = threading.local()
        extra: dict[str, Any] = {}
        if "connect_timeout" not in conninfo_to_dict(url):
            extra["connect_timeout"] = CONNECT_TIMEOUT
        try:
            # One connection first: its errors say why (the pool's would only time out),
            # and it migrates before any other connection uses the tables.
            with psycopg.connect(url, autocommit=True, row_factory=dict_row, **extra) as first:
                _configure(first)
                self.schema_version = migrate(first, self.location)
        except psycopg.Error as e:
            raise StorageError(f"cannot open the database: {self.error(e)}") from e
        self.pool: ConnectionPool[Conn] = ConnectionPool(
            url,
            connection_class=psycopg.Connection[DictRow],
            kwargs={"autocommit": True, "row_factory": dict_row, **extra},
            min_size=min_size,
            max_size=max_size,
            open=False,
            configure=_configure,
            # a connection the server dropped (a restart) is replaced, not handed out
            check=ConnectionPool.check_connection,
            timeout=POOL_TIMEOUT,
            name="bot-storage",
        )
        try:
            self.pool.open(wait=True, timeout=POOL_TIMEOUT)
        except psycopg.Error as e:
            self.pool.close()
            raise StorageError(f"cannot open the database: {self.error(e)}") from e

    def error(self, e: psycopg.Error) -> StorageError:
        return storage_error(self.server, e)

    @property
    def current(self) -> Conn:
        """The connection of this thread's transaction (inside ``transaction()`` only)."""
        conn: Conn | None = getattr(self._local, "conn", None)
        assert conn is not None, "a storage method ran outside Database.transaction()"
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Conn]:
        """One transaction on a connection of the pool; nested uses on the same thread join
        the outer one (nothing is committed before the outer one ends) inside a savepoint:
        a nested block that raises is undone on its own, as in the SQLite engine."""
        conn: Conn | None = getattr(self._local, "conn", None)
        if conn is not None:
            with conn.transaction():
                yield conn
            return
        try:
            with self.pool.connection() as conn, conn.transaction():
                self._local.conn = conn
                try:
                    yield conn
                finally:
                    self._local.conn = None
        except psycopg.Error as e:
            raise self.error(e) from e

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Conn]:
        """What one storage method runs in: its own transaction, or a savepoint in the
        caller's (so that its failure undoes only itself, see the module docstring)."""
        conn: Conn | None = getattr(self._local, "conn", None)
        if conn is None:
            with self.transaction() as conn:
                yield conn
            return
        with conn.transaction():
            yield conn

    def close(self) -> None:
        self.pool.close()


class PostgresMixin:
    """What every part of the PostgreSQL engine shares: the database."""

    db: Database

    @property
    def conn(self) -> Conn:
        return self.db.current


_F = TypeVar("_F", bound=Callable[..., Any])


def _guarded(method: _F) -> _F:
    """Atomic (see Database.atomic), and psycopg errors leave as StorageError with a hint."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        db: Database = self.db
        try:
            with db.atomic():
                return method(self, *args, **kwargs)
        except psycopg.Error as e:
            raise db.error(e) from e

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
