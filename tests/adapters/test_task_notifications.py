"""PostgreSQL LISTEN/NOTIFY between instances (adapters/db/task_notifications): another instance's write wakes
this dialer, its own (or its API worker's) does not, a burst wakes it once or twice, a lost LISTEN comes back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.engine import create_engine
from autodialer.adapters.db.task_notifications import PgTaskListener, PgTaskNotifier, is_postgresql
from autodialer.api.app import MODULE_PREFIX
from autodialer.bootstrap import build_service
from autodialer.settings import load_settings

pytestmark = pytest.mark.postgres


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(pg_url)
    yield engine
    await engine.dispose()


async def listening(url: str, own: str, wakes: list[int]) -> PgTaskListener:
    listener = PgTaskListener(url, own, lambda: wakes.append(1))
    listener.start()
    await asyncio.wait_for(listener.listening.wait(), 10)
    return listener


async def until(predicate: object, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_another_instances_write_wakes_the_dialer_and_its_own_does_not(pg_url: str, db: AsyncEngine) -> None:
    assert is_postgresql(pg_url) and not is_postgresql("sqlite+aiosqlite:///x.db")
    wakes: list[int] = []
    listener = await listening(pg_url, "host:1", wakes)
    try:
        own = PgTaskNotifier(db, "host:1")  # this instance, or its API worker
        own()
        await until(lambda: own.sent == 1)
        other = PgTaskNotifier(db, "host:2")
        other()
        await until(lambda: wakes == [1])
        await asyncio.sleep(0.3)
        assert wakes == [1]  # the own notify, sent first, never woke it
    finally:
        await listener.stop()


async def test_a_burst_of_writes_sends_one_or_two_notifies(pg_url: str, db: AsyncEngine) -> None:
    wakes: list[int] = []
    listener = await listening(pg_url, "host:1", wakes)
    try:
        notifier = PgTaskNotifier(db, "host:2")
        for _ in range(100):
            notifier()
        await until(lambda: notifier.sent >= 1 and len(wakes) >= 1)
        await asyncio.sleep(0.3)
        assert notifier.sent <= 2 and 1 <= len(wakes) <= 2
    finally:
        await listener.stop()


async def test_a_lost_listen_connection_comes_back(pg_url: str, db: AsyncEngine) -> None:
    wakes: list[int] = []
    listener = await listening(pg_url, "host:1", wakes)
    try:
        listener.listening.clear()
        async with db.connect() as connection:
            await connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN autodialer%'")
            )
            await connection.commit()
        await asyncio.wait_for(listener.listening.wait(), 10)
        notifier = PgTaskNotifier(db, "host:2")
        notifier()
        await until(lambda: wakes == [1])
    finally:
        await listener.stop()


async def test_a_task_posted_on_an_api_only_instance_wakes_a_dialer_elsewhere(pg_url: str, tmp_path: Path) -> None:
    settings = load_settings(environment="test", data_dir=tmp_path, database_url=pg_url, dialer_enabled=False)
    service = await build_service(settings)
    wakes: list[int] = []
    dialer_elsewhere = await listening(pg_url, "other-host:1", wakes)
    transport = httpx.ASGITransport(app=service.app, client=("127.0.0.1", 50123))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            body = {"name": "n", "innerNum": "201", "numbers": ["5550001"]}
            reply = await client.post(f"{MODULE_PREFIX}/task", content=json.dumps(body))
            assert reply.json()["result"] is True
        await until(lambda: wakes == [1])
    finally:
        await dialer_elsewhere.stop()
        await service.db.dispose()
