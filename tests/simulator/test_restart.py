"""Connection loss as trace 09 recorded it: core restart (Shutdown, refused banner, boot), kill -9, SIGSTOP."""

from __future__ import annotations

import asyncio

import pytest

from autodialer.simulator import PBXSimulator

from .conftest import FAST
from .harness import AMITestClient


async def test_graceful_restart_then_boot_sequence(ami: AMITestClient, sim: PBXSimulator) -> None:
    await ami.request(
        "Originate", [("Channel", "PJSIP/5551003@trunk"), ("Application", "Wait"), ("Data", "600"), ("Async", "true")]
    )
    await ami.wait_for(lambda: ami.named("OriginateResponse"))
    await sim.control.restart(graceful=True, down_s=20, boot_s=20)  # 20 * FAST real seconds each
    await asyncio.wait_for(ami.closed.wait(), 2)
    assert [e.get("Restart") for e in ami.named("Shutdown")] == ["True"]
    assert sim.control.channels() == []
    early = AMITestClient()
    await early.connect(sim.ami_port)
    await asyncio.wait_for(early.closed.wait(), 2)
    assert early.banner is None  # accepted, then closed before any banner
    await early.close()
    await asyncio.sleep(20 * FAST + 0.01)  # past the simulated 20 s of downtime
    booting = AMITestClient()
    await booting.login(sim.ami_port)
    await booting.wait_for(lambda: booting.named("FullyBooted"), 2)
    names = [e.name for e in booting.events]
    assert names == [
        "SuccessfulAuth",
        "PeerStatus",
        "PeerStatus",
        "PeerStatus",
        "ExtensionStatus",
        "ExtensionStatus",
        "FullyBooted",
    ]
    await booting.close()


async def test_core_restart_refuses_actions_before_the_shutdown_event_then_closes(
    ami: AMITestClient, sim: PBXSimulator
) -> None:
    """asterisk.c: ast_begin_shutdown comes first, so an action sent meanwhile is answered by manager.c's
    process_message with "Asterisk is shutting down" (the issue saw Originates refused 9 ms after it); then
    `Event: Shutdown`, then EOF."""
    restart = asyncio.create_task(sim.control.restart(graceful=True, down_s=20, boot_s=1, shutdown_s=20))
    await asyncio.sleep(0.005)
    response = await ami.request(
        "Originate", [("Channel", "PJSIP/5551003@trunk"), ("Application", "Wait"), ("Data", "6"), ("Async", "true")]
    )
    assert (response.status, response.get("Message")) == ("Error", "Asterisk is shutting down")
    assert not ami.named("Shutdown") and not ami.closed.is_set()
    await asyncio.wait_for(ami.closed.wait(), 2)
    await restart
    assert [e.get("Shutdown") for e in ami.named("Shutdown")] == ["Cleanly"]
    assert not any(r["channel"] == "PJSIP/5551003@trunk" for r in sim.control.requests)  # never run


async def test_crash_refuses_connections_then_comes_back(ami: AMITestClient, sim: PBXSimulator) -> None:
    restart = asyncio.create_task(sim.control.restart(graceful=False, down_s=40))
    await asyncio.wait_for(ami.closed.wait(), 2)
    assert not ami.named("Shutdown")
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", sim.ami_port)
    await restart
    again = AMITestClient()
    await again.login(sim.ami_port)
    assert again.banner is not None
    await again.close()


async def test_frozen_pbx_answers_ping_only_after_thaw(ami: AMITestClient, sim: PBXSimulator) -> None:
    sim.control.freeze()
    aid = ami.send("Ping")
    await asyncio.sleep(0.05)
    assert not any(r.action_id == aid for r in ami.responses)
    sim.control.thaw()
    await ami.wait_for(lambda: any(r.action_id == aid for r in ami.responses), 2)
