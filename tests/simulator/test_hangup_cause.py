"""The provider's tech cause through the shipped dialplan: HANGUPCAUSE / HANGUPCAUSE_KEYS and hangup handlers.

The customer half (;2) of every call runs the snippet's hangup handler, which sends one ``DialerHangupCause``
UserEvent per channel its Dial tried, before that half's own Hangup event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from autodialer.dialplan import snippet
from autodialer.simulator import Behaviour, PBXSimulator, SimulatorConfig
from autodialer.simulator.dialplan import substitute

from .conftest import FAST
from .harness import AMITestClient


@pytest.fixture(params=["asterisk", "mikopbx"])
async def shipped(request: pytest.FixtureRequest) -> AsyncIterator[tuple[PBXSimulator, AMITestClient]]:
    text = snippet(request.param)
    if request.param == "mikopbx":  # MikoPBX's [outgoing] routes: one provider, as a route would dial it
        text += "\n[outgoing]\nexten => _X.,1,Dial(PJSIP/${EXTEN}@trunk,600)\n same => n,Hangup()\n"
    sim = PBXSimulator(SimulatorConfig(ami_port=0, time_scale=FAST, dialplan_text=text))
    await sim.start()
    client = AMITestClient()
    await client.login(sim.ami_port)
    yield sim, client
    await client.close()
    await sim.stop()


def originate(number: str, call_id: str) -> list[tuple[str, str]]:
    return [
        ("Channel", f"Local/{number}@dialer-out"),
        ("Context", "dialer-connect"),
        ("Exten", "201"),
        ("Priority", "1"),
        ("Async", "true"),
        ("ChannelId", call_id),
        ("OtherChannelId", f"{call_id}-2"),
        ("Timeout", "5000"),
    ]


def causes(ami: AMITestClient, call_id: str) -> list[tuple[str, str]]:
    return [
        (e.get("Peer") or "", e.get("TechCause") or "")
        for e in ami.named("UserEvent")
        if e.get("UserEvent") == "DialerHangupCause" and e.get("Linkedid") == call_id
    ]


def gone(ami: AMITestClient, call_id: str) -> bool:
    return any(e.name == "Hangup" and e.get("Uniqueid") == f"{call_id}-2" for e in ami.events)


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        (Behaviour(outcome="busy"), "SIP%20486%20Busy%20Here"),
        (Behaviour(outcome="congestion"), "SIP%20503%20Service%20Unavailable"),
        (Behaviour(outcome="unallocated"), "SIP%20404%20Not%20Found"),
        (Behaviour(outcome="noanswer"), "SIP%20180%20Ringing"),  # CANCELled: the last response it gave was 180
    ],
)
async def test_a_failed_customer_leg_reports_its_sip_response(
    shipped: tuple[PBXSimulator, AMITestClient], behaviour: Behaviour, expected: str
) -> None:
    sim, ami = shipped
    sim.control.set_customer("5557001", behaviour)
    await ami.request("Originate", originate("5557001", "hc-1"))
    await ami.wait_for(lambda: gone(ami, "hc-1"), 5)
    [(peer, cause)] = causes(ami, "hc-1")
    assert peer.startswith("PJSIP/trunk-") and cause == expected
    names = [(e.name, e.get("Uniqueid")) for e in ami.events]
    event = next(i for i, e in enumerate(ami.events) if e.get("UserEvent") == "DialerHangupCause")
    assert event < names.index(("Hangup", "hc-1-2"))  # before the customer half's Hangup


async def test_an_answered_customer_leg_keeps_its_200(shipped: tuple[PBXSimulator, AMITestClient]) -> None:
    sim, ami = shipped
    sim.control.set_customer("5557002", Behaviour(answer_after=0.2, hangup_after=1.0))
    await ami.request("Originate", originate("5557002", "hc-2"))
    await ami.wait_for(lambda: gone(ami, "hc-2"), 5)
    assert [c for _, c in causes(ami, "hc-2")] == ["SIP%20200%20OK"]


def test_nested_functions_expand_innermost_first() -> None:
    values = {"A": "x", "B": "A"}
    assert substitute("${${B}}-${A}", values) == "x-x"
    assert substitute("${F(${A},2)}", values, lambda name, args: f"{name}:{'|'.join(args)}") == "F:x|2"
    assert substitute("${NOPE(1)}${UNSET}", values) == ""
    assert substitute("${unbalanced", values) == "${unbalanced"


async def test_the_connect_step_marks_an_answered_call_in_astdb_and_an_unanswered_one_not(
    shipped: tuple[PBXSimulator, AMITestClient],
) -> None:
    """[dialer-connect] writes dialer-answered/<call id> as the customer answers, with nobody at the FastAGI
    port (the dialer is down): the PBX's own record, readable with DBGetTree, that outlives the dialer."""
    sim, ami = shipped
    sim.control.set_customer("5557011", Behaviour(answer_after=0.5, hangup_after=1.0))
    sim.control.set_customer("5557012", Behaviour(outcome="busy"))
    for number, call_id in (("5557011", "mark-1"), ("5557012", "mark-2")):
        await ami.request("Originate", [*originate(number, call_id), ("Variable", f"DIALER_CALL_ID={call_id}")])
    await ami.wait_for(lambda: gone(ami, "mark-1") and gone(ami, "mark-2"), 5)
    tree = await ami.request("DBGetTree", [("Family", "dialer-answered")])
    assert tree.get("Response") == "Success"
    assert set(sim.pbx.db.get("dialer-answered", {})) == {"mark-1"}
    assert sim.pbx.db["dialer-answered"]["mark-1"].isdigit()  # ${EPOCH}


