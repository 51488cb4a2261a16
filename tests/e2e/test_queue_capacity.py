"""Queue targets as capacity, end to end: answered customers are handed to the queue, whatever its strategy.

The race a real Asterisk 22 showed (issue 9): queue 2200 (ringall, two free members), maxCountChannels 2, both
customers answer within the same second. The first customer's Queue() rings both members; the second customer must
still be handed to the queue (it waits there and gets the member left free), not ended as FAIL_USER_BUSY. Who rang
whom is read from the simulator's own events (AgentCalled, AgentConnect), not from our counters.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import ChannelSampler, running_stack

from autodialer.simulator import Behaviour, QueueConfig

pytestmark = pytest.mark.slow

FAST: dict[str, Any] = {"originate_timeout_s": 10, "agent_dial_timeout_s": 30}
# Both customers answer 1 s (simulated) after the call starts, so within the same second; the members take 2 s,
# so the second customer reaches the queue while the first one's Queue() is ringing. They talk 30 s (1.5 s of real
# time): a second customer waiting a few seconds in line must not hang up first on a loaded machine.
CUSTOMER = Behaviour(answer_after=1.0, hangup_after=30.0)
MEMBER = Behaviour(answer_after=2.0)


async def both_customers_answer(stack: Any, numbers: list[str], max_channels: int = 2) -> dict[str, dict[str, Any]]:
    """Task to queue 2200 with ``numbers``; every customer answers after 1 s, the members after 2 s."""
    for number in numbers:
        stack.sim.control.set_customer(number, CUSTOMER)
    for member in ("201", "202"):
        stack.sim.control.set_employee(member, MEMBER)
    body = {"name": "queue race", "innerNum": "2200", "numbers": numbers, "maxCountChannels": max_channels}
    task = await stack.post_task(body)
    return dict(stack.by_phone(await stack.wait_final(task["id"], timeout=60)))


@pytest.mark.parametrize(
    ("strategy", "ringinuse"),
    [("ringall", False), ("ringall", True), ("rrmemory", False), ("leastrecent", False), ("linear", False)],
)
async def test_two_customers_answering_together_are_both_handed_to_the_queue(
    tmp_path: Path, strategy: str, ringinuse: bool
) -> None:
    queue = QueueConfig(strategy=strategy, ringinuse=ringinuse)
    async with running_stack(tmp_path, sim_config={"queues": (queue,)}, **FAST) as stack:
        seen = stack.record_events("AgentCalled", "AgentConnect", "QueueCallerJoin")
        rows = await both_customers_answer(stack, ["5552701", "5552702"])
        calls = [c["channel_id"] for c in stack.originates()]
    assert {r["result"] for r in rows.values()} == {"SUCCESS_CLIENT_H"}, rows
    assert {r["state"] for r in rows.values()} == {"endCall"}
    assert len(calls) == 2  # both answered at once, nobody dialed again
    joined = {f["Linkedid"] for name, f in seen if name == "QueueCallerJoin"}
    assert joined == set(calls)
    members = {f["Linkedid"]: f["Interface"] for name, f in seen if name == "AgentConnect"}
    assert set(members) == set(calls)
    if not ringinuse:  # with ringinuse=yes app_queue may ring (and the phone answer) a member already talking
        assert set(members.values()) == {"PJSIP/201", "PJSIP/202"}


async def test_the_ringall_race_on_both_back_ends(tmp_path: Path, db_url: str, migrated_engine: Any) -> None:
    async with running_stack(tmp_path, db_url, **FAST) as stack:
        seen = stack.record_events("AgentCalled", "AgentConnect")
        rows = await both_customers_answer(stack, ["5552711", "5552712"])
        calls = [c["channel_id"] for c in stack.originates()]
    first = calls[0]
    assert {r["result"] for r in rows.values()} == {"SUCCESS_CLIENT_H"}, rows
    # The first caller's Queue() rang both members before the second caller was connected to anybody.
    rung_for_first = {f["Interface"] for name, f in seen if name == "AgentCalled" and f["Linkedid"] == first}
    assert rung_for_first == {"PJSIP/201", "PJSIP/202"}
    connects = [f["Linkedid"] for name, f in seen if name == "AgentConnect"]
    assert sorted(connects) == sorted(calls)


async def test_a_queue_with_nobody_able_to_take_the_call_is_busy(tmp_path: Path) -> None:
    final = {"agent_busy": {"delay_s": 60, "max_retries": 0}}  # the verdict stays, no requeue
    # The customer rings 10 s (500 ms real) while the test sees the Originate and pauses both members; 4 s (200 ms)
    # was one stall of a loaded test process. The Originate waits 60 s so that ring may last.
    async with running_stack(tmp_path, retry_policy=final, **{**FAST, "originate_timeout_s": 60}) as stack:
        control = stack.sim.control
        control.set_customer("5552721", Behaviour(answer_after=10.0, hangup_after=30.0))
        seen = stack.record_events("QueueCallerJoin")
        task = await stack.post_task({"name": "busy queue", "innerNum": "2200", "numbers": ["5552721"]})
        await stack.until(stack.originates, 5, "the Originate")
        # Both members go on a break while the customer's phone rings: when the customer answers, the queue has
        # no member who can take the call.
        assert control.pause_member("PJSIP/201", True) and control.pause_member("PJSIP/202", True)
        rows = stack.by_phone(await stack.wait_final(task["id"], timeout=30))
        await asyncio.sleep(0.2)
    assert (rows["5552721"]["result"], rows["5552721"]["state"]) == ("FAIL_USER_BUSY", "allUserBusy")
    assert seen == []  # never handed to the queue


async def test_a_queue_never_gets_more_calls_than_members_who_can_take_them(tmp_path: Path) -> None:
    async with running_stack(tmp_path, **FAST) as stack:
        numbers = [f"555273{i}" for i in range(5)]
        async with ChannelSampler(stack.sim) as sampler:
            rows = await both_customers_answer(stack, numbers, max_channels=5)
    assert {r["result"] for r in rows.values()} == {"SUCCESS_CLIENT_H"}, rows
    assert len(stack.originates()) == 5  # nobody was ended as busy and dialled again
    assert sampler.max_calls() == 2  # maxCountChannels 5, but two members: two calls at a time
