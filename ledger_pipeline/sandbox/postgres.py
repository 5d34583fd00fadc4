"""Find a PostgreSQL server for the sandbox and the tests, or start an embedded one.

The machine's server on 127.0.0.1:5432 (trust auth, user `postgres`) is used when it answers;
otherwise the `pgserver` package starts a private server under the user's cache directory.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from psycopg2.extensions import make_dsn, parse_dsn

LOCAL_SERVER_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
EMBEDDED_DIR = Path(
    os.environ.get("LEDGER_PGSERVER_DIR", Path.home() / ".cache" / "ledger-pgserver")
)


def _answers(dsn: str) -> bool:
    try:
        psycopg2.connect(dsn).close()
    except psycopg2.OperationalError:
        return False
    return True


@cache
def server_dsn() -> str:
    """A DSN to a server: `LEDGER_PG_SERVER_DSN`, else 127.0.0.1:5432, else an embedded one."""
    configured = os.environ.get("LEDGER_PG_SERVER_DSN")
    if configured:
        return configured
    if _answers(LOCAL_SERVER_DSN):
        return LOCAL_SERVER_DSN
    return start_embedded_server(EMBEDDED_DIR).get_uri()


def start_embedded_server(pgdata: Path):
    """Start (or reuse) a private PostgreSQL server in `pgdata`. It outlives this process, so the
    next run of the sandbox or the tests finds it warm."""
    import pgserver  # imported lazily: only needed where no server answers

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(pgdata, cleanup_mode=None)


def database_dsn(name: str, server: str | None = None) -> str:
    """The DSN of database `name` on the same server as `server` (default: `server_dsn()`)."""
    params = parse_dsn(server or server_dsn())  # accepts both key=value and URI forms
    params["dbname"] = name
    return make_dsn(**params)


def dagster_storage_env(dsn: str) -> dict[str, str]:
    """The DAGSTER_PG_* variables the project's dagster.yaml reads, for the database at `dsn`."""
    params = parse_dsn(dsn)
    return {
        "DAGSTER_PG_HOST": params.get("host", "127.0.0.1"),
        "DAGSTER_PG_PORT": params.get("port", "5432"),
        "DAGSTER_PG_USERNAME": params.get("user", "postgres"),
        "DAGSTER_PG_PASSWORD": params.get("password", ""),
        "DAGSTER_PG_DB": params["dbname"],
    }


@contextlib.contextmanager
def _server_cursor() -> Iterator[psycopg2.extensions.cursor]:
    """A cursor on the server's maintenance database, outside any transaction (CREATE DATABASE
    and DROP DATABASE cannot run inside one)."""
    conn = psycopg2.connect(server_dsn())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def create_database(name: str) -> str:
    with _server_cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_dsn(name)


def ensure_database(name: str) -> str:
    """Create database `name` unless it exists; return its DSN."""
    with _server_cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_dsn(name)


def drop_database(name: str) -> None:
    with _server_cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def temporary_database(prefix: str = "ledger_test") -> Iterator[str]:
    """A fresh, uniquely named database that is dropped afterwards; yields its DSN."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    dsn = create_database(name)
    try:
        yield dsn
    finally:
        drop_database(name)
