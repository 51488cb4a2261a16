"""``AMISession``: one TCP connection to Asterisk, the thin loop around a client-role ``AMIConnection``.

Feed the socket's bytes to the connection, drain the parsed items, resolve the waiter of each answer by ActionID,
hand every event to ``on_event`` in arrival order. ``request`` writes one action and awaits its answer.
``AMIClient`` owns the login, the keepalive and the reconnects; a session just lives until ``end``.

Invariants: ``end`` is idempotent and fails every pending action with ``AMIConnectionLost``, so no request outlives
its connection; after ``end`` no request is written; the socket is aborted, not drained, because the reason to end
may be that the peer stopped reading (a frozen Asterisk).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from autodialer.adapters.asterisk.ami_errors import AMIActionTimeout, AMIConnectionLost
from autodialer.adapters.asterisk.wire_trace import WireTrace
from autodialer.protocols.ami import (
    Action,
    ActionIdSequence,
    AMIConnection,
    AMIProtocolError,
    Banner,
    ConnectionClosed,
    Event,
    ListResult,
    Response,
    Role,
    is_list_action,
)

log = logging.getLogger(__name__)

_READ_SIZE = 65536


@dataclass(frozen=True)
class _Pending:
    future: asyncio.Future[Response | ListResult]
    name: str


class AMISession:
    """One connection: its sans-IO state, its pending actions, and (once over) why it ended."""

    def __init__(
        self,
        number: int,
        id_prefix: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_event: Callable[[Event], None],
        *,
        trace: bool = False,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.number = number
        self.conn = AMIConnection(Role.CLIENT)
        self.reader, self.writer = reader, writer
        self.on_event = on_event
        self.ids = ActionIdSequence(f"{id_prefix}-{number}")
        self.pending: dict[str, _Pending] = {}
        self.banner: asyncio.Future[Banner] = loop.create_future()
        self.fully_booted: asyncio.Future[None] = loop.create_future()
        self.ended: asyncio.Future[str] = loop.create_future()
        self.end_reason: str | None = None
        self.trace = WireTrace(trace, f"ami#{number}")
        # When bytes last came in (loop time): the keepalive's proof that Asterisk is alive while a Ping waits behind
        # the actions written before it.
        self.last_received = loop.time()

    def end(self, reason: str) -> None:
        """Idempotent: record why, fail every pending action, drop the socket without waiting for buffers."""
        # A flag, not ended.done(): cancelling a task that awaits ``ended`` would cancel the future too.
        if self.end_reason is not None:
            return
        self.end_reason = reason
        if not self.ended.done():
            self.ended.set_result(reason)
        for pending in self.pending.values():
            if not pending.future.done():
                pending.future.set_exception(AMIConnectionLost(f"AMI connection lost ({reason}) during {pending.name}"))
        self.pending.clear()
        self.writer.transport.abort()

    async def request(self, action: Action, timeout: float | None, expect_list: bool | None) -> Response | ListResult:
        """Write ``action`` (with a generated ActionID unless it has one) and await the answer carrying its id.

        ``expect_list`` None means ``is_list_action(action.name)``; ``timeout`` None: no limit (the keepalive
        bounds its Ping by the link's silence instead). Raises AMIProtocolError before writing anything
        unsafe, AMIActionTimeout, or AMIConnectionLost when the session ends first.
        """
        if self.end_reason is not None:
            raise AMIConnectionLost(f"AMI connection lost ({self.end_reason}); {action.name} not sent")
        action_id = action.action_id
        if action_id is None:
            action_id = self.ids.next()
            action = Action((*action.fields[:1], ("ActionID", action_id), *action.fields[1:]))
        elif action_id in self.pending:
            raise ValueError(f"ActionID {action_id!r} is already pending")
        data = self.conn.send(action)  # raises AMIProtocolError before anything is registered
        folding = is_list_action(action.name) if expect_list is None else expect_list
        future: asyncio.Future[Response | ListResult] = asyncio.get_running_loop().create_future()
        self.pending[action_id] = _Pending(future, action.name)
        if folding:
            self.conn.expect_list(action_id)
        self.trace.sent(action)
        try:
            async with asyncio.timeout(timeout):
                self.writer.write(data)
                await self.writer.drain()
                return await future
        except TimeoutError:
            raise AMIActionTimeout(f"no answer to {action.name} (ActionID {action_id}) within {timeout}s") from None
        except AMIConnectionLost:
            raise  # a ConnectionError, hence an OSError: keep it from the clause below
        except OSError as e:
            self.end(f"write failed: {e!r}")
            raise AMIConnectionLost(f"AMI connection lost while sending {action.name}") from e
        finally:
            if not future.done():
                future.cancel()
            pending = self.pending.get(action_id)
            if pending is not None and pending.future is future:  # timed out or cancelled: forget it
                del self.pending[action_id]
                if folding:
                    self.conn.cancel_list(action_id)

    async def read_loop(self) -> None:
        """Read until EOF or error, then ``end``. Run it as a task for the session's lifetime."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await self.reader.read(_READ_SIZE)
                self.last_received = loop.time()
                self.conn.receive_data(data)
                for item in self.conn.events():
                    if isinstance(item, ConnectionClosed):
                        self.end("closed by Asterisk")
                        return
                    self._dispatch(item)
        except AMIProtocolError as e:
            self.end(f"protocol error: {e}")
        except OSError as e:
            self.end(f"socket error: {e!r}")

    def _dispatch(self, item: Banner | Action | Response | Event | ListResult) -> None:
        if isinstance(item, Action):
            return  # the client role never yields actions; keeps the type narrow
        self.trace.received(item)
        if isinstance(item, Event):
            if item.name == "FullyBooted" and not self.fully_booted.done():
                self.fully_booted.set_result(None)
            elif item.name == "Shutdown":
                log.info("AMI: Asterisk is shutting down (Restart: %s)", item.get("Restart"))
            self.on_event(item)
        elif isinstance(item, Banner):
            if not self.banner.done():
                self.banner.set_result(item)
        else:
            action_id = item.action_id
            pending = self.pending.pop(action_id, None) if action_id is not None else None
            if pending is None:
                log.debug("AMI: answer nobody waits for (ActionID %s), dropped", action_id)
            elif not pending.future.done():
                pending.future.set_result(item)
