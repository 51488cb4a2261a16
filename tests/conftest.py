"""Shared fixtures: a migrated database on SQLite and on PostgreSQL.

``db_url`` is parametrized over both back ends. PostgreSQL comes from ``AUTODIALER_TEST_PG_URL`` (scripts/test.sh
finds or starts a server and sets it); each pytest process creates its own database from it and drops it at the end,
so parallel runs never see each other's rows. Without the variable the PostgreSQL cases are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.engine import create_engine, migrate
from autodialer.adapters.db.tables import metadata

PG_ENV = "AUTODIALER_TEST_PG_URL"


def _admin_and_test_urls(base: str) -> tuple[str, str, str]:
    head, _, _dbname = base.rpartition("/")
    name = f"autodialer_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    return f"{head}/postgres", f"{head}/{name}", name


async def _run_admin(admin_url: str, sql: str) -> None:
    engine = create_engine(admin_url)
    async with engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(sql))
    await engine.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set (scripts/test.sh sets it)")
    admin, url, name = _admin_and_test_urls(base)
    asyncio.run(_run_admin(admin, f'CREATE DATABASE "{name}"'))
    engine = create_engine(url)
    asyncio.run(_migrate_and_dispose(engine))
    yield url
    asyncio.run(_run_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _migrate_and_dispose(engine: AsyncEngine) -> None:
    await migrate(engine)
    await engine.dispose()


async def _reset_postgres(engine: AsyncEngine) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        await connection.execute(
            text("INSERT INTO feed_clocks (feed, last_us) VALUES ('results', 0), ('polling_results', 0)")
        )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL; the ``migrated_engine`` fixture brings it to the current schema, empty."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'autodialer.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def migrated_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database at the current schema (SQLite: a new file; PostgreSQL: truncated)."""
    engine = create_engine(db_url)
    if db_url.startswith("sqlite"):
        await migrate(engine)
    else:
        await _reset_postgres(engine)
    yield engine
    await engine.dispose()
