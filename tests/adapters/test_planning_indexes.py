"""The engine's planning questions read the open-number indexes on SQLite, without statistics (issue 11).

SQLite never runs ANALYZE on its own, so the plan for a fresh campaign is the one that counts: ``due_numbers`` must
walk ``ix_task_numbers_open_by_id`` in id order and stop at its limit (no sort of every due row), ``next_due_at`` and
"is any number open" must seek the indexes. The statements are captured from the real store calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.adapters.test_sql_dialer_store import T0, make_task

from autodialer.adapters.db.campaign_repository import SqlCampaignRepository
from autodialer.adapters.db.sql_dialer_store import SqlDialerStore


async def _plan_of(engine: AsyncEngine, call: Callable[[], Awaitable[Any]]) -> list[str]:
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await call()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    assert statements
    plans: list[str] = []
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        for statement, parameters in statements:
            cursor = await raw.driver_connection.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)  # type: ignore[union-attr]
            plans += [row[3] for row in await cursor.fetchall()]
    return plans


@pytest.fixture
async def sqlite_engine(migrated_engine: AsyncEngine) -> AsyncEngine:
    if migrated_engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner without statistics; PostgreSQL's analyzes on its own")
    return migrated_engine


async def test_due_numbers_walk_the_open_rows_in_id_order(sqlite_engine: AsyncEngine) -> None:
    task = await make_task(sqlite_engine, *(f"7900000{i:04d}" for i in range(50)))
    store = SqlDialerStore(sqlite_engine, page_limit=1000)
    plan = await _plan_of(sqlite_engine, lambda: store.due_numbers(task, T0, 5))
    assert any("USING INDEX ix_task_numbers_open_by_id " in step for step in plan), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


async def test_next_due_at_and_open_tasks_seek_the_indexes(sqlite_engine: AsyncEngine) -> None:
    task = await make_task(sqlite_engine, *(f"7900000{i:04d}" for i in range(50)))
    store = SqlDialerStore(sqlite_engine, page_limit=1000)
    for call in (lambda: store.next_due_at(T0), store.open_tasks, lambda: store.get_task(task)):
        plan = await _plan_of(sqlite_engine, call)
        number_steps = [step for step in plan if "task_numbers" in step]
        assert number_steps and all("ix_task_numbers_open" in step for step in number_steps), plan
        # A seek, not a walk of the whole index: "SCAN … USING INDEX ix_task_numbers_open_due" for each task's
        # "any number open" read every open row of the tasks before it (a paused 750,000-number task made each
        # read of the open tasks take ~1.4 s and idle dialing fall from 18 to 6-8 Originates/s).
        assert all(step.startswith("SEARCH ") for step in number_steps), plan


async def test_the_sweep_after_task_changes_reads_the_rows_written_since_along_the_feed_index(
    sqlite_engine: AsyncEngine,
) -> None:
    await make_task(sqlite_engine, *(f"7900000{i:04d}" for i in range(50)))
    store = SqlDialerStore(sqlite_engine, page_limit=1000)
    await store.close_written_do_not_call(T0)  # the first: every open row
    plan = await _plan_of(sqlite_engine, lambda: store.close_written_do_not_call(T0))
    number_steps = [step for step in plan if "task_numbers" in step]
    # not a walk of every open row (0.25 s per task change with a paused 750,000-number task in the database)
    assert number_steps == ["SEARCH task_numbers USING INDEX ix_task_numbers_change_time_us_id (change_time_us>?)"]


async def test_a_campaigns_number_counts_read_one_covering_index(sqlite_engine: AsyncEngine) -> None:
    task = await make_task(sqlite_engine, *(f"7900000{i:04d}" for i in range(50)))
    repo = SqlCampaignRepository(sqlite_engine, page_limit=1000, render_params=str)
    plan = await _plan_of(sqlite_engine, lambda: repo.number_counts(task))
    # Not a look-up of each row (0.66 s of CPU per count at 1,000,000 numbers, ~0.09 s from the index alone), and
    # grouped in the index's order (no sort of the campaign's rows).
    assert plan == ["SEARCH task_numbers USING COVERING INDEX ix_task_numbers_counts (task_id=?)"]
    assert await repo.number_counts(task) == ({"CreateTask": 50}, {"": 50})
