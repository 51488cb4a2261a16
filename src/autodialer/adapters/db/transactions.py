"""Write transactions that take the write lock first, on both back ends.

Python's sqlite3 begins a transaction lazily, at the first INSERT/UPDATE/DELETE, so a transaction that reads before
it writes (look a task up, then insert it) runs its reads on a snapshot and must later upgrade to the write lock.
In WAL mode that upgrade fails with "database is locked" when another connection committed in between, and the busy
timeout does not help. ``BEGIN IMMEDIATE`` takes the write lock (waiting up to the busy timeout) before the first
read, so SQLite writers simply queue. PostgreSQL needs nothing: its row locks and unique keys do the work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield connection
