"""Every MikoPBX result code, produced by the whole service against the PBX simulator over real TCP (spec §3.4).

The customers and employees are simulated people (scenario behaviours); what we check is what a 1C client reads:
``GET /task/{id}`` and ``GET /results/{changeTime}`` rows with result, state, outDialState, inDialState, cause,
linkedId, countTry and closeTime as MikoPBX would have written them. The simulator runs at 1/20 of real time, so a
5 s (simulated) Originate timeout lasts 0.25 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import LAB_5551001_TALKS, Stack, running_stack

from autodialer.simulator import Behaviour

pytestmark = pytest.mark.slow

# Customer failures are retried once, 0.1 s later, so "after retries are exhausted" takes two attempts.
ONE_QUICK_RETRY = {
    "customer_busy": {"delay_s": 0.1, "max_retries": 1},
    "customer_no_answer": {"delay_s": 0.1, "max_retries": 1},
    "customer_congestion": {"delay_s": 0.1, "max_retries": 1},
    "agent_busy": {"delay_s": 0.1, "max_retries": 0},
}
FAST = {"originate_timeout_s": 5, "agent_dial_timeout_s": 5, "retry_policy": ONE_QUICK_RETRY}


def stack_on(tmp_path: Path, database_url: str = "", **settings: Any) -> Any:
    return running_stack(tmp_path, database_url, **{**FAST, **settings})


async def run_task(stack: Stack, inner_num: str, numbers: list[str], **fields: Any) -> dict[str, dict[str, Any]]:
    task = await stack.post_task({"name": "e2e", "innerNum": inner_num, "numbers": numbers, **fields})
    return stack.by_phone(await stack.wait_final(task["id"], timeout=15))


async def test_customer_failures_get_mikopbx_results_after_retries(
    tmp_path: Path, db_url: str, migrated_engine: Any
) -> None:
    async with stack_on(tmp_path, db_url) as stack:
        stack.sim.control.set_customer("5551777", Behaviour(outcome="noroute", ring=False))  # trunk unavailable
        numbers = ["5551486", "5551503", "5551404", "5551999", "7770000", "5551777"]
        final = await run_task(stack, "201", numbers, maxCountChannels=6)
        calls = stack.originates()
    got = {p: (r["result"], r["state"], r["outDialState"], r["cause"], r["countTry"]) for p, r in final.items()}
    assert got == {
        # busy / congestion / no answer are retried once; then MikoPBX's FAIL with DIALSTATUS and the cause text
        "5551486": ("FAIL", "failedOriginate", "BUSY", "User busy", "2"),
        "5551503": ("FAIL", "failedOriginate", "CONGESTION", "Circuit/channel congestion", "2"),
        # the Originate timeout cancels the ringing trunk leg: DIALSTATUS CANCEL in the outgoing context (README §6)
        "5551999": ("FAIL", "failedOriginate", "CANCEL", "User alerting, no answer", "2"),
        # a number that does not exist is final at once; MikoPBX stores the DIALSTATUS variable, which app_dial sets
        # to CHANUNAVAIL for a SIP 404 (trace 05: DialEnd says NOANSWER, the dialplan then reads CHANUNAVAIL)
        "5551404": ("FAIL", "failedOriginate", "CHANUNAVAIL", "Unallocated (unassigned) number", "1"),
        # no route in the outgoing context: failedOriginate straight after CreateCallFile
        "7770000": ("FAIL_ROUTE", "failedOriginate", None, None, "1"),
        # the provider could not be reached: afterDialOut CHANUNAVAIL and no provider hangup, so cause stays null
        "5551777": ("FAIL_PROVIDER", "failedOriginate", "CHANUNAVAIL", None, "2"),
    }
    for phone, row in final.items():
        assert row["inDialState"] is None
        assert row["closeTime"] != "0" and int(row["closeTime"]) <= int(row["changeTime"].split(".")[0]) + 1
        # linkedId is the Linkedid of the last attempt's channels: our Originate ChannelId
        last = [c for c in calls if c["channel"].startswith(f"Local/{phone}@")][-1]
        assert row["linkedId"] == last["channel_id"]
        assert row["callFile"] == f"dialer-{row['taskId']}-{phone}-201.call"
    assert len(calls) == sum(int(r["countTry"]) for r in final.values())


async def test_employee_outcomes(tmp_path: Path, db_url: str, migrated_engine: Any) -> None:
    """SUCCESS_CLIENT_H, SUCCESS_USER_H, FAIL_CLIENT_H_BEFORE_ANSWER and FAIL_USER_NO_ANSWER, one task each."""
    # 202 rings for 12 s, not 5: the customer hanging up while it rings must do so after our connect step began
    async with stack_on(tmp_path, db_url, agent_dial_timeout_s=12) as stack:
        control = stack.sim.control
        # 201 answers after 0.5 s and hangs up 2 s later; customer 5551003 waits for our BYE
        control.set_employee("201", Behaviour(answer_after=0.5, hangup_after=2.0))
        user_hangup = await run_task(stack, "201", ["5551003"])
        # 201 answers; the customer hangs up 12 s after answering: first
        control.set_employee("201", Behaviour(answer_after=0.5))
        control.set_customer("5551001", LAB_5551001_TALKS)
        client_hangup = await run_task(stack, "201", ["5551001"])
        # 202 rings for ever (lab); the customer hangs up 6 s (300 ms real) after answering: after our connect step
        # began (at 2 s, 100 ms, a slow AGI start made it FAIL) and 6 s before the 12 s Dial timeout (was 3 s, 150 ms)
        control.set_customer("5552001", Behaviour(answer_after=0.5, hangup_after=6.0))
        before_answer = await run_task(stack, "202", ["5552001"])
        # 202 rings until the 12 s Dial timeout; the customer waits
        no_answer = await run_task(stack, "202", ["5551003"])

    row = user_hangup["5551003"]
    assert (row["result"], row["state"], row["inDialState"], row["outDialState"]) == (
        "SUCCESS_USER_H",
        "endCall",
        "ANSWER",
        None,
    )
    assert row["cause"] == "Normal Clearing"
    assert row["verboseCallId"] and row["verboseCallId"].startswith("[C-")
    row = client_hangup["5551001"]
    assert (row["result"], row["state"], row["inDialState"], row["cause"]) == (
        "SUCCESS_CLIENT_H",
        "endCall",
        None,
        "Normal Clearing",
    )
    row = before_answer["5552001"]
    assert (row["result"], row["state"], row["inDialState"]) == ("FAIL_CLIENT_H_BEFORE_ANSWER", "endCall", None)
    row = no_answer["5551003"]
    assert (row["result"], row["state"], row["inDialState"], row["countTry"]) == (
        "FAIL_USER_NO_ANSWER",
        "endDial",
        "NOANSWER",
        "1",
    )


async def test_employee_on_dnd_when_the_customer_answers_gives_fail_user_busy(tmp_path: Path) -> None:
    async with stack_on(tmp_path, originate_timeout_s=60) as stack:  # the customer rings past the 5 s default
        control = stack.sim.control
        # 10 s (500 ms) of ringing: time to see the Originate and change 201 (3 s, 150 ms, was a stall's length)
        control.set_customer("5552002", Behaviour(answer_after=10.0))
        task = await stack.post_task({"name": "dnd", "innerNum": "201", "numbers": ["5552002"]})
        await stack.until(stack.originates, 5, "the Originate")
        control.set_dnd("201", True)  # the MikoPBX way: AstDB UserBuddyStatus + UserEvent
        final = stack.by_phone(await stack.wait_final(task["id"], timeout=10))
        channels_201 = [r for r in stack.sim.control.requests if r["channel"].startswith("PJSIP/201")]
    row = final["5552002"]
    # allUserBusy after startDial, no Dial to 201 at all; agent_busy has no requeue left in this policy
    assert (row["result"], row["state"], row["inDialState"]) == ("FAIL_USER_BUSY", "allUserBusy", None)
    assert channels_201 == []


async def test_employee_busy_requeues_without_charging_the_customer(tmp_path: Path) -> None:
    policy = {**ONE_QUICK_RETRY, "agent_busy": {"delay_s": 0.1, "max_retries": 3}}
    async with stack_on(tmp_path, retry_policy=policy, originate_timeout_s=60) as stack:  # rings past 5 s
        control = stack.sim.control
        # 10 s (500 ms) of ringing to see the Originate and set DND (was 150 ms); then 12 s (600 ms) of talk for the
        # second try's connect step to reach the Dial and 201's 75 ms ring (4 s left ~125 ms for it)
        control.set_customer("5552003", Behaviour(answer_after=10.0, hangup_after=12.0))
        task = await stack.post_task({"name": "requeue", "innerNum": "201", "numbers": ["5552003"]})
        await stack.until(stack.originates, 5, "the first Originate")
        control.set_dnd("201", True)

        async def requeued() -> bool:
            rows = (await stack.task(task["id"]))["results"]
            return rows[0]["state"] == "allUserBusy" and rows[0]["closeTime"] == "0"

        await stack.until(requeued, 5, "the number back in line, open")
        control.set_dnd("201", False)
        final = stack.by_phone(await stack.wait_final(task["id"], timeout=10))
    row = final["5552003"]
    assert row["result"] == "SUCCESS_CLIENT_H"
    assert row["countTry"] == "2"


async def test_results_feed_delivers_rows_as_1c_reads_them(tmp_path: Path) -> None:
    async with stack_on(tmp_path) as stack:
        stack.sim.control.set_customer("5551001", LAB_5551001_TALKS)
        first = await stack.results_since(0)
        assert first == []
        task = await stack.post_task({"name": "feed", "innerNum": "201", "numbers": ["5551001", "5551404"]})
        created = await stack.results_since(0)
        assert len(created) == 2 and all(r["taskId"] == str(task["id"]) for r in created)
        await stack.wait_final(task["id"])
        # a 1C client keeps the largest changeTime it saw and asks again from there
        since = max(r["changeTime"] for r in created)
        later = await stack.results_since(since.split(".")[0])
        everything = await stack.results_since(0)
    latest = {r["phone"]: r for r in everything}
    assert {p: r["result"] for p, r in latest.items()} == {"5551001": "SUCCESS_CLIENT_H", "5551404": "FAIL"}
    assert {r["phone"] for r in later if r["closeTime"] != "0"} == {"5551001", "5551404"}
    for row in latest.values():
        assert row["taskId"] == str(task["id"])
        assert set(row) >= {
            "id", "taskId", "phoneId", "phone", "linkedId", "callFile", "result", "outDialState", "inDialState",
            "state", "verboseCallId", "cause", "params", "changeTime", "countTry", "timeCallAllow", "closeTime",
        }  # fmt: skip
        assert all(isinstance(v, str) or v is None for v in row.values())  # PDO strings, as MikoPBX sends them
