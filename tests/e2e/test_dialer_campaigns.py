"""Campaign behaviour of the whole service against the PBX simulator over real TCP.

Queue targets, tasks sharing an extension, maxCountChannels, pause and resume, retries and the AutoDialer
UserEvents. Concurrency is read from the simulator (its live channels, sampled; its Originate record), never from
our own counters, so the checks hold whatever the engine believes.
"""

from __future__ import annotations

import asyncio
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import LAB_5551001_TALKS, RING_TIMEOUTS, ChannelSampler, running_stack

from autodialer.simulator import Behaviour, EmployeeConfig, QueueConfig

pytestmark = pytest.mark.slow

FAST: dict[str, Any] = RING_TIMEOUTS
# 25 ms of ringing, 600 ms of talk at time_scale 0.05. The customer's talk time runs from their answer, and our
# connect step must reach the Dial inside it (~10 ms at idle) for the call to count as SUCCESS_CLIENT_H: a shorter
# talk let one pause of the test process late in a CI run (200 ms, the full suite's heap) turn a success into
# FAIL_CLIENT_H_BEFORE_ANSWER, as a real customer hanging up that early would.
TALK = Behaviour(answer_after=0.5, hangup_after=12.0)


def agents_of(calls: list[dict[str, Any]]) -> list[str]:
    return [c["variables"]["DIALER_AGENT"] for c in calls]


async def test_queue_target_rings_only_members_able_to_take_a_call_and_waits_while_none_is(tmp_path: Path) -> None:
    async with running_stack(tmp_path, **FAST) as stack:
        control = stack.sim.control
        rung = stack.record_events("AgentCalled")
        control.set_employee("202", Behaviour(answer_after=0.5))
        control.set_customer("5552301", TALK)
        control.set_customer("5552302", TALK)
        assert control.pause_member("PJSIP/201", True)
        first = await stack.post_task({"name": "queue", "innerNum": "2200", "numbers": ["5552301"]})
        done = stack.by_phone(await stack.wait_final(first["id"]))
        assert [f["Interface"] for _, f in rung] == ["PJSIP/202"]  # the paused member is never rung
        assert agents_of(stack.originates()) == [""]  # a queue call reserves nobody: the queue picks

        # every member paused: nobody can take a call, nothing is dialed
        assert control.pause_member("PJSIP/202", True)
        second = await stack.post_task({"name": "queue", "innerNum": "2200", "numbers": ["5552302"]})
        await asyncio.sleep(0.4)
        assert len(stack.originates()) == 1
        assert (await stack.task(second["id"]))["results"][0]["state"] == "CreateTask"
        assert control.pause_member("PJSIP/201", False)
        later = stack.by_phone(await stack.wait_final(second["id"]))
        assert len(stack.originates()) == 2
        assert [f["Interface"] for _, f in rung] == ["PJSIP/202", "PJSIP/201"]
    assert done["5552301"]["result"] == "SUCCESS_CLIENT_H"
    assert later["5552302"]["result"] == "SUCCESS_CLIENT_H"


async def test_two_tasks_on_one_extension_never_ring_it_twice(
    tmp_path: Path, db_url: str, migrated_engine: Any
) -> None:
    async with running_stack(tmp_path, db_url, **FAST) as stack:
        stack.sim.control.set_employee("201", Behaviour(answer_after=0.5))
        numbers_a = [f"555240{i}" for i in range(3)]
        numbers_b = [f"555241{i}" for i in range(3)]
        for number in numbers_a + numbers_b:
            stack.sim.control.set_customer(number, TALK)
        async with ChannelSampler(stack.sim) as sampler:
            a = await stack.post_task({"name": "a", "innerNum": "201", "numbers": numbers_a, "maxCountChannels": 3})
            b = await stack.post_task({"name": "b", "innerNum": "201", "numbers": numbers_b, "maxCountChannels": 3})
            final_a = stack.by_phone(await stack.wait_final(a["id"]))
            final_b = stack.by_phone(await stack.wait_final(b["id"]))
        history = await stack.attempt_rows()
        calls = stack.originates()
    assert {r["result"] for r in [*final_a.values(), *final_b.values()]} == {"SUCCESS_CLIENT_H"}
    assert len(calls) == 6 and set(agents_of(calls)) == {"PJSIP/201"}
    assert sampler.max_calls() == 1  # the PBX never held two of our calls for 201 at once
    assert sampler.max_channels("PJSIP/201-") == 1
    for earlier, later in pairwise(history):
        assert later["created_at"] >= earlier["ended_at"]  # the next call starts after the previous one ended
    assert {r["task_id"] for r in history} == {int(a["id"]), int(b["id"])}  # both tasks got turns


