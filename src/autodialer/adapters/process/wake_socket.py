"""The API worker's wake-up of the dialer: one datagram on a local (Unix) socket after a write.

The API worker writes tasks and numbers to the database, the boundary between the two processes; the dialer would
see them at its next own read (the engine's watchdog and planning refresh, seconds apart). The wake-up makes that
immediate: ``WakeSender`` (the worker's ``on_tasks_changed``) sends one byte, ``WakeListener`` (in the dialer)
drains every datagram queued and calls its ``on_wake`` once (PlanningReads.invalidate, DialerEngine.task_changed,
LiveBoard.campaigns_changed: bootstrap wires them).

Invariants: sending never blocks and never fails the write that caused it. Wake-ups are coalesced on both sides:
the sender sends at most one per event-loop iteration however many writes it ran (a million POSTs cost a million
flags, not a million syscalls); the listener wakes the engine once per burst it reads. A wake-up may be lost (the
dialer not listening yet, its socket buffer full): nothing is lost with it, since the dialer re-reads the
database on its own schedule, and a full buffer means wake-ups are already waiting to be read. The socket file is
a datagram socket in a directory only our user can enter (run_dir), never reachable from the public HTTP port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

WAKE = b"w"
_READ_SIZE = 64


class WakeSender:
    """Call it after a write: the dialer listening on ``path`` wakes soon after, coalesced per loop iteration."""

    def __init__(self, path: Path) -> None:
        self._path = str(path)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self._pending = False
        self.sent = 0  # datagrams handed to the kernel (tests, logs)

    def __call__(self) -> None:
        if self._pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside a loop: send now
            self.send_now()
            return
        self._pending = True
        loop.call_soon(self.send_now)

    def send_now(self) -> None:
        """One datagram now, whatever the loop (a CLI command's write, before it exits)."""
        self._pending = False
        try:
            self._socket.sendto(WAKE, self._path)
            self.sent += 1
        except BlockingIOError:
            pass  # the dialer has unread wake-ups queued: it wakes anyway
        except OSError as e:  # not listening (starting, restarting): it re-reads the database on its own schedule
            log.debug("dialer wake-up not delivered to %s: %s", self._path, e)

    def close(self) -> None:
        self._socket.close()


class WakeListener:
    """Binds ``path`` (replacing a stale file) and calls ``on_wake`` once per burst of datagrams read."""

    def __init__(self, path: Path, on_wake: Callable[[], None]) -> None:
        self._path = path
        self._on_wake = on_wake
        self._socket: socket.socket | None = None
        self.wakes = 0  # bursts that woke the dialer (tests, logs)

    def open(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()  # a datagram socket has no listener to ask: a file left here is a dead one's
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(str(self._path))
        os.chmod(self._path, 0o600)
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)
        self._socket = sock

    def _readable(self) -> None:
        assert self._socket is not None
        read = 0
        while True:
            try:
                self._socket.recv(_READ_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            read += 1
        if read:
            self.wakes += 1
            self._on_wake()

    def close(self) -> None:
        if self._socket is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may be closing
            asyncio.get_running_loop().remove_reader(self._socket.fileno())
        self._socket.close()
        self._socket = None
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
