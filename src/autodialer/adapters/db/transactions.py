"""Write transactions that take the write lock first, on both back ends.

Python's sqlite3 begins a transaction lazily, at the first INSERT/UPDATE/DELETE, so a transaction that reads before
it writes (look a task up, then insert it) runs its reads on a snapshot and must later upgrade to the write lock.
In WAL mode that upgrade fails with "database is locked" when another connection committed in between, and the busy
timeout does not help. ``BEGIN IMMEDIATE`` takes the write lock before the first read. PostgreSQL needs nothing:
its row locks and unique keys do the work.

SQLite writers of this process queue on an asyncio lock (one per database file and event loop) before they take a
connection, never inside SQLite. A connection waiting in SQLite's busy handler does it in aiosqlite's worker thread
*holding that connection's mutex*; anything the event loop thread then does to the same connection waits for the
mutex. The garbage collector does such things at any allocation: a cursor whose statement failed (a constraint, a
trigger) is kept by its exception's traceback cycle, and freeing it resets the statement, under the mutex. So the
loop stopped until the busy timeout (30 s), and the transaction the waiter waited for, run by a coroutine on that
same loop, could never commit: a deadlock broken only by the timeout, seen as a request hanging 30 s (5 runs in 40
of the crash-recovery end-to-end test under CPU load). Queued here, a writer holds no connection while it waits, and
a worker thread only ever waits in SQLite for another process (bounded by that process, not by our loop). Every
write on SQLite goes through ``write_transaction`` (tests/adapters/test_write_transactions.py checks the sources).
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# How long a writer waits for the other writers of this process before it fails, as SQLite's busy timeout would.
WRITER_WAIT_S = 30.0


class WriteLockTimeout(TimeoutError):
    """A SQLite writer of this process waited too long for another one to commit."""


class NestedWriteTransaction(RuntimeError):
    """A task that holds the SQLite write lock asked for it again: it would wait for itself."""


class _Writers:
    """The write lock of one database file on one event loop, and who holds it (for the errors)."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.holder: asyncio.Task[object] | None = None


# By event loop, then by database file: two engines on one file (a test's and the service's) share the lock.
_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Writers]] = weakref.WeakKeyDictionary()


def _writers_of(engine: AsyncEngine) -> _Writers:
    by_file = _writers.setdefault(asyncio.get_running_loop(), {})
    database = engine.url.database or ""
    key = database if database in ("", ":memory:") else os.path.realpath(database)
    writers = by_file.get(key)
    if writers is None:
        writers = by_file[key] = _Writers()
    return writers


@asynccontextmanager
async def write_transaction(engine: AsyncEngine, *, wait_s: float = WRITER_WAIT_S) -> AsyncIterator[AsyncConnection]:
    """A transaction that holds the write lock from its start (committed at the end, rolled back on an error).

    On SQLite it is taken in this process first (waiting at most ``wait_s`` for other writers of this process:
    WriteLockTimeout), then in the file (``BEGIN IMMEDIATE``, waiting up to the busy timeout for other processes).
    """
    if engine.dialect.name != "sqlite":
        async with engine.begin() as connection:
            yield connection
        return
    writers = _writers_of(engine)
    me = asyncio.current_task()
    if me is not None and writers.holder is me:
        raise NestedWriteTransaction("this task already holds the SQLite write lock: join its transaction instead")
    try:
        async with asyncio.timeout(wait_s):
            await writers.lock.acquire()
    except TimeoutError:
        holder = writers.holder.get_name() if writers.holder is not None else "unknown"
        raise WriteLockTimeout(
            f"SQLite write lock of this process not free after {wait_s:g}s (held by task {holder!r})"
        ) from None
    writers.holder = me
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection
    finally:
        writers.holder = None
        writers.lock.release()
