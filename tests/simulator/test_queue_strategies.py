"""app_queue beyond one caller: whose turn it is, whom each strategy rings, ringinuse, as apps/app_queue.c does.

Two customers reach queue 2200 within the same instant; the events the simulator sends say who rang whom.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodialer.simulator import Behaviour, PBXSimulator, QueueConfig, SimulatorConfig
from autodialer.simulator.queue_call import rotated_order

from .harness import AMITestClient

# Slower than the other simulator tests: who answers first must not depend on how busy the machine is.
SCALE = 0.05


def to_queue(number: str, call_id: str) -> list[tuple[str, str]]:
    return [
        ("Channel", f"Local/{number}@dialer-out"),
        ("Context", "internal"),
        ("Exten", "2200"),
        ("Priority", "1"),
        ("Async", "true"),
        ("ChannelId", call_id),
    ]


async def started(queue: QueueConfig, members: dict[str, Behaviour]) -> tuple[PBXSimulator, AMITestClient]:
    sim = PBXSimulator(SimulatorConfig(ami_port=0, time_scale=SCALE, queues=(queue,)))
    await sim.start()
    for exten, behaviour in members.items():
        sim.control.set_employee(exten, behaviour)
    client = AMITestClient()
    await client.login(sim.ami_port)
    return sim, client


@pytest.fixture
async def stopper() -> AsyncIterator[list[tuple[PBXSimulator, AMITestClient]]]:
    running: list[tuple[PBXSimulator, AMITestClient]] = []
    yield running
    for sim, client in running:
        await client.close()
        await sim.stop()


def called(ami: AMITestClient, call_id: str) -> list[str]:
    return [e.get("Interface") or "" for e in ami.named("AgentCalled") if e.get("Linkedid") == call_id]


def connected(ami: AMITestClient) -> dict[str, str]:
    return {e.get("Linkedid") or "": e.get("Interface") or "" for e in ami.named("AgentConnect")}


TALK = Behaviour(answer_after=0.2, hangup_after=20.0)
CUSTOMER = Behaviour(answer_after=0.1, hangup_after=30.0)


async def two_callers(sim: PBXSimulator, ami: AMITestClient) -> None:
    sim.control.set_customer("5553001", CUSTOMER)
    sim.control.set_customer("5553002", CUSTOMER)
    await ami.request("Originate", to_queue("5553001", "c-1"))
    await ami.request("Originate", to_queue("5553002", "c-2"))
    await ami.wait_for(lambda: len(ami.named("AgentConnect")) == 2, 10)


async def test_ringall_serves_the_head_caller_first_then_the_second_gets_the_free_member(
    stopper: list[tuple[PBXSimulator, AMITestClient]],
) -> None:
    sim, ami = await started(QueueConfig(), {"201": Behaviour(answer_after=2.0, hangup_after=20.0), "202": TALK})
    stopper.append((sim, ami))
    await two_callers(sim, ami)
    # Only the head caller rings (num_available_members says "one" for ringall): both members for c-1; c-2 waits
    # until c-1 is connected and then rings the member that is still free.
    assert sorted(called(ami, "c-1")) == ["PJSIP/201", "PJSIP/202"]
    assert called(ami, "c-2") == ["PJSIP/201"]
    assert connected(ami) == {"c-1": "PJSIP/202", "c-2": "PJSIP/201"}
    order = [(e.name, e.get("Linkedid")) for e in ami.events if e.name in ("AgentCalled", "AgentConnect")]
    assert order.index(("AgentConnect", "c-1")) < order.index(("AgentCalled", "c-2"))


async def test_ringall_with_ringinuse_and_autofill_rings_members_for_both_callers(
    stopper: list[tuple[PBXSimulator, AMITestClient]],
) -> None:
    queue = QueueConfig(ringinuse=True, autofill=True)
    sim, ami = await started(queue, {"201": TALK, "202": Behaviour(answer_after=2.0, hangup_after=20.0)})
    stopper.append((sim, ami))
    await two_callers(sim, ami)
    # ringinuse=yes: a ringing member still counts as available, so the second caller rings them too.
    assert sorted(called(ami, "c-2"))[:2] == ["PJSIP/201", "PJSIP/202"]


@pytest.mark.parametrize("strategy", ["rrmemory", "linear", "leastrecent", "fewestcalls"])
async def test_one_member_strategies_ring_one_member_per_caller(
    stopper: list[tuple[PBXSimulator, AMITestClient]], strategy: str
) -> None:
    sim, ami = await started(QueueConfig(strategy=strategy, autofill=True), {"201": TALK, "202": TALK})
    stopper.append((sim, ami))
    await two_callers(sim, ami)
    assert len(called(ami, "c-1")) == 1 and len(called(ami, "c-2")) == 1
    assert sorted(connected(ami).values()) == ["PJSIP/201", "PJSIP/202"]


async def test_rrmemory_moves_on_after_the_member_rung_last(stopper: list[tuple[PBXSimulator, AMITestClient]]) -> None:
    sim, ami = await started(QueueConfig(strategy="rrmemory"), {"201": Behaviour(answer_after=0.2), "202": TALK})
    stopper.append((sim, ami))
    for i, number in enumerate(("5553011", "5553012", "5553013"), start=1):
        sim.control.set_customer(number, Behaviour(answer_after=0.1, hangup_after=8.0))
        await ami.request("Originate", to_queue(number, f"r-{i}"))
        await ami.wait_for(lambda i=i: len(ami.named("AgentComplete")) == i, 10)
    assert [e.get("Interface") for e in ami.named("AgentConnect")] == ["PJSIP/201", "PJSIP/202", "PJSIP/201"]


async def test_linear_always_starts_from_the_first_member(stopper: list[tuple[PBXSimulator, AMITestClient]]) -> None:
    sim, ami = await started(QueueConfig(strategy="linear"), {"201": Behaviour(answer_after=0.2), "202": TALK})
    stopper.append((sim, ami))
    for i, number in enumerate(("5553021", "5553022"), start=1):
        sim.control.set_customer(number, Behaviour(answer_after=0.1, hangup_after=8.0))
        await ami.request("Originate", to_queue(number, f"l-{i}"))
        await ami.wait_for(lambda i=i: len(ami.named("AgentComplete")) == i, 10)
    assert [e.get("Interface") for e in ami.named("AgentConnect")] == ["PJSIP/201", "PJSIP/201"]


async def test_a_member_that_rejects_hands_the_call_to_the_next_at_once(
    stopper: list[tuple[PBXSimulator, AMITestClient]],
) -> None:
    sim, ami = await started(QueueConfig(strategy="linear"), {"201": Behaviour(outcome="busy"), "202": TALK})
    stopper.append((sim, ami))
    sim.control.set_customer("5553031", CUSTOMER)
    await ami.request("Originate", to_queue("5553031", "b-1"))
    await ami.wait_for(lambda: ami.named("AgentConnect"), 10)
    assert called(ami, "b-1") == ["PJSIP/201", "PJSIP/202"]
    assert [e.get("Interface") for e in ami.named("AgentRingNoAnswer")] == ["PJSIP/201"]
    assert connected(ami) == {"b-1": "PJSIP/202"}


async def test_ringinuse_no_never_rings_a_member_in_a_call(stopper: list[tuple[PBXSimulator, AMITestClient]]) -> None:
    sim, ami = await started(QueueConfig(strategy="ringall"), {"201": TALK, "202": TALK})
    stopper.append((sim, ami))
    await two_callers(sim, ami)
    rung = [e.get("Interface") for e in ami.named("AgentCalled")]
    in_call = {e.get("Interface") for e in ami.named("AgentConnect")}
    assert len(rung) == 3 and in_call == {"PJSIP/201", "PJSIP/202"}  # c-2 rang only the member left free


async def test_queue_status_lists_the_callers_waiting(stopper: list[tuple[PBXSimulator, AMITestClient]]) -> None:
    silent = Behaviour(outcome="noanswer")
    sim, ami = await started(QueueConfig(), {"201": silent, "202": silent})
    stopper.append((sim, ami))
    sim.control.set_customer("5553041", CUSTOMER)
    await ami.request("Originate", to_queue("5553041", "w-1"))
    await ami.wait_for(lambda: ami.named("QueueCallerJoin"), 5)
    await ami.request("QueueStatus")
    await ami.wait_for(lambda: ami.named("QueueStatusComplete"), 5)
    entries = ami.named("QueueEntry")
    assert [(e.get("Queue"), e.get("Position")) for e in entries] == [("2200", "1")]
    assert entries[0].get("Uniqueid") == "w-1"


@pytest.mark.parametrize("wrapup_s", [0.0, 10.0])
async def test_a_member_in_wrap_up_is_not_rung_until_it_ends(
    stopper: list[tuple[PBXSimulator, AMITestClient]], wrapup_s: float
) -> None:
    """queues.conf wrapuptime: the second caller waits for the only member's wrap-up, not just for its hang-up."""
    queue = QueueConfig(members=("201",), wrapup_s=wrapup_s)
    sim, ami = await started(queue, {"201": Behaviour(answer_after=0.2)})
    stopper.append((sim, ami))
    sim.control.set_customer("5553001", Behaviour(answer_after=0.1, hangup_after=2.0))
    sim.control.set_customer("5553002", Behaviour(answer_after=0.1, hangup_after=30.0))
    await ami.request("Originate", to_queue("5553001", "c-1"))
    await ami.wait_for(lambda: ami.named("AgentConnect"), 10)
    await ami.request("Originate", to_queue("5553002", "c-2"))
    await ami.wait_for(lambda: ami.named("AgentComplete"), 10)
    loop = asyncio.get_running_loop()
    ended = loop.time()
    await ami.wait_for(lambda: len(ami.named("AgentConnect")) == 2, 20)
    waited = (loop.time() - ended) / SCALE  # simulated seconds from the first call's end to the second's connect
    [member] = {e.get("Wrapuptime") for e in ami.named("QueueMemberStatus")} or {str(int(wrapup_s))}
    assert member == str(int(wrapup_s))
    if wrapup_s:
        assert waited >= wrapup_s - 1.5  # lastcall is whole seconds, as app_queue's time_t
    else:
        assert waited < 4.0


