"""Contract tests: the real AMIClient against the PBX simulator (an independent AMI server) over loopback TCP.

The simulator runs at a small time scale, so its calls last milliseconds. These check what the in-test fake
cannot: that the client's login, filters, list folding, Originate correlation and dead-link/restart handling
work against a server written from the Asterisk traces by someone else.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import pytest

from autodialer.adapters.asterisk.ami_client import AMIClient
from autodialer.adapters.asterisk.ami_errors import AMIConnectionLost
from autodialer.adapters.asterisk.backoff import Backoff
from autodialer.protocols.ami import Action, Event, ListResult, Response
from autodialer.simulator.config import SimulatorConfig
from autodialer.simulator.simulator import PBXSimulator

FAST = 0.005  # real seconds per simulated second


@pytest.fixture
async def sim() -> AsyncIterator[PBXSimulator]:
    simulator = PBXSimulator(SimulatorConfig(ami_port=0, time_scale=FAST))
    await simulator.start()
    yield simulator
    await simulator.stop()


def client_for(sim: PBXSimulator, **kw: object) -> AMIClient:
    options: dict[str, object] = {
        "ping_interval": None,
        "action_timeout": 2.0,
        "backoff": Backoff(initial=0.02, cap=0.1, rng=random.Random(5)),
    }
    options.update(kw)
    return AMIClient("127.0.0.1", sim.ami_port, "dialer", "dialerpass", **options)  # type: ignore[arg-type]


async def until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.002)


async def test_login_lists_and_originate_correlation(sim: PBXSimulator) -> None:
    async with client_for(sim) as client, client_for(sim, event_filters=()) as unfiltered:
        await client.connect(timeout=2)
        await unfiltered.connect(timeout=2)
        events: list[Event] = []
        client.on_event(events.append)
        all_events: list[Event] = []
        unfiltered.on_event(all_events.append)
        ext = await client.send_list_action(Action.build("ExtensionStateList"))
        assert sorted(e.get("Exten") or "" for e in ext.items) == ["201", "202"]
        assert ext.complete is not None and ext.complete.get("ListItems") == "2"
        empty = await client.send(Action.build("DBGetTree", [("Family", "nosuchfamily")]))
        assert isinstance(empty, ListResult) and empty.items == () and empty.complete is not None
        queued = await client.send(
            Action.build(
                "Originate",
                [
                    ("Channel", "Local/5551486@dialer-out"),
                    ("Context", "dialer-connect"),
                    ("Exten", "201"),
                    ("Priority", "1"),
                    ("Async", "true"),
                    ("ChannelId", "contract-486"),
                ],
            )
        )
        assert isinstance(queued, Response) and queued.status == "Success"
        await until(lambda: any(e.name == "OriginateResponse" for e in events))
        (origin,) = [e for e in events if e.name == "OriginateResponse"]
        assert origin.action_id == queued.action_id and origin.get("Response") == "Failure"
        await until(lambda: any(e.name == "OriginateResponse" for e in all_events))
        # The default session filters reached the server: VarSet (DIALSTATUS…) only on the unfiltered session.
        assert any(e.name == "VarSet" for e in all_events)
        assert not any(e.name == "VarSet" for e in events)


async def test_frozen_server_is_detected_by_ping_and_client_recovers(sim: PBXSimulator) -> None:
    client = client_for(sim, ping_interval=0.02, ping_timeout=0.1)
    resyncs: list[int] = []

    async def resync() -> None:
        resyncs.append(client.connect_count)

    client.on_connected(resync)
    async with client:
        await client.connect(timeout=2)
        sim.ami.freeze()  # SIGSTOP: TCP stays up, nothing is answered
        with pytest.raises(AMIConnectionLost):
            await client.send(Action.build("CoreStatus"), timeout=5)
        sim.ami.thaw()
        await until(lambda: resyncs == [1, 2])
        pong = await client.send(Action.build("Ping"))
        assert isinstance(pong, Response) and pong.get("Ping") == "Pong"


@pytest.mark.parametrize("graceful", [True, False], ids=["core-restart", "kill-9"])
async def test_restart_reconnects_and_reruns_on_connected(sim: PBXSimulator, graceful: bool) -> None:
    client = client_for(sim)
    resyncs: list[int] = []
    names: list[str] = []
    booted_before_resync: list[bool] = []

    async def resync() -> None:
        resyncs.append(client.connect_count)
        booted_before_resync.append("FullyBooted" in names)
        names.clear()
        await client.send_list_action(Action.build("ExtensionStateList"))

    client.on_connected(resync)
    client.on_event(lambda e: names.append(e.name))
    shutdowns: list[Event] = []
    client.on_event(lambda e: shutdowns.append(e) if e.name == "Shutdown" else None)
    async with client:
        await client.connect(timeout=2)
        await until(lambda: resyncs == [1])
        await sim.ami.restart(graceful=graceful, down_s=0.1, boot_s=0.05)
        await until(lambda: resyncs == [1, 2])
        assert client.is_connected()
        assert len(shutdowns) == (1 if graceful else 0)  # core restart says so; kill -9 just drops the link
        assert booted_before_resync == [True, True]  # the re-sync never runs on a half-booted PBX
