"""A real PostgreSQL for the tests: one server per session (the ``pgserver`` wheel, in a
temporary directory, on a Unix socket only: nothing listens on the network), and a fresh
database for each test that asks for ``pg_url``.

Register it once (tests/conftest.py): ``pytest_plugins = ["tests.pgtest"]``.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """The session's PostgreSQL server (a ``pgserver.PostgresServer``), stopped and deleted
    at the end. Durability is off: a test database need not survive a power cut."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        directory = Path(tempfile.mkdtemp(prefix="bot-pgtest-"))
        server = pgserver.get_server(directory / "data", cleanup_mode="stop")
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET fsync = off")
            conn.execute("ALTER SYSTEM SET synchronous_commit = off")
            conn.execute("ALTER SYSTEM SET full_page_writes = off")
            conn.execute("SELECT pg_reload_conf()")
        yield server
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.cleanup()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    """A ``postgresql://`` URL of a new, empty database, dropped after the test (with any
    connection the test left open)."""
    name = f"t_{next(_numbers)}"
    admin_url = pg_server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield str(pg_server.get_uri(name))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
