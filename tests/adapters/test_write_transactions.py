"""SQLite writers of one process queue in the process, never in SQLite's busy handler (adapters/db/transactions.py).

The hang this guards against (the crash-recovery end-to-end test's ``POST /task`` timing out): a writer waiting in
the busy handler does it in aiosqlite's worker thread holding its connection's mutex; the garbage collector, run by
the event loop thread at any allocation, frees a cursor whose statement failed on that connection and so waits for
the mutex; the loop stops, and the transaction the writer waits for, run on that loop, can never commit until the
busy timeout.
"""

from __future__ import annotations

import asyncio
import gc
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.engine import create_engine
from autodialer.adapters.db.transactions import NestedWriteTransaction, WriteLockTimeout, write_transaction

SRC = Path(__file__).resolve().parents[2] / "src" / "autodialer"


@pytest.fixture
def no_gc() -> Iterator[None]:
    """The collector runs when the test says, not at some allocation of its choosing."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _scratch(tmp_path: Path, busy_timeout_s: float = 30.0) -> AsyncEngine:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite3'}", busy_timeout_s=busy_timeout_s)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, state TEXT NOT NULL)")
        await connection.exec_driver_sql("INSERT INTO t (id, state) VALUES (1, 'created')")
        await connection.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE UPDATE OF state ON t WHEN NEW.state = 'sending' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    return engine


async def test_a_failed_statement_freed_while_another_writer_waits_does_not_stop_the_event_loop(
    tmp_path: Path, no_gc: None
) -> None:
    # A short busy timeout bounds the failure without the fix: the loop stood still for all of it (30 s in service).
    engine = await _scratch(tmp_path, busy_timeout_s=5.0)
    try:
        # Both pooled connections get a statement that failed, kept alive (as a traceback cycle keeps it until the
        # collector runs) by its exception: whichever connection the waiting writer takes holds one.
        failures: list[IntegrityError] = []
        async with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                with pytest.raises(IntegrityError) as caught:
                    await connection.execute(text("UPDATE t SET state = 'sending'"))
                failures.append(caught.value)
                await connection.rollback()

        entered, release = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            async with write_transaction(engine) as connection:
                await connection.execute(text("INSERT INTO t (state) VALUES ('holder')"))
                entered.set()
                await release.wait()  # an API request's transaction, between two of its statements

        async def waiter() -> None:
            async with write_transaction(engine) as connection:
                await connection.execute(text("INSERT INTO t (state) VALUES ('waiter')"))

        holding = asyncio.create_task(holder())
        await entered.wait()
        waiting = asyncio.create_task(waiter())
        await asyncio.sleep(0.3)  # the waiter reaches its wait (before the fix: BEGIN IMMEDIATE in the busy handler)

        started = time.monotonic()
        failures.clear()
        gc.collect(0)  # what the event loop thread does at any allocation (everything since no_gc is generation 0)
        stood_still = time.monotonic() - started

        release.set()
        outcomes = await asyncio.wait_for(asyncio.gather(holding, waiting, return_exceptions=True), 10)
        assert stood_still < 1.0, f"the event loop stood still {stood_still:.1f}s freeing a failed statement"
        assert list(outcomes) == [None, None]  # before the fix: the waiter's BEGIN IMMEDIATE ran out of busy timeout
        async with engine.connect() as connection:
            states = (await connection.execute(text("SELECT state FROM t ORDER BY id"))).scalars().all()
        assert states == ["created", "holder", "waiter"]
    finally:
        await engine.dispose()


async def test_writers_of_the_process_take_no_connection_while_they_queue(tmp_path: Path) -> None:
    engine = await _scratch(tmp_path)
    try:
        entered, release = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            async with write_transaction(engine):
                entered.set()
                await release.wait()

        async def writer(k: int) -> None:
            async with write_transaction(engine) as connection:
                await connection.execute(text("INSERT INTO t (state) VALUES (:s)"), {"s": f"w{k}"})

        holding = asyncio.create_task(holder())
        await entered.wait()
        writers = [asyncio.create_task(writer(k)) for k in range(20)]  # more than the pool holds (5 + 10)
        for _ in range(20):
            await asyncio.sleep(0)
        assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        release.set()
        await asyncio.wait_for(asyncio.gather(holding, *writers), 10)
        async with engine.connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM t WHERE state LIKE 'w%'"))).scalar_one()
        assert count == 20
    finally:
        await engine.dispose()


async def test_a_writer_that_waits_too_long_or_for_itself_gets_a_clear_error(tmp_path: Path) -> None:
    engine = await _scratch(tmp_path)
    try:
        async with write_transaction(engine):
            with pytest.raises(NestedWriteTransaction, match="already holds the SQLite write lock"):
                async with write_transaction(engine):
                    pass

            async def other() -> None:
                async with write_transaction(engine, wait_s=0.05):
                    pass

            with pytest.raises(WriteLockTimeout, match=r"not free after 0.05s \(held by task"):
                await asyncio.create_task(other())
        async with write_transaction(engine, wait_s=0.05) as connection:  # released after all of that
            await connection.execute(text("INSERT INTO t (state) VALUES ('after')"))
    finally:
        await engine.dispose()


def test_every_write_on_the_database_goes_through_write_transaction() -> None:
    """``engine.begin()`` (a writer that would queue in SQLite) only where the lock itself and migrations use it."""
    allowed = {SRC / "adapters/db/transactions.py", SRC / "adapters/db/engine.py"}
    offenders = [
        f"{path.relative_to(SRC)}:{n}"
        for path in sorted(SRC.rglob("*.py"))
        if path not in allowed and "simulator" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.begin\(\)", line)
    ]
    assert offenders == []
