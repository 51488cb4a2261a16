"""Test helpers: a raw AMI client and a scripted FastAGI server, both built on our sans-IO protocols only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from autodialer.protocols.agi import AGIConnection, Command, CommandResult, Environment, HangupNotice
from autodialer.protocols.agi import Role as AGIRole
from autodialer.protocols.ami import Action, AMIConnection, Banner, Event, Response, Role

Fields = list[tuple[str, str]]


class AMITestClient:
    def __init__(self) -> None:
        self.conn = AMIConnection(Role.CLIENT)
        self.events: list[Event] = []
        self.responses: list[Response] = []
        self.log: list[Event | Response] = []  # both, in arrival order
        self.banner: Banner | None = None
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._n = 0
        self._task: asyncio.Task[None] | None = None

    async def connect(self, port: int, host: str = "127.0.0.1") -> None:
        self.reader, self.writer = await asyncio.open_connection(host, port)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            data = await self.reader.read(65536)
            self.conn.receive_data(data)
            for item in self.conn.events():
                if isinstance(item, Banner):
                    self.banner = item
                elif isinstance(item, Event):
                    self.events.append(item)
                    self.log.append(item)
                elif isinstance(item, Response):
                    self.responses.append(item)
                    self.log.append(item)
            self._changed.set()
            if not data:
                self.closed.set()
                return

    def send(self, name: str, fields: Fields = (), action_id: str | None = None) -> str:  # type: ignore[assignment]
        self._n += 1
        aid = action_id if action_id is not None else f"t-{self._n}"
        self.writer.write(self.conn.send(Action.build(name, fields, action_id=aid or None)))
        return aid

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)

    async def request(self, name: str, fields: Fields = (), timeout: float = 5.0) -> Response:
        aid = self.send(name, fields)
        await self.wait_for(lambda: any(r.action_id == aid for r in self.responses), timeout)
        return next(r for r in self.responses if r.action_id == aid)

    async def login(self, port: int, filters: tuple[str, ...] = ()) -> None:
        await self.connect(port)
        resp = await self.request("Login", [("Username", "dialer"), ("Secret", "dialerpass"), ("Events", "on")])
        assert resp.status == "Success"
        for f in filters:
            await self.request("Filter", [("Operation", "Add"), ("Filter", f)])

    def stop_reading(self) -> None:
        """Behave like a stuck client: stop consuming the socket so the server's buffer fills up."""
        if self._task is not None:
            self._task.cancel()
        self.writer.transport.pause_reading()

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.name == name]

    async def close(self) -> None:
        self.writer.close()
        if self._task is not None:
            self._task.cancel()


@dataclass
class AGISessionLog:
    env: Environment | None = None
    results: list[tuple[str, str]] = field(default_factory=list)  # (command raw, result text)
    hangup_notices: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)


class ScriptedAGIServer:
    """Runs `script` (command lines, or callables returning one from the session log) for each session."""

    def __init__(
        self,
        script: list[str | Callable[[AGISessionLog], str | None]],
        linger: float = 0.0,
        per_session: list[list[str]] | None = None,
    ) -> None:
        self.script = script
        self.linger = linger
        self.per_session = per_session
        self.sessions: list[AGISessionLog] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        log = AGISessionLog()
        self.sessions.append(log)
        conn = AGIConnection(AGIRole.SERVER)
        pending: list[object] = []

        async def next_item() -> object:
            while not pending:
                data = await reader.read(65536)
                conn.receive_data(data)
                pending.extend(conn.events())
                if not data and not pending:
                    return None
            return pending.pop(0)

        try:
            while log.env is None:
                item = await next_item()
                if isinstance(item, Environment):
                    log.env = item
                elif item is None:
                    return
            script: list[str | Callable[[AGISessionLog], str | None]] = list(self.script)
            if self.per_session is not None:
                index = len(self.sessions) - 1
                script = list(self.per_session[index]) if index < len(self.per_session) else []
            for step in script:
                line = step(log) if callable(step) else step
                if line is None:
                    break
                cmd = Command.parse(line)
                writer.write(conn.send(cmd))
                while True:
                    item = await next_item()
                    if isinstance(item, HangupNotice):
                        log.hangup_notices += 1
                        continue
                    if isinstance(item, CommandResult):
                        log.results.append((line, item.text))
                        break
                    if item is None:
                        return
            if self.linger:
                await asyncio.sleep(self.linger)
        finally:
            writer.close()
            log.done.set()
