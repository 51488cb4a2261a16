"""Invariants of the simulated PBX under random customer/employee behaviour (Hypothesis).

Whatever people do, the AMI stream must stay well-formed the way a dialer relies on: every channel that is
announced is hung up exactly once, every channel of a call carries the originated channel's Linkedid, every
Async Originate gets exactly one OriginateResponse (Reason 4 only if the customer answered), DialBegin and
DialEnd pair up per destination, and no channel is left behind.
"""

from __future__ import annotations

import asyncio
import collections

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autodialer.simulator import Behaviour, PBXSimulator, SimulatorConfig

from .harness import AMITestClient, ScriptedAGIServer

customers = st.builds(
    Behaviour,
    outcome=st.sampled_from(["answer", "busy", "congestion", "unallocated", "noanswer", "noroute"]),
    answer_after=st.floats(0.0, 3.0),
    hangup_after=st.none() | st.floats(0.0, 5.0),
    ring=st.booleans(),
    dtmf=st.lists(st.tuples(st.floats(0.0, 3.0), st.sampled_from("0123456789*#")), max_size=3).map(tuple),
)
employees = st.builds(
    Behaviour,
    outcome=st.sampled_from(["answer", "busy", "noanswer", "dnd"]),
    answer_after=st.floats(0.0, 3.0),
    hangup_after=st.none() | st.floats(0.0, 3.0),
)
agi_scripts = st.lists(
    st.sampled_from(
        [
            "EXEC Dial PJSIP/201,4",
            "EXEC Queue 2200,,,,4",
            'STREAM FILE beep "1#"',
            "WAIT FOR DIGIT 500",
            "GET VARIABLE DIALSTATUS",
            "HANGUP",
            "ANSWER",
        ]
    ),
    max_size=4,
)


async def _run(calls: list[Behaviour], e201: Behaviour, e202: Behaviour, script: list[str]) -> list[dict]:
    agi = ScriptedAGIServer(script)
    port = await agi.start()
    sim = PBXSimulator(SimulatorConfig(ami_port=0, time_scale=0.002, agi_port=port))
    await sim.start()
    client = AMITestClient()
    try:
        await client.login(sim.ami_port)
        sim.control.set_employee("201", e201)
        sim.control.set_employee("202", e202)
        for i, behaviour in enumerate(calls):
            sim.control.set_customer(f"555{i:04d}", behaviour)
            client.send(
                "Originate",
                [
                    ("Channel", f"Local/555{i:04d}@dialer-out"),
                    ("Context", "dialer-connect"),
                    ("Exten", "201"),
                    ("Priority", "1"),
                    ("Timeout", "6000"),
                    ("Async", "true"),
                    ("ChannelId", f"call-{i}"),
                    ("CallerID", "Dialer <4930000000>"),
                ],
                action_id=f"o-{i}",
            )
        await client.wait_for(lambda: len(client.named("OriginateResponse")) == len(calls), 10)
        # Calls nobody ends (both sides wait for a BYE) are cleared the way an operator would: AMI Hangup.
        end = asyncio.get_running_loop().time() + 0.2
        while sim.pbx.channels.live and asyncio.get_running_loop().time() < end:
            await asyncio.sleep(0.01)
        if sim.pbx.channels.live:
            await client.request("Hangup", [("Channel", "/./")])
        await client.wait_for(lambda: not sim.pbx.channels.live, 10)
        await asyncio.sleep(0.01)
        return [dict(e.fields) for e in client.events]
    finally:
        await client.close()
        await sim.stop()
        await agi.stop()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(customers, min_size=1, max_size=4), employees, employees, agi_scripts)
def test_call_streams_stay_well_formed(
    calls: list[Behaviour], e201: Behaviour, e202: Behaviour, script: list[str]
) -> None:
    events = asyncio.run(_run(calls, e201, e202, script))
    created = [e["Channel"] for e in events if e["Event"] == "Newchannel"]
    hung = collections.Counter(e["Channel"] for e in events if e["Event"] == "Hangup")
    assert len(created) == len(set(created))
    assert hung == collections.Counter(created)
    for e in events:
        if e["Event"] == "Newchannel":
            assert e["Linkedid"].startswith("call-")
    responses = [e for e in events if e["Event"] == "OriginateResponse"]
    assert sorted(e["ActionID"] for e in responses) == sorted(f"o-{i}" for i in range(len(calls)))
    for e in responses:
        answered = calls[int(e["ActionID"][2:])].outcome == "answer"
        assert e["Reason"] in (("4", "3") if answered else ("0", "3"))
        if e["Reason"] != "4":
            assert e["Response"] == "Failure" and e["Channel"].startswith("Local/555")
    begins = collections.Counter(e["DestChannel"] for e in events if e["Event"] == "DialBegin")
    ends = collections.Counter(e["DestChannel"] for e in events if e["Event"] == "DialEnd")
    assert set(ends) <= set(begins)