@given(n=st.integers(0, 2600), start=st.integers(0, 2700))
def test_rotated_order_is_the_stable_sort_of_calc_metric(n: int, start: int) -> None:
    # rrmemory/linear: calc_metric gives a member its place from rrpos/linpos on and 1000 + its place before; the
    # ring order is a stable sort of that (queues.conf order on a tie, which happens past 1,000 members).
    metrics = [(1000 + pos if pos < start else pos, pos) for pos in range(n)]
    assert list(rotated_order(n, start)) == sorted(metrics, key=lambda item: item[0])


def ready_from_scratch(sim: PBXSimulator) -> dict[str, set[int]]:
    queues = sim.pbx.queues
    return {q.name: {m.queuepos for m in q.members if queues._ready(q, m)} for q in queues.queues.values()}


async def test_the_members_kept_ready_follow_calls_pauses_and_lost_phones(
    stopper: list[tuple[PBXSimulator, AMITestClient]],
) -> None:
    # Whose turn it is counts the queue's `ready` members, kept as device states and pauses change instead of a
    # scan per check: after every kind of change they must be what a scan finds. 299 has no endpoint (INVALID).
    queues = (QueueConfig(strategy="rrmemory", autofill=True), QueueConfig(name="2201", members=("202", "299")))
    sim = PBXSimulator(SimulatorConfig(ami_port=0, time_scale=SCALE, queues=queues))
    await sim.start()
    ami = AMITestClient()
    await ami.login(sim.ami_port)
    stopper.append((sim, ami))

    def kept() -> dict[str, set[int]]:
        return {q.name: set(q.ready) for q in sim.pbx.queues.queues.values()}

    assert kept() == ready_from_scratch(sim) == {"2200": {0, 1}, "2201": {0}}
    sim.control.set_employee("201", TALK)
    sim.control.set_employee("202", TALK)
    await two_callers(sim, ami)
    assert kept() == ready_from_scratch(sim) == {"2200": set(), "2201": set()}
    sim.pbx.reset()  # as a PBX restart forgets every call
    assert kept() == ready_from_scratch(sim) == {"2200": {0, 1}, "2201": {0}}
    sim.control.pause_member("PJSIP/202")
    sim.control.set_reachable("201", False)
    assert kept() == ready_from_scratch(sim) == {"2200": set(), "2201": set()}
    sim.control.pause_member("PJSIP/202", False)
    assert kept() == ready_from_scratch(sim) == {"2200": {1}, "2201": {0}}
