"""Contract test: our FastAGIServer driven by the PBX simulator's AGI() over loopback TCP.

An async Originate over AMI (the simulator's public interface) puts the customer through ``[dialer-connect]``,
whose ``AGI(agi://…/connect,${EXTEN},${DIALER_MODE})`` reaches our server. The handler bridges to 201 like
the lab's script. The simulator, like Asterisk, keeps the ``;1`` channel until the AGI socket is closed, so
its Hangup event proves that the server closed the socket on its own once the call was over.

As in trace 06(a), 201 is busy and the customer (5551003) waits for our BYE, so we hang up and close. Unlike
trace 02's timed customer BYE, nothing here races against our own latency on the scaled simulator clock.
"""

from __future__ import annotations

import asyncio

from autodialer.adapters.asterisk.agi_call import AGICall
from autodialer.adapters.asterisk.fastagi_server import FastAGIServer
from autodialer.protocols.ami import Action as AMIAction
from autodialer.protocols.ami import AMIConnection, Event, Response
from autodialer.protocols.ami import Role as AMIRole
from autodialer.simulator import config as sim_config
from autodialer.simulator import simulator


class RawAMI:
    """Just enough AMI to log in, originate and watch events."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = AMIConnection(AMIRole.CLIENT)
        self.events: list[Event] = []

    async def send(self, name: str, *fields: tuple[str, str]) -> Response:
        action_id = f"t-{len(self.events)}-{name}"
        self.writer.write(self.conn.send(AMIAction.build(name, fields, action_id=action_id)))
        while True:
            for item in self.conn.events():
                if isinstance(item, Response) and item.action_id == action_id:
                    return item
                if isinstance(item, Event):
                    self.events.append(item)
            self.conn.receive_data(await self.reader.read(65536))

    async def wait_event(self, name: str, **match: str) -> Event:
        def found() -> Event | None:
            for event in self.events:
                if event.name == name and all(event.get(k) == v for k, v in match.items()):
                    return event
            return None

        while (event := found()) is None:
            for item in self.conn.events():
                if isinstance(item, Event):
                    self.events.append(item)
            if found() is None:
                self.conn.receive_data(await self.reader.read(65536))
        return event


async def test_simulated_asterisk_runs_a_connect_call_through_our_server() -> None:
    seen: list[object] = []
    handler_done = asyncio.Event()

    async def connect(call: AGICall) -> None:
        try:
            seen.append(call.args)
            await call.verbose(f"dialer: bridging to {call.args[0]}", 1)
            seen.append(await call.get_variable("CAMPAIGN_ID"))
            seen.append(await call.exec("Dial", f"PJSIP/{call.args[0]}", "20"))
            seen.append(await call.get_variable("DIALSTATUS"))
            seen.append(call.hung_up)
            if not call.hung_up:
                await call.hangup()
        finally:
            handler_done.set()

    async with FastAGIServer({"/connect": connect}, port=0, hangup_grace=0.5) as server:
        config = sim_config.SimulatorConfig(ami_port=0, agi_port=server.port, time_scale=0.02)
        async with simulator.PBXSimulator(config) as sim:
            sim.control.set_employee("201", outcome="busy")
            reader, writer = await asyncio.open_connection("127.0.0.1", sim.ami_port)
            ami = RawAMI(reader, writer)
            try:
                async with asyncio.timeout(10):
                    login = await ami.send("Login", ("Username", "dialer"), ("Secret", "dialerpass"))
                    assert login.is_success
                    queued = await ami.send(
                        "Originate",
                        ("Channel", "Local/5551003@dialer-out"),
                        ("Context", "dialer-connect"),
                        ("Exten", "201"),
                        ("Priority", "1"),
                        ("Async", "true"),
                        ("ChannelId", "dlr-contract-1"),
                        ("Variable", "CAMPAIGN_ID=42"),
                        ("Variable", "DIALER_MODE=bridge"),
                    )
                    assert queued.is_success
                    await handler_done.wait()
                    # ;1 is released only when our server closes the FastAGI socket.
                    await ami.wait_event("Hangup", Uniqueid="dlr-contract-1")
            finally:
                writer.close()
                await writer.wait_closed()
    assert seen[0] == ("201", "bridge")
    assert seen[1] == "42"
    assert seen[2:] == [0, "BUSY", False]  # Dial returned normally; we hung the customer up
