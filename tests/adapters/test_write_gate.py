"""SQLite writers of different processes meet at the file's write gate (adapters/db/write_gate.py), in the kernel,
not in SQLite's busy handler; the dialer's engine (preferred) goes before writers that came after it.

The other writers are real processes (this file's WRITER) on the same file. Every engine here has a busy timeout of
50 ms: a writer that reached ``BEGIN IMMEDIATE`` while another process held SQLite's lock would fail with "database
is locked" at once, so each write that succeeds below waited at the gate. That a writer is waiting is read from the
kernel's lock table (/proc/locks), never from a sleep.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.engine import create_engine
from autodialer.adapters.db.transactions import WriteLockTimeout, write_transaction

SRC = Path(__file__).resolve().parents[2] / "src"
BUSY_TIMEOUT_S = 0.05

# argv: database, label, "preferred" or "normal". Inserts its label in one write transaction, says "holding", and
# commits when a line comes on stdin.
WRITER = """
import asyncio, sys
from sqlalchemy import text
from autodialer.adapters.db.engine import create_engine
from autodialer.adapters.db.transactions import write_transaction

async def main(path, label, preferred):
    engine = create_engine(f"sqlite+aiosqlite:///{path}", busy_timeout_s=BUSY_TIMEOUT_S, preferred_writer=preferred)
    print("waiting", flush=True)
    async with write_transaction(engine) as connection:
        await connection.execute(text("INSERT INTO t (label) VALUES (:label)"), {"label": label})
        print("holding", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
    print("committed", flush=True)
    await engine.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] == "preferred"))
