"""Capacity: the simulator holds at least 2,000 concurrent calls (4,000 Local channels) over one AMI session."""

from __future__ import annotations

import pytest

from autodialer.simulator import PBXSimulator, SimulatorConfig

from .harness import AMITestClient

CALLS = 2000
HOLD = "[hold]\nexten => _X.,1,Answer()\n same => n,Wait(600)\n same => n,Hangup()\n"


@pytest.mark.slow
async def test_two_thousand_concurrent_calls() -> None:
    sim = PBXSimulator(SimulatorConfig(ami_port=0, time_scale=0.01, extra_dialplan=HOLD))
    await sim.start()
    client = AMITestClient()
    try:
        await client.login(sim.ami_port, ("Event: OriginateResponse",))
        for i in range(CALLS):
            client.send(
                "Originate",
                [
                    ("Channel", f"Local/{10000 + i}@hold"),
                    ("Application", "Wait"),
                    ("Data", "600"),
                    ("Async", "true"),
                    ("ChannelId", f"cap-{i}"),
                ],
            )
        await client.wait_for(lambda: len(client.named("OriginateResponse")) == CALLS, 60)
        assert {e.get("Reason") for e in client.named("OriginateResponse")} == {"4"}
        client.send("CoreShowChannels", action_id="count")
        await client.wait_for(lambda: any(e.name == "CoreShowChannelsComplete" for e in client.events), 30)
        complete = next(e for e in client.events if e.name == "CoreShowChannelsComplete")
        assert complete.get("ListItems") == str(2 * CALLS)
        assert len({c["linkedid"] for c in sim.control.channels()}) == CALLS
    finally:
        await client.close()
        await sim.stop()