async def test_max_count_channels_caps_the_calls_of_a_task(tmp_path: Path) -> None:
    members = tuple(str(201 + i) for i in range(6))
    sim_config = {
        "employees": tuple(EmployeeConfig(m) for m in members),
        "queues": (QueueConfig(members=members),),
    }
    async with running_stack(tmp_path, sim_config=sim_config, **FAST) as stack:
        # A ringall queue serves its callers one at a time (app_queue: only the head caller rings, the next one looks
        # again every second), so the third customer may wait a few seconds: long enough talks keep them all.
        stack.sim.control.set_default_customer(Behaviour(answer_after=0.5, hangup_after=30.0))
        for member in members:
            stack.sim.control.set_employee(member, Behaviour(answer_after=0.5))
        numbers = [f"555250{i}" for i in range(8)]
        async with ChannelSampler(stack.sim) as sampler:
            task = await stack.post_task({"name": "cap", "innerNum": "2200", "numbers": numbers, "maxCountChannels": 3})
            final = await stack.wait_final(task["id"], timeout=60)
    assert sampler.max_calls() == 3  # six free members, but the task may hold three channels
    assert {r["result"] for r in final["results"]} == {"SUCCESS_CLIENT_H"}


async def test_pause_lets_the_current_call_finish_and_resume_continues(
    tmp_path: Path, db_url: str, migrated_engine: Any
) -> None:
    async with running_stack(tmp_path, db_url, **FAST) as stack:
        numbers = ["5552601", "5552602", "5552603"]
        for number in numbers:
            stack.sim.control.set_customer(number, TALK)
        task = await stack.post_task({"name": "pause", "innerNum": "201", "numbers": numbers})
        await stack.until(stack.originates, 5, "the first Originate")
        paused = await stack.put_task(task["id"], {"state": 2})
        assert paused["state"] == 2

        async def first_recorded() -> dict[str, Any] | None:
            rows = stack.by_phone(await stack.task(task["id"]))
            return rows if rows["5552601"]["closeTime"] != "0" else None

        rows = await stack.until(first_recorded, 5, "the call in progress to finish and record")
        await asyncio.sleep(0.4)  # an engine that ignored the pause would have dialed the next number by now
        assert len(stack.originates()) == 1
        rows = stack.by_phone(await stack.task(task["id"]))
        assert rows["5552601"]["result"] == "SUCCESS_CLIENT_H"
        assert [rows[n]["state"] for n in numbers[1:]] == ["CreateTask", "CreateTask"]
        assert (await stack.task(task["id"]))["state"] == "2"  # a paused task does not close itself

        await stack.put_task(task["id"], {"state": 0})
        final = stack.by_phone(await stack.wait_final(task["id"]))
        calls = stack.originates()

        async def task_closed() -> bool:
            return bool((await stack.task(task["id"]))["state"] == "1")

        await stack.until(task_closed, 5, "the resumed task to close itself")
    assert [c["channel"] for c in calls] == [f"Local/{n}@dialer-out" for n in numbers]
    assert {r["result"] for r in final.values()} == {"SUCCESS_CLIENT_H"}


