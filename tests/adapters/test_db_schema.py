"""The migrations build exactly the schema the code declares, on both back ends."""

from __future__ import annotations

import warnings
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.tables import FIRST_TASK_ID, metadata

# Alembic cannot reflect an index on an expression; it is checked by name and by the planner's use below.
EXPRESSION_INDEXES = {"ix_task_numbers_open_due", "ix_task_numbers_open_by_id"}


def _comparable(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


async def test_migrations_match_the_declared_schema(migrated_engine: AsyncEngine) -> None:
    def diff(sync_connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(
            sync_connection, opts={"compare_type": True, "include_object": _comparable}
        )
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
            return compare_metadata(context, metadata)

    async with migrated_engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_expression_indexes_exist(migrated_engine: AsyncEngine) -> None:
    sqlite = migrated_engine.dialect.name == "sqlite"
    query = "SELECT name FROM sqlite_master WHERE type = 'index'" if sqlite else "SELECT indexname FROM pg_indexes"
    async with migrated_engine.connect() as connection:
        names = set((await connection.execute(text(query))).scalars())
    assert names >= EXPRESSION_INDEXES


async def test_task_ids_start_where_mikopbx_starts_them(migrated_engine: AsyncEngine) -> None:
    async with migrated_engine.begin() as connection:
        first = await connection.execute(
            text("INSERT INTO tasks (crm_id, created_at, updated_at) VALUES ('a', 0, 0) RETURNING id")
        )
        second = await connection.execute(
            text("INSERT INTO tasks (crm_id, created_at, updated_at) VALUES ('b', 0, 0) RETURNING id")
        )
        assert (first.scalar_one(), second.scalar_one()) == (FIRST_TASK_ID, FIRST_TASK_ID + 1)


async def test_feed_clocks_are_seeded(migrated_engine: AsyncEngine) -> None:
    async with migrated_engine.connect() as connection:
        rows = (await connection.execute(text("SELECT feed, last_us FROM feed_clocks ORDER BY feed"))).all()
    assert [tuple(r) for r in rows] == [("polling_results", 0), ("results", 0)]
