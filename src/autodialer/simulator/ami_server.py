"""AMI over TCP, server role: one `AMISession` per client, fed by the PBX event bus.

Per session: the banner, Login (FullyBooted + SuccessfulAuth after success), `Events: off`, and Filter rules
with Asterisk's semantics: with no include filter every event passes unless an exclude (`!...`) filter
matches; with include filters an event must match one of them and no exclude. A filter is a regular
expression searched in the event's text (`Event: VarSet` matches the header line).

Rights as manager.c: an event reaches a session only if every class of its `Privilege:` header (but "all")
is among the user's read classes (`(readperm & category) == category`); replies to an action are not
filtered. The write classes are checked per action in `ami_actions.dispatch`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from autodialer.protocols.ami import Action, AMIConnection, AMIProtocolError, Banner, Event, Response, Role

from .events import Fields, event_classes, manager_classes, privilege

if TYPE_CHECKING:
    from .pbx import PBX

log = logging.getLogger(__name__)
_SIMPLE_EVENT_FILTER = re.compile(r"Event: ?([A-Za-z0-9_]+)")
SHUTTING_DOWN = "Asterisk is shutting down"
# Trace 09 (`core restart now`, idle PBX): the CLI command at .610823, `Event: Shutdown` at .629658, EOF at .658252.
SHUTDOWN_EVENT_AFTER_S = 0.019
EOF_AFTER_SHUTDOWN_S = 0.029
_DROP, _TAKE, _READ_FIELDS = 0, 1, 2  # a session's verdict on an event name (AMISession._decide)


class EventFilter:
    def __init__(self, text: str) -> None:
        self.exclude = text.startswith("!")
        body = text[1:] if self.exclude else text
        simple = _SIMPLE_EVENT_FILTER.fullmatch(body)
        self.event_name = simple.group(1) if simple else None  # fast path for the usual "Event: X" form
        self.regex = re.compile(body)

    def matches(self, name: str, fields: Fields) -> bool:
        if self.event_name is not None:
            return name == self.event_name
        return self.regex.search("\r\n".join(f"{k}: {v}" for k, v in fields)) is not None


class AMISession:
    def __init__(self, server: AMIServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.pbx = server.pbx
        self.reader, self.writer = reader, writer
        self.conn = AMIConnection(Role.SERVER)
        # What this session takes of each event name, while what it depends on stays (see `_decide`).
        self._verdicts: dict[str, int] = {}
        self._authenticated = False
        self._events_on = True
        self._filters: tuple[EventFilter, ...] = ()
        # The user's classes (manager.conf read=/write=), fixed at login as manager.c copies them to the session.
        self._read_classes = manager_classes(server.pbx.config.read_classes)
        self.write_classes = manager_classes(server.pbx.config.write_classes)
        self.login_at = 0.0  # simulated time of the successful Login (manager.c sessionstart_tv -> SessionTV)
        self.backlog: list[bytes] = []  # events produced while the PBX is "frozen" (SIGSTOP)
        self._unsent: list[bytes] = []  # written this turn of the event loop, sent by flush
        self.dropped = False  # closed by the PBX side (drop_all), not by the client
        self.session_id = f"0x{id(self):x}"
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}"
        self.local = f"IPV4/TCP/{server.host}/{server.port}"
        self._unsubscribe = self.pbx.bus.subscribe(self.on_event, self.wants)

    # --- what reaches this session ----------------------------------------------------------------------
    # Every setting an event's fate depends on clears the verdicts kept per event name.
    @property
    def authenticated(self) -> bool:
        return self._authenticated

    @authenticated.setter
    def authenticated(self, value: bool) -> None:
        self._authenticated = value
        self._forget_verdicts()

    @property
    def events_on(self) -> bool:
        return self._events_on

    @events_on.setter
    def events_on(self, value: bool) -> None:
        self._events_on = value
        self._forget_verdicts()

    @property
    def read_classes(self) -> frozenset[str]:
        return self._read_classes

    @read_classes.setter
    def read_classes(self, value: frozenset[str]) -> None:
        self._read_classes = value
        self._forget_verdicts()

    @property
    def filters(self) -> tuple[EventFilter, ...]:
        return self._filters

    def add_filter(self, event_filter: EventFilter) -> None:
        self._filters = (*self._filters, event_filter)
        self._forget_verdicts()

    # --- output --------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        # Everything written in one turn of the event loop goes out in one send: one syscall per message cost the
        # simulator more CPU than the calls themselves at a few hundred calls a second. The byte stream is the same.
        if self.writer.is_closing():
            return
        self._unsent.append(data)
        if len(self._unsent) == 1:
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        if not self._unsent:
            return
        data = b"".join(self._unsent)
        self._unsent.clear()
        if self.writer.is_closing():
            return
        self.writer.write(data)
        # Asterisk drops a client that stops reading (manager.conf writetimeout); we bound the backlog instead.
        if self.writer.transport.get_write_buffer_size() > self.server.max_backlog:
            log.warning("AMI session %s is not reading; dropping it", self.session_id)
            self.writer.transport.abort()
            self.close()

    def respond(self, action: Action, status: str, fields: Fields = ()) -> None:  # type: ignore[assignment]
        self.write(self.conn.send(Response.build(status, fields, action_id=action.action_id)))

    def send_event(self, name: str, fields: Fields, action_id: str | None = None, id_last: bool = False) -> None:
        """A list item or session-only event; `id_last` puts ActionID last as some Asterisk lists do.

        A session-only event (no ActionID: FullyBooted at login, Shutdown) is subject to the read classes like a
        broadcast one (action_login sends FullyBooted only with read class system); list items are replies.
        """
        if action_id is None and not self.may_read(fields):
            return
        if action_id is not None and id_last:
            self.write(self.conn.send(Event.build(name, [*fields, ("ActionID", action_id)])))
        else:
            self.write(self.conn.send(Event.build(name, fields, action_id=action_id)))

    def may_read(self, fields: Fields) -> bool:
        """manager.c: `(readperm & category) == category`, the category being the Privilege header's classes."""
        for key, value in fields[:2]:
            if key == "Privilege":
                return event_classes(value) <= self.read_classes
        return True

    def _forget_verdicts(self) -> None:
        self._verdicts.clear()
        self.pbx.bus.wishes_changed()

    def wants(self, name: str) -> bool:
        """Might `on_event` take an event called `name`? False is certain: the bus may skip building it."""
        verdict = self._verdicts.get(name)
        if verdict is None:
            verdict = self._verdicts[name] = self._decide(name)
        return verdict != _DROP

    def _decide(self, name: str) -> int:
        # Everything but a filter's regular expression is decided by the name: a bus event's Privilege header is
        # privilege(name) (events.EventBus.emit) and a simple filter compares the name.
        if not self._authenticated or not self._events_on:
            return _DROP
        if not event_classes(privilege(name)) <= self._read_classes:
            return _DROP
        if any(f.event_name is None for f in self._filters):
            return _READ_FIELDS
        return _TAKE if self.passes(name, []) else _DROP

    def on_event(self, name: str, fields: Fields) -> None:
        verdict = self._verdicts.get(name)
        if verdict is None:
            verdict = self._verdicts[name] = self._decide(name)
        if verdict == _DROP or (verdict == _READ_FIELDS and not self.passes(name, fields)):
            return
        try:
            data = self.conn.send(Event(tuple(fields)))
        except AMIProtocolError:
            log.warning("dropping unencodable event %s", name)
            return
        if self.server.frozen:
            self.backlog.append(data)
        else:
            self.write(data)

    def flush_backlog(self) -> None:
        for data in self.backlog:
            self.write(data)
        self.backlog.clear()

    def passes(self, name: str, fields: Fields) -> bool:
        if not self._filters:
            return True
        includes = [f for f in self._filters if not f.exclude]
        if includes and not any(f.matches(name, fields) for f in includes):
            return False
        return not any(f.matches(name, fields) for f in self._filters if f.exclude)

    # --- input ---------------------------------------------------------------------------------------
    async def run(self) -> None:
        from .ami_actions import dispatch

        try:
            self.write(self.conn.send(Banner("11.0.0")))
            while True:
                data = await self.reader.read(65536)
                await self.server.thawed.wait()  # a frozen Asterisk reads nothing and answers nothing
                if self.dropped:
                    return  # dropped meanwhile (drop_all): what it had not read yet is lost with the connection
                self.conn.receive_data(data)
                for item in self.conn.events():
                    if isinstance(item, Action) and await self._handle(item, dispatch) == "close":
                        await self._drain_close()
                        return
                if not data:
                    return
        except (ConnectionError, AMIProtocolError) as exc:
            log.info("AMI session %s ended: %s", self.session_id, exc)
        finally:
            self.close()

    async def _handle(
        self, action: Action, dispatch: Callable[[AMISession, Action], Awaitable[str | None]]
    ) -> str | None:
        if self.server.shutting_down:
            # manager.c process_message checks ast_shutting_down() before anything else, Login included.
            self.respond(action, "Error", [("Message", SHUTTING_DOWN)])
            return None
        try:
            return await dispatch(self, action)
        except AMIProtocolError as exc:  # e.g. a value with CR/LF that cannot be echoed back
            self.respond(action, "Error", [("Message", f"Bad request: {exc}")])
        except Exception:  # a simulator bug must not take the client's session down with it
            log.exception("AMI action %s failed", action.name)
            self.respond(action, "Error", [("Message", "Internal simulator error")])
        return None

    async def _drain_close(self) -> None:
        self.flush()
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    def close(self) -> None:
        self._unsubscribe()
        self.server.sessions.discard(self)
        self.flush()
        if not self.writer.is_closing():
            self.writer.close()


