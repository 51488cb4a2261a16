"""One FastAGI socket: feeds the sans-IO AGIConnection and matches results to waiting commands.

A single reader task owns the socket's read side; commands write and then wait on a future that the reader
resolves in FIFO order, so a ``HANGUP`` line that arrives between a command and its result only flips
``hung_up``. When the connection goes away (EOF, reset, protocol error, or our own close) every waiting
command fails with AGIHangup and later commands fail at once; nothing waits forever on a dead socket.

Wire trace: enable DEBUG on the ``autodialer.agi.wire`` logger to log every chunk in both directions
(``AUTODIALER_LOG_LEVELS=autodialer.agi.wire=DEBUG``; ``-v`` alone leaves it off, see log_config).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from autodialer.adapters.asterisk.agi_call import AGIHangup
from autodialer.protocols.agi import (
    AGIConnection,
    AGIProtocolError,
    Command,
    CommandResult,
    ConnectionClosed,
    Environment,
    HangupNotice,
    Role,
)

log = logging.getLogger(__name__)
wire_log = logging.getLogger("autodialer.agi.wire")

READ_SIZE = 64 * 1024


class FastAGISession:
    """The socket side of one call; AGICall uses it as its CommandRunner."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._conn = AGIConnection(Role.SERVER)
        self._waiting: deque[asyncio.Future[CommandResult]] = deque()
        self._hung_up = False
        self._closed = False
        self._dead = asyncio.Event()
        peer = writer.get_extra_info("peername")
        self.label = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    @property
    def closed(self) -> bool:
        return self._closed

    def mark_hung_up(self) -> None:
        self._hung_up = True
        self._dead.set()

    async def wait_dead(self) -> None:
        """Return once the channel hung up or the connection is gone."""
        await self._dead.wait()

    async def read_environment(self) -> Environment | None:
        """Read up to the end of the environment block; None if the peer closed first."""
        while True:
            for event in self._conn.events():
                if isinstance(event, Environment):
                    env = event
                    self.label = f"{env.channel or '?'} uniqueid={env.uniqueid or '?'}"
                    return env
                if isinstance(event, ConnectionClosed):
                    self._lost("connection closed before the environment was complete")
                    return None
            await self._receive()

    async def run_reader(self) -> None:
        """Read until the peer closes; dispatch results and HANGUP notices. Ends the session on any error."""
        reason = "reader stopped"
        try:
            while not self._closed:
                for event in self._conn.events():
                    if isinstance(event, CommandResult):
                        self._resolve(event)
                    elif isinstance(event, HangupNotice):
                        log.info("AGI %s: HANGUP from Asterisk", self.label)
                        self.mark_hung_up()
                    elif isinstance(event, ConnectionClosed):
                        reason = "connection closed by Asterisk"
                        return
                await self._receive()
        except AGIProtocolError as exc:
            reason = f"protocol error: {exc}"
            log.warning("AGI %s: %s", self.label, reason)
        except OSError as exc:
            reason = f"connection lost: {exc!r}"
        finally:
            self._lost(reason)

    async def execute(self, command: Command) -> CommandResult:
        if self._closed:
            raise AGIHangup(f"{command.raw}: the AGI connection is closed")
        data = self._conn.send(command)
        future: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        if wire_log.isEnabledFor(logging.DEBUG):
            wire_log.debug("%s S->A %r", self.label, data)
        self._writer.write(data)
        try:
            await self._writer.drain()
        except OSError as exc:
            self._lost(f"write failed: {exc!r}")
        return await future

    async def close(self, timeout: float = 1.0) -> None:
        """Close the socket (this is what lets Asterisk tear the channel down) and fail waiting commands."""
        self._lost("closed by the server")
        if not self._writer.is_closing():
            self._writer.close()
        # The peer may be gone or slow; the socket is closed on our side either way.
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self._writer.wait_closed(), timeout)

    async def _receive(self) -> None:
        data = await self._reader.read(READ_SIZE)
        if wire_log.isEnabledFor(logging.DEBUG):
            wire_log.debug("%s A->S %r", self.label, data if data else "<EOF>")
        self._conn.receive_data(data)

    def _resolve(self, result: CommandResult) -> None:
        # The protocol layer refuses results nobody asked for; an empty deque means _lost() already failed them.
        if not self._waiting:
            return
        future = self._waiting.popleft()
        if not future.done():  # a handler cancelled mid-command leaves a cancelled future behind
            future.set_result(result)

    def _lost(self, reason: str) -> None:
        if not self._closed:
            log.debug("AGI %s: session over (%s)", self.label, reason)
        self._closed = True
        self._dead.set()
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(AGIHangup(f"AGI connection ended: {reason}"))
