"""Write transactions run on an event loop of their own, in a thread, so a busy API loop cannot stretch them.

A SQLite write transaction through aiosqlite makes one round trip to the connection's thread per statement, and
each ends with a callback on the event loop that sent it. On the API worker's loop, serving a hundred requests a
second and a 750,000-number GET, each such turn waited ~100 ms for the callbacks queued before it: a 5-number
``POST /task`` (BEGIN, 7 statements, COMMIT) held the file's write lock 868 ms (p50; up to 1.5 s), where the same
transaction took 5 ms on a quiet loop, and the dialer, which needs that lock for every round and call end, waited.
On a loop of its own: 242 ms p50, 94 ms with the worker's GIL handed over every 0.5 ms instead of 5 (the rest is
waiting for the GIL: bootstrap_processes' API_WORKER_SWITCH_INTERVAL_S).

``WriterLoop`` runs a unit of work (a coroutine function given an engine) on a loop that does nothing else, with an
engine of its own on the same file, and hands the result or the error back to the caller's loop. Its writers take
the same locks as any other (transactions.write_transaction: the loop's own queue, then the file's gate, which the
kernel arbitrates between loops of one process as between processes), so nothing about atomicity changes: the unit
of work is the same transaction, only its statements no longer wait behind unrelated work. Cancelling the caller
cancels the unit (rolled back). Only for SQLite files: PostgreSQL has no file lock to hold, and a database in memory
would be another database on another engine.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.engine import create_engine
from autodialer.adapters.db.transactions import sqlite_in_memory

T = TypeVar("T")


class WriterLoop:
    """An event loop in a daemon thread and an engine on it for ``url``; started on first use, ``aclose`` ends
    both."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._engine: AsyncEngine | None = None
        self._start = threading.Lock()

    @staticmethod
    def serves(engine: AsyncEngine) -> bool:
        """Whether ``engine``'s database is a SQLite file (the only case a WriterLoop is for)."""
        return engine.dialect.name == "sqlite" and not sqlite_in_memory(engine)

    async def run(self, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
        """``work(engine)`` on the writer loop; its result or its error here."""
        loop, engine = self._started()

        async def unit() -> T:
            return await work(engine)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(unit(), loop))

    async def aclose(self) -> None:
        loop, thread, engine = self._loop, self._thread, self._engine
        if loop is None or thread is None or engine is None:
            return
        self._loop = self._thread = self._engine = None
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(engine.dispose(), loop))
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join)
        loop.close()

    def _started(self) -> tuple[asyncio.AbstractEventLoop, AsyncEngine]:
        with self._start:
            if self._loop is None or self._engine is None:
                loop = asyncio.new_event_loop()
                self._engine = create_engine(self._url)
                self._thread = threading.Thread(target=loop.run_forever, name="sqlite-writer", daemon=True)
                self._thread.start()
                self._loop = loop
            return self._loop, self._engine