""".replace("BUSY_TIMEOUT_S", repr(BUSY_TIMEOUT_S))


class Writer:
    """A writer process: ``said`` waits for one of its lines, ``commit`` lets it commit."""

    def __init__(self, database: Path, label: str, *, preferred: bool = False) -> None:
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        argv = [sys.executable, "-c", WRITER, str(database), label, "preferred" if preferred else "normal"]
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)

    async def said(self, expected: str) -> None:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), 30)
        assert line.strip() == expected

    def commit(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()

    async def done(self) -> None:
        await self.said("committed")
        assert await asyncio.to_thread(self.process.wait, 30) == 0

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / "gate.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.connect() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL)")
        await connection.commit()
    await engine.dispose()
    yield path


def engine_on(database: Path, *, preferred: bool = False) -> AsyncEngine:
    return create_engine(f"sqlite+aiosqlite:///{database}", busy_timeout_s=BUSY_TIMEOUT_S, preferred_writer=preferred)


async def insert(engine: AsyncEngine, label: str) -> None:
    async with write_transaction(engine) as connection:
        await connection.execute(text("INSERT INTO t (label) VALUES (:label)"), {"label": label})


async def labels(database: Path) -> list[str]:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(text("SELECT label FROM t ORDER BY id"))).scalars())
    finally:
        await engine.dispose()


async def someone_waits_for(lock_file: Path, waiters: int = 1) -> None:
    """Until the kernel's lock table shows ``waiters`` processes or threads blocked on ``lock_file``'s flock."""
    inode = f":{os.stat(lock_file).st_ino} "
    for _ in range(3000):
        table = Path("/proc/locks").read_text().splitlines()
        if sum(1 for line in table if "->" in line and "FLOCK" in line and inode in line) >= waiters:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"nobody waits for {lock_file.name}")


def gate_of(database: Path) -> Path:
    return database.with_name(database.name + "-writer")


def queue_of(database: Path) -> Path:
    return database.with_name(database.name + "-writer-queue")


async def test_a_writer_waits_for_another_process_at_the_gate_and_writes_once_it_commits(database: Path) -> None:
    holder = Writer(database, "holder")
    engine = engine_on(database)
    try:
        await holder.said("waiting")
        await holder.said("holding")
        waiting = asyncio.create_task(insert(engine, "waiter"))
        await someone_waits_for(gate_of(database))
        assert not waiting.done()
        holder.commit()
        await asyncio.wait_for(waiting, 30)  # before the gate: "database is locked" after the 50 ms busy timeout
        await holder.done()
        assert await labels(database) == ["holder", "waiter"]
    finally:
        holder.kill()
        await engine.dispose()


async def test_the_dialer_waits_for_the_transaction_under_way_and_goes_before_writers_that_came_after_it(
    database: Path,
) -> None:
    """Its transactions queued one after another (a round's, an event batch's) all go before the other process's:
    the dialer keeps the queue until it has no writer waiting."""
    api_first = Writer(database, "api 1")
    dialer = engine_on(database, preferred=True)
    api_next: Writer | None = None
    try:
        await api_first.said("waiting")
        await api_first.said("holding")
        dialing = [asyncio.create_task(insert(dialer, f"dialer {k}")) for k in (1, 2)]
        await someone_waits_for(gate_of(database))  # dialer 1, holding the queue; dialer 2 behind it in this process
        api_next = Writer(database, "api 2")
        api_next.commit()  # it will commit as soon as it holds the lock
        await api_next.said("waiting")
        await someone_waits_for(queue_of(database))  # api 2, behind the dialer
        api_first.commit()
        await asyncio.wait_for(asyncio.gather(*dialing), 30)
        await api_first.done()
        await api_next.said("holding")
        await api_next.done()
        assert await labels(database) == ["api 1", "dialer 1", "dialer 2", "api 2"]
    finally:
        api_first.kill()
        if api_next is not None:
            api_next.kill()
        await dialer.dispose()


async def test_while_the_dialer_writes_other_processes_wait_behind_it_not_at_the_gate(database: Path) -> None:
    """A preferred writer keeps the queue for its whole transaction, so when it commits nobody but the next
    preferred writer can be at the gate already."""
    dialer = Writer(database, "dialer", preferred=True)
    api = engine_on(database)
    try:
        await dialer.said("waiting")
        await dialer.said("holding")
        writing = asyncio.create_task(insert(api, "api"))
        await someone_waits_for(queue_of(database))
        assert "->" not in _lines_on(gate_of(database))
        dialer.commit()
        await asyncio.wait_for(writing, 30)
        await dialer.done()
        assert await labels(database) == ["dialer", "api"]
    finally:
        dialer.kill()
        await api.dispose()


def _lines_on(lock_file: Path) -> str:
    inode = f":{os.stat(lock_file).st_ino} "
    return "\n".join(line for line in Path("/proc/locks").read_text().splitlines() if inode in line)


async def test_a_writer_killed_with_the_gate_held_frees_it_and_its_transaction_is_rolled_back(database: Path) -> None:
    holder = Writer(database, "killed")
    engine = engine_on(database)
    try:
        await holder.said("waiting")
        await holder.said("holding")
        waiting = asyncio.create_task(insert(engine, "after"))
        await someone_waits_for(gate_of(database))
        holder.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(waiting, 30)
        assert await labels(database) == ["after"]
    finally:
        holder.kill()
        await engine.dispose()


async def test_a_writer_that_gives_up_at_the_gate_leaves_it_free_for_the_others(database: Path) -> None:
    holder = Writer(database, "holder")
    engine = engine_on(database)
    try:
        await holder.said("waiting")
        await holder.said("holding")
        with pytest.raises(WriteLockTimeout, match=r"write gate not free after 0\.2s"):
            async with write_transaction(engine, wait_s=0.2):
                pass
        holder.commit()
        await holder.done()
        # the thread that waited for it still got the gate once the holder let go; it must have let go at once
        later = Writer(database, "later")
        try:
            later.commit()
            await later.said("waiting")
            await later.said("holding")
            await later.done()
        finally:
            later.kill()
        await insert(engine, "ours")
        assert await labels(database) == ["holder", "later", "ours"]
    finally:
        holder.kill()
        await engine.dispose()


async def test_a_database_whose_side_file_cannot_be_opened_has_no_gate_and_still_writes(tmp_path: Path) -> None:
    path = tmp_path / "ro.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT)")
            await connection.commit()
        os.symlink(tmp_path / "missing" / "gate", gate_of(path))  # a side file that cannot be opened
        await insert(engine, "written")
        assert await labels(path) == ["written"]
    finally:
        await engine.dispose()
