"""Contract test: the availability tracker and the PBX gateway on the real AMIClient, against the PBX simulator.

Wired the way the composition root wires them: every AMI event goes to both, the re-sync runs after every login.
The simulator plays the lab (employees 201/202, queue 2200, the sipp customers) at a small time scale; our
FastAGI server answers the connect step by dialling the agent, like the lab's script.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from autodialer.adapters.asterisk import ami_client
from autodialer.adapters.asterisk.agi_call import AGICall
from autodialer.adapters.asterisk.availability import AvailabilityTracker
from autodialer.adapters.asterisk.fastagi_server import FastAGIServer
from autodialer.adapters.asterisk.pbx_gateway import EVENT_FILTERS, AsteriskPbxGateway, GatewayConfig
from autodialer.domain.call_events import (
    AgentConnected,
    CallEnded,
    CallEvent,
    CustomerAnswered,
    CustomerFailed,
    CustomerOutcome,
    CustomerRinging,
)
from autodialer.protocols.ami import Action
from autodialer.services.ports import OriginateRejected, OriginateRequest
from autodialer.simulator import config as sim_config
from autodialer.simulator import simulator


@dataclass
class Stack:
    client: ami_client.AMIClient
    gateway: AsteriskPbxGateway
    availability: AvailabilityTracker
    events: list[CallEvent]
    free_201: list[frozenset[str]]

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not predicate():
                await asyncio.sleep(0.005)

    def of(self, call_id: str) -> list[CallEvent]:
        return [e for e in self.events if e.call_id == call_id]


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    async def connect(call: AGICall) -> None:
        await call.exec("Dial", f"PJSIP/{call.args[0]}", "20")
        if not call.hung_up:
            await call.hangup()

    async with FastAGIServer({"/connect": connect}, port=0, hangup_grace=0.5) as agi:
        config = sim_config.SimulatorConfig(ami_port=0, agi_port=agi.port, time_scale=0.01)
        async with simulator.PBXSimulator(config) as sim:
            client = ami_client.AMIClient(
                "127.0.0.1", sim.ami_port, "dialer", "dialerpass", event_filters=EVENT_FILTERS, ping_interval=None
            )
            availability = AvailabilityTracker()
            gateway = AsteriskPbxGateway(client, GatewayConfig())
            client.on_event(availability.handle_event)
            client.on_event(gateway.handle_event)
            client.on_connected(lambda: availability.resync(client))
            client.on_disconnected(availability.disconnected)
            stack = Stack(client, gateway, availability, [], [])
            gateway.on_call_event(stack.events.append)
            availability.on_change(lambda: stack.free_201.append(availability.free_agents("201")))
            await client.connect(timeout=5)
            try:
                await stack.until(availability.is_connected)
                yield stack
            finally:
                await client.close()


def _request(call_id: str, dial: str, inner: str = "201", timeout_s: int = 30) -> OriginateRequest:
    return OriginateRequest(call_id, dial, inner, "connect", timeout_s, '"Dialer" <4930000000>')


async def test_resync_knows_the_lab_agents(stack: Stack) -> None:
    assert stack.availability.free_agents("201") == {"PJSIP/201"}
    assert stack.availability.free_agents("2200") == {"PJSIP/201", "PJSIP/202"}
    assert stack.availability.free_agents("999") == frozenset()


async def test_busy_customer(stack: Stack) -> None:
    await stack.gateway.originate(_request("sim-busy", "5551486"))
    await stack.until(lambda: len(stack.of("sim-busy")) >= 1)
    assert stack.of("sim-busy") == [CustomerFailed("sim-busy", CustomerOutcome.BUSY, 17, "User busy", "BUSY")]


async def test_answered_call_is_connected_to_201_which_is_busy_meanwhile(stack: Stack) -> None:
    await stack.gateway.originate(_request("sim-ok", "5551001"))
    await stack.until(lambda: any(isinstance(e, CallEnded) for e in stack.of("sim-ok")))
    kinds = [type(e) for e in stack.of("sim-ok")]
    assert kinds == [CustomerRinging, CustomerAnswered, AgentConnected, CallEnded]
    assert frozenset() in stack.free_201  # 201 rang and talked
    await stack.until(lambda: stack.availability.free_agents("201") == {"PJSIP/201"})


async def test_no_answer_until_the_originate_timeout(stack: Stack) -> None:
    await stack.gateway.originate(_request("sim-ring", "5551999", timeout_s=8))
    await stack.until(lambda: any(isinstance(e, CustomerFailed) for e in stack.of("sim-ring")))
    (failed,) = [e for e in stack.of("sim-ring") if isinstance(e, CustomerFailed)]
    assert failed.outcome is CustomerOutcome.NO_ANSWER


async def test_live_call_is_listed_and_hung_up(stack: Stack) -> None:
    await stack.gateway.originate(_request("sim-hold", "5551003"))  # answers and waits for our BYE
    await stack.until(lambda: any(isinstance(e, CustomerAnswered) for e in stack.of("sim-hold")))
    live = await stack.gateway.live_calls()
    assert [c.call_id for c in live] == ["sim-hold"]
    await stack.gateway.hangup("sim-hold")
    await stack.until(lambda: any(isinstance(e, CallEnded) for e in stack.of("sim-hold")))
    assert await stack.gateway.live_calls() == []


async def test_unknown_connect_extension_is_rejected_at_once(stack: Stack) -> None:
    with pytest.raises(OriginateRejected):
        await stack.gateway.originate(_request("sim-bad", "5551001", inner="1"))  # `_X.` needs two digits
    assert stack.of("sim-bad") == []


async def test_dnd_and_queue_pause_reach_the_tracker(stack: Stack) -> None:
    send = stack.client.send_action
    # MikoPBX's 1C panel stores a status change in AstDB and announces it with a UserEvent.
    await send(Action.build("DBPut", [("Family", "UserBuddyStatus"), ("Key", "201"), ("Val", "1")]))
    await send(Action.build("UserEvent", [("UserEvent", "DB_UserBuddyStatus"), ("key", "201"), ("val", "1")]))
    await stack.until(lambda: stack.availability.free_agents("201") == frozenset())
    assert stack.availability.free_agents("2200") == {"PJSIP/202"}

    await send(Action.build("DBPut", [("Family", "UserBuddyStatus"), ("Key", "202"), ("Val", "2")]))
    await stack.availability.resync(stack.client)  # what a reconnect does: the stored status is read back
    assert stack.availability.free_agents("2200") == frozenset()

    await send(Action.build("DBPut", [("Family", "UserBuddyStatus"), ("Key", "202"), ("Val", "0")]))
    await stack.availability.resync(stack.client)
    assert stack.availability.free_agents("2200") == {"PJSIP/202"}
    await send(Action.build("QueuePause", [("Queue", "2200"), ("Interface", "PJSIP/202"), ("Paused", "true")]))
    await stack.until(lambda: stack.availability.free_agents("2200") == frozenset())


async def test_a_queue_named_by_an_id_is_found_by_its_number_through_show_dial_plan() -> None:
    """MikoPBX names app_queue queues by an id and dials them from a number in the internal context; the tracker
    learns which number runs which queue from ShowDialPlan, as a real Asterisk lists it."""
    config = sim_config.SimulatorConfig(
        ami_port=0,
        time_scale=0.01,
        queues=(sim_config.QueueConfig(name="QUEUE-1A2B3C", members=("201", "202")),),
        extra_dialplan="[internal]\nexten => 2300,1,NoOp(sales)\n same => n,Queue(QUEUE-1A2B3C,kT)\n",
    )
    async with simulator.PBXSimulator(config) as sim:
        client = ami_client.AMIClient("127.0.0.1", sim.ami_port, "dialer", "dialerpass", ping_interval=None)
        availability = AvailabilityTracker()
        client.on_event(availability.handle_event)
        client.on_connected(lambda: availability.resync(client))
        await client.connect(timeout=5)
        try:
            async with asyncio.timeout(10):
                while not availability.is_connected():
                    await asyncio.sleep(0.005)
            assert availability.free_agents("2300") == {"PJSIP/201", "PJSIP/202"}
            assert availability.free_agents("QUEUE-1A2B3C") == {"PJSIP/201", "PJSIP/202"}
        finally:
            await client.close()
