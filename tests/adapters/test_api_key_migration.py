"""Migration 0013 gives API keys a scope and makes every key that existed ``write``, so a deployment's keys keep
doing what they did (SQLite and PostgreSQL, each a fresh database brought to 0012 first)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.auth_repository import SqlAuthRepository
from autodialer.adapters.db.engine import create_engine, migrate
from autodialer.domain.api_scopes import ApiScope
from autodialer.services.auth_service import AuthPolicy, AuthService, Principal, token_hash

T0 = 1_780_000_000.0
OLD_KEY = "adk_0123456789ab_an-old-secret"


async def _admin(url: str, sql: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all (the shared PostgreSQL test database is already at head)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
        return
    head = str(request.getfixturevalue("pg_url")).rpartition("/")[0]
    name = f"autodialer_scopes_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    asyncio.run(_admin(f"{head}/postgres", f'CREATE DATABASE "{name}"'))
    try:
        yield f"{head}/{name}"
    finally:
        asyncio.run(_admin(f"{head}/postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def empty_engine(empty_db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(empty_db_url)
    yield engine
    await engine.dispose()


async def test_keys_made_before_scopes_stay_write(empty_engine: AsyncEngine) -> None:
    await migrate(empty_engine, "0012")
    async with empty_engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO api_keys (name, prefix, key_hash, created_at) VALUES ('crm-1c', :p, :h, :t)"),
            {"p": "0123456789ab", "h": token_hash(OLD_KEY), "t": T0},
        )
    await migrate(empty_engine)
    service = AuthService(SqlAuthRepository(empty_engine), AuthPolicy("admin", "", 3600, 900, 10, 300), lambda: T0)
    assert await service.bearer_principal(OLD_KEY) == Principal("api-key", "crm-1c", ApiScope.WRITE)
    reader = await service.create_api_key("reports", ApiScope.READ)
    assert await service.bearer_principal(reader.key) == Principal("api-key", "reports", ApiScope.READ)
    assert [(k.name, k.scope) for k in await service.api_keys()] == [
        ("crm-1c", ApiScope.WRITE),
        ("reports", ApiScope.READ),
    ]
