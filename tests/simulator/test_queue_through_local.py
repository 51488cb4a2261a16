"""A queue reached through a Local channel (how the dialer connects a customer to a queue: Dial(Local/2200@internal))
answers when a member answers, as ast_bridge_call does in Asterisk, so the outer Dial sees ANSWER."""

from __future__ import annotations

import asyncio

from autodialer.adapters.asterisk.ami_client import AMIClient
from autodialer.protocols.ami import Action, Event
from autodialer.simulator.config import SimulatorConfig
from autodialer.simulator.scenario import Scenario
from autodialer.simulator.simulator import PBXSimulator


async def test_queue_member_answer_answers_the_local_caller() -> None:
    scenario = Scenario.from_json({"employees": {"201": {"outcome": "noanswer"}, "202": {"answer_after": 1.0}}})
    async with PBXSimulator(SimulatorConfig(ami_port=0, time_scale=0.01), scenario=scenario) as sim:
        events: list[Event] = []
        async with AMIClient("127.0.0.1", sim.ami_port, "dialer", "dialerpass", ping_interval=None) as client:
            client.on_event(events.append)
            await client.wait_connected(5)
            originate = Action.build(
                "Originate",
                [("Channel", "Local/2200@internal"), ("Application", "Wait"), ("Data", "5"), ("Async", "true")],
            )
            await client.send(originate)
            async with asyncio.timeout(5):
                while not any(e.name == "OriginateResponse" for e in events):
                    await asyncio.sleep(0.005)
    response = next(e for e in events if e.name == "OriginateResponse")
    assert (response.get("Response"), response.get("Reason")) == ("Success", "4")
    ups = [e.get("Channel") for e in events if e.name == "Newstate" and e.get("ChannelStateDesc") == "Up"]
    assert any(c and c.endswith(";2") for c in ups) and any(c and c.endswith(";1") for c in ups)
    connect = next(e for e in events if e.name == "AgentConnect")
    assert connect.get("Interface") == "PJSIP/202"
