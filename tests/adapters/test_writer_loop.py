"""Task writes on a loop of their own (adapters/db/writer_loop.py): a unit of work commits however busy the caller's
event loop is, and its answer or its error comes back to the caller as if it had run there."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.engine import create_engine, migrate
from autodialer.adapters.db.task_repository import NumberColumns, NumberRow, SqlTaskRepository
from autodialer.adapters.db.transactions import write_transaction
from autodialer.adapters.db.writer_loop import WriterLoop
from autodialer.domain.mikopbx_tasks import TaskConflict

T0 = 1_724_235_073.0


@pytest.fixture
async def url(tmp_path: Path) -> AsyncIterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite3'}"
    engine = create_engine(url)
    await migrate(engine)
    async with write_transaction(engine) as connection:
        await connection.exec_driver_sql("CREATE TABLE scratch (id INTEGER PRIMARY KEY, label TEXT NOT NULL)")
    await engine.dispose()
    yield url


@pytest.fixture
async def writer(url: str) -> AsyncIterator[WriterLoop]:
    writer = WriterLoop(url)
    yield writer
    await writer.aclose()


def numbers(*phones: str) -> list[NumberColumns]:
    return [NumberColumns.of([NumberRow(i, p, p, p[-10:], "{}", "", 0) for i, p in enumerate(phones)])]


async def test_a_unit_of_work_commits_while_the_callers_loop_stands_still(url: str, writer: WriterLoop) -> None:
    committed = threading.Event()

    async def unit(engine: AsyncEngine) -> int:
        async with write_transaction(engine) as connection:
            for k in range(5):  # a statement each: each would need the caller's loop if run there
                await connection.execute(text("INSERT INTO scratch (label) VALUES (:k)"), {"k": str(k)})
        committed.set()
        return threading.get_ident()

    running = asyncio.create_task(writer.run(unit))
    await asyncio.sleep(0)  # the unit is handed over
    assert committed.wait(30)  # this loop stands still meanwhile (a long callback: a page of a big GET rendered)
    assert await running != threading.get_ident()
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM scratch"))).scalar_one()
        assert count == 5
    finally:
        await engine.dispose()


async def test_task_writes_through_the_writer_answer_and_refuse_as_on_the_callers_loop(
    url: str, writer: WriterLoop
) -> None:
    engine = create_engine(url)
    repository = SqlTaskRepository(engine, page_limit=10_000, writer=writer)
    try:
        saved = await repository.save_task(
            task_id=None,
            crm_id="crm-1",
            columns={"inner_num": "201", "max_count_channels": 2},
            numbers=numbers("79001112233", "79001112244"),
            number_count=2,
            now=T0,
        )
        assert saved.created and saved.task.crm_id == "crm-1"
        with pytest.raises(TaskConflict):
            await repository.save_task_row(
                task_id=None,
                crm_id="crm-1",
                columns={"inner_num": "201"},
                numbers=None,
                number_count=0,
                now=T0,
                create_only=True,
            )
        assert await repository.delete_task(saved.task.id, T0)
        assert await repository.task(saved.task.id) is None
    finally:
        await engine.dispose()


async def test_a_cancelled_caller_rolls_its_unit_back(url: str, writer: WriterLoop) -> None:
    inside, never = threading.Event(), asyncio.Event()

    async def unit(engine: AsyncEngine) -> None:
        async with write_transaction(engine) as connection:
            await connection.execute(text("INSERT INTO scratch (label) VALUES ('rolled back')"))
            inside.set()
            await never.wait()  # an event of the writer's loop: only the cancellation ends this

    running = asyncio.create_task(writer.run(unit))
    assert await asyncio.to_thread(inside.wait, 30)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running

    async def count(engine: AsyncEngine) -> int:
        async with write_transaction(engine) as connection:  # the lock is free again: the unit ended
            return int((await connection.execute(text("SELECT count(*) FROM scratch"))).scalar_one())

    assert await writer.run(count) == 0


def test_only_sqlite_files_are_served() -> None:
    assert WriterLoop.serves(create_engine("sqlite+aiosqlite:////tmp/x.sqlite3"))
    assert WriterLoop.serves(create_engine("sqlite+aiosqlite:////tmp/memory.sqlite3"))
    assert not WriterLoop.serves(create_engine("sqlite+aiosqlite:///:memory:"))
    assert not WriterLoop.serves(create_engine("postgresql+psycopg://u@127.0.0.1/db"))
