"""The Asterisk side of FastAGI against small hand-written AGI servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from autodialer.protocols.agi import AGIConnection, Command, CommandResult, Environment, HangupNotice, Role
from autodialer.simulator import Behaviour, PBXSimulator, SimulatorConfig

from .conftest import FAST
from .harness import AMITestClient


class AGIPeer:
    """One accepted FastAGI session, driven step by step from the test."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = AGIConnection(Role.SERVER)
        self.items: list[object] = []

    async def next(self, timeout: float = 3.0) -> object:
        while not self.items:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            self.conn.receive_data(data)
            self.items.extend(self.conn.events())
            if not data and not self.items:
                raise EOFError
        return self.items.pop(0)

    async def run(self, line: str) -> tuple[CommandResult, int]:
        """Send a command; (its result, how many HANGUP notices came before it)."""
        self.writer.write(self.conn.send(Command.parse(line)))
        notices = 0
        while True:
            item = await self.next()
            if isinstance(item, HangupNotice):
                notices += 1
            elif isinstance(item, CommandResult):
                return item, notices


Session = Callable[[AGIPeer], Awaitable[None]]


@pytest.fixture
async def agi_sim() -> AsyncIterator[tuple[PBXSimulator, list[Session], AMITestClient]]:
    handlers: list[Session] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = AGIPeer(reader, writer)
        try:
            await handlers.pop(0)(peer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sim = PBXSimulator(SimulatorConfig(ami_port=0, time_scale=FAST, agi_port=port))
    await sim.start()
    client = AMITestClient()
    await client.login(sim.ami_port)
    yield sim, handlers, client
    await client.close()
    await sim.stop()
    server.close()


def originate(number: str) -> list[tuple[str, str]]:
    return [
        ("Channel", f"Local/{number}@dialer-out"),
        ("Context", "dialer-connect"),
        ("Exten", "201"),
        ("Priority", "1"),
        ("Async", "true"),
        ("ChannelId", f"c-{number}"),
        ("CallerID", "Dialer <4930000000>"),
        ("Variable", "DIALER_MODE=poll"),
    ]


def ones(client: AMITestClient, name: str) -> list[str]:
    return [e.get("Channel") or "" for e in client.named(name) if (e.get("Channel") or "").endswith(";1")]


async def test_environment_and_idle_hangup_notice(agi_sim) -> None:
    sim, handlers, ami = agi_sim
    sim.control.set_customer("5550001", Behaviour(answer_after=0.5, hangup_after=2.0))
    seen: dict[str, object] = {}

    async def session(peer: AGIPeer) -> None:
        env = await peer.next()
        assert isinstance(env, Environment)
        seen["env"] = env
        seen["notice"] = await peer.next(timeout=5)  # idle: Asterisk tells us about the hangup by itself
        await asyncio.sleep(0.05)
        seen["live_before_close"] = [c["channel"] for c in sim.control.channels()]
        seen["dead"], _ = await peer.run('STREAM FILE dialer-prompt ""')
        seen["var"], _ = await peer.run("GET VARIABLE DIALER_MODE")

    handlers.append(session)
    await ami.request("Originate", originate("5550001"))
    await ami.wait_for(lambda: ones(ami, "Hangup"), 5)
    env = seen["env"]
    assert isinstance(env, Environment)
    assert (env.get("agi_callerid"), env.get("agi_uniqueid"), env.get("agi_network_script")) == (
        "5550001",
        "c-5550001",
        "connect",
    )
    assert env.args == ("201", "poll")
    assert isinstance(seen["notice"], HangupNotice)
    assert any(name.endswith(";1") for name in seen["live_before_close"])  # torn down only after our close
    assert seen["dead"] == CommandResult.dead_channel()
    assert seen["var"] == CommandResult.success(1, "poll")


async def test_get_data_and_wait_for_digit_timeouts_and_digits(agi_sim) -> None:
    sim, handlers, ami = agi_sim
    sim.control.set_customer("5550002", Behaviour(answer_after=0.2, dtmf=((1.5, "4"), (1.9, "2"))))
    results: list[CommandResult] = []

    async def session(peer: AGIPeer) -> None:
        await peer.next()
        for line in ("GET DATA beep 3000 2", "WAIT FOR DIGIT 500", "GET DATA beep 300 1", "HANGUP"):
            results.append((await peer.run(line))[0])

    handlers.append(session)
    await ami.request("Originate", originate("5550002"))
    await ami.wait_for(lambda: ones(ami, "Hangup"), 5)
    assert results == [
        CommandResult.success("42"),
        CommandResult.success(0),
        CommandResult.success("", "timeout"),
        CommandResult.success(1),
    ]
    assert "dialer-prompt" not in [p for _, p in sim.control.prompts]
    assert ones(ami, "SoftHangupRequest")  # HANGUP: SoftHangupRequest on ;1


async def test_exec_dial_to_employee_on_dnd_is_busy(agi_sim) -> None:
    sim, handlers, ami = agi_sim
    sim.control.set_dnd("201")
    results: list[CommandResult] = []

    async def session(peer: AGIPeer) -> None:
        await peer.next()
        for line in ("EXEC Dial PJSIP/201,5", "GET VARIABLE DIALSTATUS", "GET VARIABLE HANGUPCAUSE"):
            results.append((await peer.run(line))[0])

    handlers.append(session)
    await ami.request("Originate", originate("5551003"))
    await ami.wait_for(lambda: ones(ami, "Hangup"), 5)
    assert results == [CommandResult.success(0), CommandResult.success(1, "BUSY"), CommandResult.success(1, "17")]


async def test_unreachable_agi_server_hangs_up_the_channel() -> None:
    sim = PBXSimulator(SimulatorConfig(ami_port=0, time_scale=FAST, agi_port=1))
    await sim.start()
    client = AMITestClient()
    try:
        await client.login(sim.ami_port)
        await client.request("Originate", originate("5551003"))
        await client.wait_for(lambda: len(client.named("Hangup")) == 3, 5)
        assert ones(client, "SoftHangupRequest")
    finally:
        await client.close()
        await sim.stop()


async def test_exec_dial_local_and_queue_reach_the_employee(agi_sim) -> None:
    sim, handlers, ami = agi_sim
    sim.control.set_employee("201", Behaviour(answer_after=0.3, hangup_after=1.0))
    sim.control.set_employee("202", Behaviour(outcome="noanswer"))
    results: list[CommandResult] = []

    async def session(peer: AGIPeer) -> None:
        await peer.next()
        # 60 simulated seconds (300 ms real here): 10 expired under a brief event-loop stall before the answer had
        # crossed the Local pair (NOANSWER, ~1 run in 6); the call itself is over after 1.3 s.
        for line in ("EXEC Dial Local/201@internal,60", "GET VARIABLE DIALSTATUS"):
            results.append((await peer.run(line))[0])

    async def queue_session(peer: AGIPeer) -> None:
        await peer.next()
        results.append((await peer.run("EXEC Queue 2200"))[0])

    handlers.extend([session, queue_session])
    await ami.request("Originate", originate("5551003"))
    await ami.wait_for(lambda: len(ones(ami, "Hangup")) == 2, 5)  # the customer's ;1 and the Local/201 ;1
    assert results == [CommandResult.success(-1), CommandResult.success(1, "ANSWER")]
    assert any(e.get("DestChannel", "").startswith("PJSIP/201-") for e in ami.named("DialBegin"))
    await ami.request("Originate", originate("5551001"))
    await ami.wait_for(lambda: ami.named("AgentComplete"), 5)
    assert ami.named("AgentComplete")[0].get("Reason") == "agent"


async def test_unroutable_customer_gives_chanunavail(agi_sim) -> None:
    sim, _, ami = agi_sim
    sim.control.set_customer("5550009", Behaviour(outcome="noroute"))
    await ami.request("Originate", originate("5550009"))
    await ami.wait_for(lambda: ami.named("OriginateResponse"), 5)
    assert (ami.named("OriginateResponse")[0].get("Reason"), ami.named("Hangup")[0].get("Cause")) == ("0", "3")
    assert not [e for e in ami.named("Newchannel") if e.get("Channel", "").startswith("PJSIP/")]


async def test_server_that_never_closes_is_dropped_after_the_grace() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never sends a command, never closes until we do
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    config = SimulatorConfig(
        ami_port=0, time_scale=FAST, agi_port=server.sockets[0].getsockname()[1], agi_hangup_grace_s=20
    )
    sim = PBXSimulator(config)
    await sim.start()
    client = AMITestClient()
    try:
        sim.control.set_customer("5550003", Behaviour(answer_after=0.1, hangup_after=1.0))
        await client.login(sim.ami_port)
        await client.request("Originate", originate("5550003"))
        await client.wait_for(lambda: len(client.named("Hangup")) == 2, 2)  # the customer and ;2 go first
        assert [c["channel"][-2:] for c in sim.control.channels()] == [";1"]
        await client.wait_for(lambda: len(client.named("Hangup")) == 3, 2)  # ;1 once the 20 s grace passed
    finally:
        await client.close()
        await sim.stop()
        server.close()
