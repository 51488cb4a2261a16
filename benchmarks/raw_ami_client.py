"""The raw AMI client the simulator benchmarks drive the PBX with, on ``autodialer.protocols.ami`` only (no adapter
of ours in the way: what they measure is the PBX side). It logs in, reads in a task of its own (responses kept by
ActionID, each event handed to ``on_event``, which a benchmark overrides to count what it checks) and sends
actions, one awaited at a time with ``call`` or many at once with ``send``.
"""

from __future__ import annotations

import asyncio
import time

from autodialer.protocols.ami import Action, AMIConnection, Event, Response, Role


class RawAmiClient:
    def __init__(self) -> None:
        self.conn = AMIConnection(Role.CLIENT)
        self.wake = asyncio.Event()  # set after every read and at the end of the stream
        self.responses: dict[str, Response] = {}
        self.bytes = 0
        self.closed = False

    async def connect(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.task = asyncio.create_task(self.read())
        await self.call("Login", [("Username", "dialer"), ("Secret", "dialerpass"), ("Events", "on")])

    async def read(self) -> None:
        while data := await self.reader.read(1 << 16):
            self.bytes += len(data)
            self.conn.receive_data(data)
            for item in self.conn.events():
                if isinstance(item, Event):
                    self.on_event(item)
                elif isinstance(item, Response) and item.action_id:
                    self.responses[item.action_id] = item
            self.wake.set()
        self.closed = True
        self.wake.set()

    def on_event(self, e: Event) -> None:
        """Called for every event, in arrival order."""

    def send(self, name: str, fields: list[tuple[str, str]], aid: str) -> None:
        self.writer.write(self.conn.send(Action.build(name, fields, action_id=aid)))

    async def call(self, name: str, fields: list[tuple[str, str]]) -> Response:
        aid = f"{name}-{time.perf_counter_ns()}"
        self.send(name, fields, aid)
        while aid not in self.responses:
            self.wake.clear()
            await self.wake.wait()
        return self.responses.pop(aid)
