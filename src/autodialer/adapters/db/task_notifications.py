"""PostgreSQL's LISTEN/NOTIFY as a wake-up between instances: a write on one wakes the dialer on every other.

Several instances may share one PostgreSQL database (an API-only instance, ``dialer_enabled=false``, beside the one
that dials; or instances on several hosts). A dialer would see another instance's new tasks only at its own re-read
(the watchdog, planning refresh). ``PgTaskNotifier`` (a writer's ``on_tasks_changed``) sends ``NOTIFY
autodialer_tasks, '<source>'`` after a write (through the writer's own engine); ``PgTaskListener`` (started with
the dialer) LISTENs and calls its ``on_notify`` once per burst, ignoring its own source (the same process, or its
API worker, which wakes it over the local socket already: adapters/process/wake_socket).

Like the local wake-up it never blocks or fails a write: notifies are coalesced (one in flight, one more queued at
most) and errors are logged. The listener reconnects with a
capped backoff; a notify missed meanwhile delays the work to the engine's own re-read, never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

CHANNEL = "autodialer_tasks"
_BACKOFF_MAX_S = 10.0
_NOTIFY = text("SELECT pg_notify(:channel, :source)")


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL (``postgresql+psycopg://…``) as libpq takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def source_of(pid: int) -> str:
    """Who a notify comes from: host and the dialer process's pid (its API worker names its parent)."""
    return f"{socket.gethostname()}:{pid}"


class PgTaskNotifier:
    """Call it after a write: every other instance's dialer listening on the database wakes. Sent through the
    service's own engine (its pool; closed with it)."""

    def __init__(self, db: AsyncEngine, source: str) -> None:
        self._db = db
        self._source = source
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self.sent = 0

    def __call__(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True  # one more after the one in flight: it may have gone before this write committed
            return
        try:
            self._task = asyncio.get_running_loop().create_task(self._notify())
        except RuntimeError:  # no loop (a CLI command without one): the dialers re-read on their own
            return

    async def _notify(self) -> None:
        while True:
            self._again = False
            if not await notify_tasks_changed(self._db, self._source):
                return
            self.sent += 1
            if not self._again:
                return


async def notify_tasks_changed(db: AsyncEngine, source: str) -> bool:
    """One ``NOTIFY autodialer_tasks, source`` now (a CLI command's write awaits it before it closes its engine);
    False, logged, when it could not be sent: a wake-up never fails the write it follows."""
    try:
        async with db.connect() as connection:
            await connection.execute(_NOTIFY, {"channel": CHANNEL, "source": source})
            await connection.commit()
    except Exception as e:
        log.warning("NOTIFY %s failed (other instances wake at their own re-read): %s", CHANNEL, e)
        return False
    return True


class PgTaskListener:
    """LISTENs on the database and calls ``on_notify`` for notifies from sources other than ``own_source``."""

    def __init__(self, url: str, own_source: str, on_notify: Callable[[], None]) -> None:
        self._conninfo = libpq_url(url)
        self._own = own_source
        self._on_notify = on_notify
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self.woken = 0
        self._pending = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pg-task-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError) as e:
                failures += 1
                delay = min(_BACKOFF_MAX_S, 0.5 * 2 ** (failures - 1))
                log.warning("LISTEN %s lost (%s): again in %.1fs", CHANNEL, e, delay)
                self.listening.clear()
                await asyncio.sleep(delay)
            else:
                failures = 0

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True) as connection:
            await connection.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            async for notify in connection.notifies():
                if notify.payload != self._own and not self._pending:
                    self._pending = True  # the notifies read before the loop turns wake the dialer once
                    asyncio.get_running_loop().call_soon(self._wake)

    def _wake(self) -> None:
        self._pending = False
        self.woken += 1
        self._on_notify()
