"""Database engines and migrations: the one place that knows SQLite from PostgreSQL.

SQLite runs in WAL mode with foreign keys on, so the API and the engine (one process) can read while one writes; its
writers queue in this process (transactions.write_transaction), then at the file's write gate with other processes'
(write_gate.py, the dialer first); the busy timeout is for writers that take no gate. PostgreSQL
is for several instances. Both are brought to the schema by Alembic (``migrate``).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from autodialer.adapters.db.transactions import prefer_writes_of

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(
    url: str, *, echo: bool = False, busy_timeout_s: float = 30.0, preferred_writer: bool = False
) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite+aiosqlite:///path`` or ``postgresql+psycopg://…``).

    ``busy_timeout_s`` (SQLite): how long a statement waits for another process's lock on the file. Writers of this
    process queue in ``transactions.write_transaction`` instead, never in SQLite, and other processes' gated writers
    at the file's write gate (write_gate.py). ``preferred_writer`` (SQLite; the dialer's engine): this engine's
    writers pass that gate before other processes' (which then wait; a preferred writer waits for at most the one
    transaction of theirs under way)."""
    kwargs: dict[str, Any] = {"echo": echo}
    if is_sqlite(url):
        if url.startswith("sqlite+aiosqlite:///") and not url.endswith(":memory:"):
            Path(url.removeprefix("sqlite+aiosqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": busy_timeout_s}
    else:
        kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", functools.partial(_sqlite_pragmas, int(busy_timeout_s * 1000)))
        if preferred_writer:
            prefer_writes_of(engine)
    return engine


def _sqlite_pragmas(busy_timeout_ms: int, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cursor.close()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers a trivial query (readiness checks)."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


class SqlDatabasePing:
    """services.health.DatabasePing on an engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @property
    def backend(self) -> str:
        return self._engine.dialect.name

    async def ping(self) -> None:
        await ping(self._engine)


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision`` (an empty database included)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, str(engine.url), revision)


def _upgrade(sync_connection: Any, url: str, revision: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = sync_connection
    command.upgrade(config, revision)
