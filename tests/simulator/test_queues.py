"""Queue 2200 beyond trace 12: ring timeout and retry, queue timeout, caller abandon, member states."""

from __future__ import annotations

from autodialer.simulator import Behaviour, PBXSimulator

from .harness import AMITestClient

TO_QUEUE = [
    ("Channel", "Local/5551003@dialer-out"),
    ("Context", "internal"),
    ("Exten", "2200"),
    ("Priority", "1"),
    ("Async", "true"),
    ("ChannelId", "q-1"),
]


def ended(c: AMITestClient) -> bool:
    return any(e.name == "Hangup" and (e.get("Channel") or "").endswith(";1") for e in c.events)


async def test_nobody_answers_rings_again_then_times_out(ami: AMITestClient, sim: PBXSimulator) -> None:
    for exten in ("201", "202"):
        sim.control.set_employee(exten, Behaviour(outcome="noanswer"))
    await ami.request("Originate", TO_QUEUE)
    await ami.wait_for(lambda: ended(ami), 5)
    assert len(ami.named("AgentCalled")) == 4  # 15 s ring, 2 s retry, ring again until the 30 s queue timeout
    assert {e.get("DialStatus") for e in ami.named("DialEnd") if e.get("Channel", "").endswith(";1")} == {"NOANSWER"}
    assert len(ami.named("AgentRingNoAnswer")) == 4
    assert [e.get("Count") for e in ami.named("QueueCallerLeave")] == ["0"]
    assert not ami.named("AgentConnect")


async def test_caller_hanging_up_while_queued_abandons(ami: AMITestClient, sim: PBXSimulator) -> None:
    sim.control.set_customer("5551003", Behaviour(answer_after=0.1, hangup_after=3.0))
    for exten in ("201", "202"):
        sim.control.set_employee(exten, Behaviour(outcome="noanswer"))
    await ami.request("Originate", TO_QUEUE)
    await ami.wait_for(lambda: ended(ami), 5)
    assert len(ami.named("QueueCallerAbandon")) == 1
    assert {e.get("DialStatus") for e in ami.named("DialEnd") if e.get("Channel", "").endswith(";1")} == {"CANCEL"}
    await ami.wait_for(lambda: not sim.control.channels(), 2)


async def test_busy_member_is_skipped_with_ringinuse_off(ami: AMITestClient, sim: PBXSimulator) -> None:
    sim.control.set_employee("201", Behaviour(answer_after=0.1))
    sim.control.set_employee("202", Behaviour(answer_after=0.1, hangup_after=2.0))
    await ami.request(
        "Originate", [("Channel", "PJSIP/201"), ("Application", "Wait"), ("Data", "10"), ("Async", "true")]
    )
    await ami.wait_for(lambda: any(e.get("Status") == "2" for e in ami.named("QueueMemberStatus")))
    await ami.request("Originate", TO_QUEUE)
    await ami.wait_for(lambda: ami.named("AgentComplete"), 5)
    assert [e.get("Interface") for e in ami.named("AgentCalled")] == ["PJSIP/202"]
    assert ami.named("AgentComplete")[0].get("Reason") == "agent"