async def test_an_ami_hangup_of_a_ringing_originate_is_a_failure_and_is_in_its_record(
    shipped: tuple[PBXSimulator, AMITestClient],
) -> None:
    """What the engine does to a ringing call predictive ends: AMI Hangup (cause 19) of each of its channels. As
    Asterisk's Originate (main/dial.c, then pbx_dial_reason) reports it: the channel's Hangup with the cause we
    gave, DialEnd NOANSWER (ast_hangup_cause_to_dial_status(19)), OriginateResponse Failure with Reason 0 (the dial
    ends unanswered and its own cause is 0); the simulator's record of the Originate shows the hang-up."""
    sim, ami = shipped
    sim.control.set_customer("5557002", Behaviour(outcome="noanswer"))
    fields = [(k, "60000" if k == "Timeout" else v) for k, v in originate("5557002", "hc-2")]
    await ami.request("Originate", fields)
    await ami.wait_for(lambda: any(e.get("ChannelState") == "5" for e in ami.named("Newstate")), 5)
    live = [c["channel"] for c in sim.control.channels() if c["linkedid"] == "hc-2"]
    assert live
    for channel in live:
        reply = await ami.request("Hangup", [("Channel", channel), ("Cause", "19")])
        assert reply.status == "Success" or reply.message == "No such channel"  # a Local half may go with its peer
    await ami.wait_for(lambda: ami.named("OriginateResponse"), 5)
    (response,) = ami.named("OriginateResponse")
    assert (response.get("Response"), response.get("Reason"), response.get("Uniqueid")) == ("Failure", "0", "hc-2")
    await ami.wait_for(lambda: gone(ami, "hc-2"), 5)
    hangups = {e.get("Channel"): e.get("Cause") for e in ami.named("Hangup") if e.get("Linkedid") == "hc-2"}
    assert hangups[live[0]] == "19"
    (record,) = [r for r in sim.control.requests if r["channel_id"] == "hc-2"]
    assert (record["response"], record["reason"]) == ("Failure", 0)
    assert record["hangups"] and record["hangups"][0]["cause"] == 19 and record["hangups"][0]["channel"] == live[0]
    assert sim.control.channels() == [] or all(c["linkedid"] != "hc-2" for c in sim.control.channels())
