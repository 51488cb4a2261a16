"""The SQLite write lock between processes, taken in the kernel (flock) before ``BEGIN IMMEDIATE``, dialer first.

Two processes on one SQLite file (serve's dialer and its API worker, a CLI command) meet at the file's write lock.
Left to SQLite, a writer that finds it taken sleeps in the busy handler in steps of up to 100 ms and looks again:
it wakes late after the holder commits, and meanwhile the holder's process may have begun its next transaction, so a
waiting dialer could lose the lock to API write after API write (measured: the dialer's ``BEGIN IMMEDIATE`` waited
up to 1.9 s, p99 1.0 s, under 100 API requests/s). Here every writer first takes flock locks on two side files next
to the database, whose waiters the kernel wakes the moment the holder lets go:

* ``<database>-writer``, the gate: held from before ``BEGIN IMMEDIATE`` until after ``COMMIT``/``ROLLBACK``. Between
  gated writers SQLite's busy handler has nothing left to wait for; it stays the safety net for writers that do not
  take the gate (migrations, the sqlite3 shell, an older build).
* ``<database>-writer-queue``, the queue: a writer takes it before the gate. A *preferred* writer (the dialer's
  engine, ``create_engine(..., preferred_writer=True)``) keeps it while any writer of its event loop waits or writes
  (transactions.py lets go with ``idle``); any other lets go of it as soon as it holds the gate. So while the
  dialer waits or writes, no other writer can reach the gate, and the gate's only other claimant is the one
  transaction already under way (with several other processes writing, one more: the one that took the queue
  before the dialer): the dialer waits for at most that, never for a queue of API transactions.

flock locks belong to the open file (each gate opens its own), so they exclude other processes and other event
loops of this process alike, and the kernel drops them when the process dies, ``kill -9`` included: a crashed
holder never leaves the file locked. A lock not free at once is waited for in a daemon thread of its own (the event
loop never blocks; one such thread at most per lock, since writers of one loop queue before they get here: see
transactions.py); a waiter that gives up (timeout, cancellation) leaves the thread waiting, and the lock it gets is
handed to the next writer of this loop that asks, or let go at once if none does. If the side files cannot be opened
(a read-only directory where they do not exist yet) there is no gate and SQLite's busy timeout does it all, as before.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


class GateTimeout(TimeoutError):
    """The cross-process write gate was not free within the wait."""


@dataclass
class _Flock:
    """One side file's exclusive flock, taken without blocking the event loop."""

    path: str
    fd: int
    held: bool = False
    # the thread's acquisition under way (None: none), and whether a writer is waiting for it now
    _landing: asyncio.Future[None] | None = None
    _awaited: bool = False
    _thread_running: bool = False
    _closed: bool = False
    _mutex: threading.Lock = field(default_factory=threading.Lock, repr=False)

    async def acquire(self, deadline: float) -> None:
        assert not self.held, f"{self.path}: flock taken twice by one gate"
        if self._landing is None:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._start_thread()
            else:
                self.held = True
                return
        landing = self._landing
        assert landing is not None
        self._awaited = True
        try:
            async with asyncio.timeout_at(deadline):
                await asyncio.shield(landing)
        except BaseException as e:  # a timeout, the writer cancelled, the thread's flock failed
            self._awaited = False
            if landing.done():
                self._landing = None
                if not landing.cancelled() and landing.exception() is None:  # it came as we gave up
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
            if isinstance(e, TimeoutError):
                raise GateTimeout(f"{self.path}: not free in time") from None
            raise
        self._awaited = False
        self._landing = None
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._mutex:
            self._closed = True
            self.held = False
            if self._thread_running:
                return
        os.close(self.fd)

    def _start_thread(self) -> None:
        loop = asyncio.get_running_loop()
        landing: asyncio.Future[None] = loop.create_future()
        self._landing = landing
        self._thread_running = True
        threading.Thread(target=self._wait_in_thread, args=(loop, landing), name="sqlite-gate", daemon=True).start()

    def _wait_in_thread(self, loop: asyncio.AbstractEventLoop, landing: asyncio.Future[None]) -> None:
        error: OSError | None = None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)  # the kernel wakes this the moment the holder lets go
        except OSError as e:
            error = e
        with self._mutex:  # against close(): the fd number is ours until then, never another file's
            self._thread_running = False
            if self._closed:  # the gate went with its event loop meanwhile; closing the file lets go of the lock
                os.close(self.fd)
                return
            try:
                if error is None:
                    loop.call_soon_threadsafe(self._landed, landing)
                else:
                    loop.call_soon_threadsafe(self._failed, landing, error)
            except RuntimeError:  # the loop is closed: nobody of it will use the lock
                if error is None:
                    fcntl.flock(self.fd, fcntl.LOCK_UN)

    def _landed(self, landing: asyncio.Future[None]) -> None:
        if self._awaited:
            landing.set_result(None)  # the waiter takes it (acquire)
            return
        # Its waiter gave up: nobody of this loop wants it now; let go rather than hold the other processes up.
        self._landing = None
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        landing.cancel()

    def _failed(self, landing: asyncio.Future[None], error: OSError) -> None:
        if self._landing is landing:
            self._landing = None
        if not landing.done():
            landing.set_exception(error)


class WriteGate:
    """The two flocks of one database file for one event loop (see the module docstring)."""

    def __init__(self, queue: _Flock, gate: _Flock) -> None:
        self._queue = queue
        self._gate = gate

    @classmethod
    def open(cls, database: str) -> WriteGate | None:
        """The gate of ``database`` (a file path), or None if its side files cannot be opened."""
        fds: list[int] = []
        try:
            for suffix in ("-writer-queue", "-writer"):
                fds.append(os.open(database + suffix, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
        except OSError as e:
            for fd in fds:
                os.close(fd)
            log.warning("no cross-process write gate for %s (%s): SQLite's busy timeout alone", database, e)
            return None
        return cls(_Flock(database + "-writer-queue", fds[0]), _Flock(database + "-writer", fds[1]))

    async def enter(self, *, preferred: bool, wait_s: float) -> None:
        """Take the gate (the queue first, unless a preferred writer of this loop kept it), waiting at most
        ``wait_s`` in all (GateTimeout). A preferred writer keeps the queue until ``idle``."""
        deadline = asyncio.get_running_loop().time() + wait_s
        if not self._queue.held:
            await self._queue.acquire(deadline)
        try:
            await self._gate.acquire(deadline)
        except BaseException:
            if not preferred:
                self._queue.release()
            raise
        if not preferred:
            self._queue.release()

    def leave(self) -> None:
        """After COMMIT or ROLLBACK."""
        self._gate.release()

    def idle(self) -> None:
        """No writer of this loop is waiting or writing: a preferred one's queue goes (others let it go at once)."""
        self._queue.release()

    def close(self) -> None:
        """Close the side files (letting go of what this gate holds); a thread still waiting closes its own."""
        for lock in (self._gate, self._queue):
            lock.close()