class AMIServer:
    def __init__(self, pbx: PBX, host: str, port: int) -> None:
        self.pbx = pbx
        self.host = host
        self.port = port
        self.sessions: set[AMISession] = set()
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.max_backlog = 32 * 1024 * 1024  # bytes queued for one client before it is dropped
        self.thawed = asyncio.Event()
        self.thawed.set()
        self.reject_until = 0.0  # loop time: connections accepted and closed before the banner (restarting)
        self.booting_until = 0.0  # loop time: logins get PeerStatus/ExtensionStatus, FullyBooted later
        # `core restart now` has begun (ast_begin_shutdown): every action is refused until the sessions close.
        self.shutting_down = False

    @property
    def frozen(self) -> bool:
        return not self.thawed.is_set()

    def freeze(self) -> None:
        self.thawed.clear()

    def thaw(self) -> None:
        self.thawed.set()
        for session in list(self.sessions):
            session.flush_backlog()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if asyncio.get_running_loop().time() < self.reject_until:
            writer.close()
            return
        session = AMISession(self, reader, writer)
        self.sessions.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.run()
        except asyncio.CancelledError:
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)

    def drop_all(self, graceful: bool = True, restart: bool = True) -> None:
        """Simulate an Asterisk restart: `Event: Shutdown` (graceful) and then EOF on every session."""
        for session in list(self.sessions):
            session.dropped = True
            if graceful and session.authenticated:
                session.send_event("Shutdown", _shutdown_fields(restart))
            if not graceful:
                transport = session.writer.transport
                transport.abort()
            session.close()

    async def restart(
        self, graceful: bool, down_s: float, boot_s: float, shutdown_s: float = SHUTDOWN_EVENT_AFTER_S
    ) -> None:
        """Drop every session as `core restart now` (graceful) or `kill -9` does, then come back.

        Graceful: `shutdown_s` of refusing every action (19 ms idle in trace 09; up to 15 s while channels die),
        then Shutdown + EOF, then for `down_s` real seconds connections are accepted and closed before
        the banner, then a boot phase of `boot_s`. Crash: EOF without Shutdown, connections refused for
        `down_s` (the listening socket is closed), then the PBX is up again at once.
        """
        loop = asyncio.get_running_loop()
        if graceful:
            # asterisk.c: can_safely_quit -> ast_begin_shutdown (from now on process_message answers every action
            # "Asterisk is shutting down") and hangs up the channels; really_quit publishes Shutdown; then the
            # process ends and the sessions see EOF.
            self.shutting_down = True
            try:
                await asyncio.sleep(shutdown_s)
                for session in list(self.sessions):
                    if session.authenticated:
                        session.send_event("Shutdown", _shutdown_fields(True, cleanly=not self.pbx.channels.live))
                await asyncio.sleep(EOF_AFTER_SHUTDOWN_S)
                for session in list(self.sessions):
                    session.close()
            finally:
                self.shutting_down = False
            self.reject_until = loop.time() + down_s
            self.booting_until = self.reject_until + boot_s
            return
        self.drop_all(graceful=False)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await asyncio.sleep(down_s)
        self._server = await asyncio.start_server(self._accept, self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_all(graceful=False)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


def _shutdown_fields(restart: bool, cleanly: bool = True) -> list[tuple[str, str]]:
    """really_quit's event: "Uncleanly" when channels are still up (ast_active_channels)."""
    return [
        ("Privilege", "system,all"),
        ("Shutdown", "Cleanly" if cleanly else "Uncleanly"),
        ("Restart", "True" if restart else "False"),
    ]
