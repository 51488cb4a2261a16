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

Between processes, writers then pass the file's write gate (write_gate.py: flock locks next to the database, waited
for in the kernel, the dialer's engine first) before ``BEGIN IMMEDIATE``, and let go of it after ``COMMIT`` or
``ROLLBACK``; SQLite's busy handler, which polls, is left to writers that do not take the gate.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from autodialer.adapters.db.write_gate import GateTimeout, WriteGate

# How long a writer waits for the other writers of this process before it fails, as SQLite's busy timeout would.
WRITER_WAIT_S = 30.0


class WriteLockTimeout(TimeoutError):
    """A SQLite writer of this process waited too long for another one to commit."""


class NestedWriteTransaction(RuntimeError):
    """A task that holds the SQLite write lock asked for it again: it would wait for itself."""


class _Writers:
    """The write lock of one database file on one event loop, who holds it (for the errors), and the file's
    cross-process gate (None for a database in memory, or when its side files cannot be opened)."""

    def __init__(self, gate: WriteGate | None) -> None:
        self.lock = asyncio.Lock()
        self.holder: asyncio.Task[object] | None = None
        self.active = 0  # writers of this loop waiting or writing
        self.gate = gate
        if gate is not None:
            weakref.finalize(self, gate.close)  # with its event loop: tests make one loop after another


# By event loop, then by database file: two engines on one file (a test's and the service's) share the lock.
_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Writers]] = weakref.WeakKeyDictionary()
# The engines whose writers go first through the gate (create_engine(..., preferred_writer=True): the dialer's).
_preferred: weakref.WeakSet[object] = weakref.WeakSet()


def prefer_writes_of(engine: AsyncEngine) -> None:
    """``engine``'s write transactions go through the cross-process gate before those of other processes."""
    _preferred.add(engine.sync_engine)


def sqlite_in_memory(engine: AsyncEngine) -> bool:
    """Whether a SQLite engine's database lives in memory: no file, so no other process, no gate, no writer loop."""
    database = engine.url.database or ""
    return (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or "mode=memory" in database
        or engine.url.query.get("mode") == "memory"
    )


def _writers_of(engine: AsyncEngine) -> _Writers:
    by_file = _writers.setdefault(asyncio.get_running_loop(), {})
    database = engine.url.database or ""
    in_memory = sqlite_in_memory(engine)
    key = database if in_memory else os.path.realpath(database)
    writers = by_file.get(key)
    if writers is None:
        writers = by_file[key] = _Writers(None if in_memory else WriteGate.open(key))
    return writers


@asynccontextmanager
async def write_transaction(engine: AsyncEngine, *, wait_s: float = WRITER_WAIT_S) -> AsyncIterator[AsyncConnection]:
    """A transaction that holds the write lock from its start (committed at the end, rolled back on an error).

    On SQLite it is taken in this process first (waiting at most ``wait_s`` for other writers of this process:
    WriteLockTimeout), then at the file's gate (at most ``wait_s`` for other processes' gated writers: the same
    error), then in the file (``BEGIN IMMEDIATE``, waiting up to the busy timeout for writers without the gate).
    """
    if engine.dialect.name != "sqlite":
        async with engine.begin() as connection:
            yield connection
        return
    writers = _writers_of(engine)
    me = asyncio.current_task()
    if me is not None and writers.holder is me:
        raise NestedWriteTransaction("this task already holds the SQLite write lock: join its transaction instead")
    writers.active += 1
    try:
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
            async with (
                _gated(writers, preferred=engine.sync_engine in _preferred, wait_s=wait_s),
                engine.begin() as connection,
            ):
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
                yield connection
        finally:
            writers.holder = None
            writers.lock.release()
    finally:
        writers.active -= 1
        if writers.active == 0 and writers.gate is not None:
            writers.gate.idle()


@asynccontextmanager
async def _gated(writers: _Writers, *, preferred: bool, wait_s: float) -> AsyncIterator[None]:
    """The file's gate around a transaction (nothing if there is none). A preferred engine's writers keep the queue
    from their first until no writer of this loop waits or writes (``writers.active``): the dialer's transactions
    that follow one another (a round's, an event batch's) let no other process's in between."""
    if writers.gate is None:
        yield
        return
    try:
        await writers.gate.enter(preferred=preferred, wait_s=wait_s)
    except GateTimeout as e:
        raise WriteLockTimeout(f"SQLite write gate not free after {wait_s:g}s: {e}") from None
    try:
        yield
    finally:
        writers.gate.leave()