async def test_retries_keep_the_number_open_until_its_final_outcome(
    tmp_path: Path, db_url: str, migrated_engine: Any
) -> None:
    # 0.6 s between attempts: the test must see 5552702's first attempt end busy and switch it to answering before
    # the retry dials it; 0.3 s was about one stall of a loaded test process (then it is busy again: countTry 3)
    delay = 0.6
    policy = {"customer_busy": {"delay_s": delay, "max_retries": 2}}
    async with running_stack(tmp_path, db_url, retry_policy=policy, **FAST) as stack:
        control = stack.sim.control
        control.set_customer("5552701", TALK)
        control.set_customer("5552702", Behaviour(outcome="busy", ring=False))  # busy, then answers
        task = await stack.post_task(
            {"name": "retry", "innerNum": "201", "numbers": ["5551486", "5552702"], "maxCountChannels": 2}
        )
        seen: list[dict[str, dict[str, Any]]] = []

        async def finished_while_watching() -> dict[str, Any] | None:
            current = await stack.task(task["id"])
            seen.append(stack.by_phone(current))
            # answers from the second attempt on: switched once the first has ended busy (switching when its
            # Originate was merely seen raced the simulator reaching the customer, which then answered at once)
            if seen[-1]["5552702"]["outDialState"] == "BUSY":
                control.set_customer("5552702", TALK)
            rows = current["results"]
            return current if all(r["closeTime"] != "0" for r in rows) else None

        final = stack.by_phone(await stack.until(finished_while_watching, 10, "every number final"))
        history = await stack.attempt_rows()
        calls = stack.originates()
    busy = final["5551486"]
    assert (busy["result"], busy["outDialState"], busy["cause"], busy["countTry"]) == ("FAIL", "BUSY", "User busy", "3")
    assert (final["5552702"]["result"], final["5552702"]["countTry"]) == ("SUCCESS_CLIENT_H", "2")
    # between attempts the row never showed a result or a closeTime (1C would close its document)
    for snapshot in seen:
        for phone, row in snapshot.items():
            if row["result"] != final[phone]["result"]:
                assert (row["result"], row["closeTime"]) == ("", "0"), (phone, row)
    # every attempt kept, numbered, ended; a number is redialed only after its previous attempt ended
    by_phone: dict[str, list[Any]] = {}
    for row in history:
        by_phone.setdefault(row["phone"], []).append(row)
    assert [r["attempt_no"] for r in by_phone["5551486"]] == [1, 2, 3]
    assert [r["attempt_no"] for r in by_phone["5552702"]] == [1, 2]
    for rows in by_phone.values():
        assert all(r["ended_at"] is not None for r in rows)
        for earlier, later in pairwise(rows):
            assert later["created_at"] >= earlier["ended_at"] + delay - 0.05
    assert sorted(c["channel_id"] for c in calls) == sorted(r["id"] for r in history)  # one Originate per attempt


async def test_autodialer_user_events_reach_the_pbx(tmp_path: Path) -> None:
    async with running_stack(tmp_path, **FAST) as stack:
        stack.sim.control.set_customer("5551001", LAB_5551001_TALKS)
        events = stack.record_events("UserEvent")
        task = await stack.post_task({"name": "events", "innerNum": "201", "numbers": ["5551001", "5551404"]})
        await stack.wait_final(task["id"])
        await stack.until(lambda: len([e for e in events if e[1].get("UserEvent") == "AutoDialer"]) >= 4, 5)
    ours = [f for _, f in events if f.get("UserEvent") == "AutoDialer"]
    summary = sorted((f["dEvent"], f["OUT_NUMBER"], f["TASK_ID"], f.get("DIAL_STATUS")) for f in ours)
    task_id = str(task["id"])
    assert summary == [
        ("EndCall", "5551001", task_id, "ANSWER"),
        ("EndCall", "5551404", task_id, "NOANSWER"),
        ("StartDial", "5551001", task_id, None),
        ("StartDial", "5551404", task_id, None),
    ]
