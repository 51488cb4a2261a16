"""Property: whatever the interleaving of writes and polls, and however a client keeps changeTime (exactly, or as
whole seconds truncated, rounded half up or rounded up), a client that re-asks from the largest value it kept
ends with every row in its latest state, and each catch-up terminates. Runs the real feed clock, feed query and
changeTime parsing on SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db import feed_clock
from autodialer.adapters.db.engine import create_engine
from autodialer.adapters.db.results_feed import SqlResultsFeed
from autodialer.adapters.db.tables import metadata
from autodialer.adapters.db.transactions import write_transaction
from autodialer.api.routes.results import feed_start

T0 = 1_724_235_073.25


def whole(rounding: str) -> Callable[[str], str]:
    return lambda value: str(Decimal(value).quantize(Decimal(1), rounding=rounding))


KEEPERS: list[Callable[[str], str]] = [
    lambda value: value,
    whole(ROUND_FLOOR),
    whole(ROUND_HALF_UP),
    whole(ROUND_CEILING),
]

writes = st.tuples(
    st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=25),  # rows touched (by phone index)
    st.floats(min_value=0, max_value=2.5),  # wall time advance before the write
)
operations = st.lists(st.one_of(writes, st.integers(min_value=0, max_value=3)), min_size=1, max_size=12)


class Client:
    def __init__(self, keep: Callable[[str], str]) -> None:
        self.keep = keep
        self.cursor = "0"
        self.seen: dict[str, str] = {}

    async def catch_up(self, feed: SqlResultsFeed) -> None:
        for _ in range(100):
            rows = await feed.task_results_since(feed_start(self.cursor))
            fresh = False
            for row in rows:
                phone_id, state = row[2], row[9]
                fresh = fresh or self.seen.get(phone_id) != state
                self.seen[phone_id] = state
            if rows:
                self.cursor = self.keep(max((r[13] for r in rows), key=Decimal))
            if not fresh:
                return
        raise AssertionError("the client never caught up")


async def scenario(path: Path, limit: int, ops: list[object]) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.run_sync(metadata.create_all)
        await connection.execute(text("INSERT INTO feed_clocks (feed, last_us) VALUES ('results', 0)"))
        await connection.execute(text("INSERT INTO tasks (id, crm_id, created_at, updated_at) VALUES (1, 'c', 0, 0)"))
    try:
        await run(engine, limit, ops)
    finally:
        await engine.dispose()


async def run(engine: AsyncEngine, limit: int, ops: list[object]) -> None:
    feed = SqlResultsFeed(engine, page_limit=limit)
    step = feed_clock.step_us(limit)
    clients = [Client(keep) for keep in KEEPERS]
    now, version = T0, 0
    for op in ops:
        if isinstance(op, int):
            await clients[op].catch_up(feed)
            continue
        assert isinstance(op, tuple)
        phones, advance = op
        now += advance
        version += 1
        async with write_transaction(engine) as connection:
            first = await feed_clock.allocate(connection, feed_clock.RESULTS, len(phones), now, step)
            for k, phone in enumerate(phones):
                await connection.execute(
                    text(
                        "INSERT INTO task_numbers (task_id, phone_id, phone, dial_digits, state, change_time_us)"
                        " VALUES (1, :p, :p, :p, :s, :t) ON CONFLICT (task_id, phone_id)"
                        " DO UPDATE SET state = excluded.state, change_time_us = excluded.change_time_us"
                    ),
                    {"p": f"p{phone}", "s": f"v{version}.{k}", "t": first + k * step},
                )
    async with engine.connect() as connection:
        truth = dict((await connection.execute(text("SELECT phone_id, state FROM task_numbers"))).all())
    for client in clients:
        await client.catch_up(feed)
        assert client.seen == truth


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(limit=st.integers(min_value=1, max_value=12), ops=operations)
def test_every_client_gets_every_change(tmp_path: Path, limit: int, ops: list[object]) -> None:
    asyncio.run(scenario(tmp_path / "feed.sqlite3", limit, ops))
