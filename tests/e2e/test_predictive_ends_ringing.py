"""A predictive campaign ends a ringing call on the simulator (issue 13): once warm, with both members of its queue
paused while two customers' phones ring, the calls that rang 15 s are hung up by AMI Hangup (cause 19) well before
the Originate timeout; each is a customer no-answer in v1 (FAIL once the retry is used), called again under the
no-answer rule, and nothing is left half-written (every row closed, every attempt ended, no call in flight).
Real clock: the 15 s are the dialer's own seconds."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.harness import running_stack
from tests.e2e.test_predictive_campaign import midday_zone

from autodialer.simulator import Behaviour, EmployeeConfig, QueueConfig

pytestmark = pytest.mark.slow

MEMBERS = ("301", "302")
QUEUE = QueueConfig(name="2300", members=MEMBERS, strategy="rrmemory", autofill=True, timeout_s=15.0)
SIM = {"employees": tuple(EmployeeConfig(m) for m in MEMBERS), "queues": (QUEUE,)}
BUSY = [f"55591{i:02d}" for i in range(24)]  # the warm-up: 20 outcomes before predictive paces at all
RINGING = ["5559200", "5559201"]  # never answer: ring until ended (or until the Originate timeout)
ORIGINATE_TIMEOUT_S = 28
RETRIES = {"customer_busy": {"delay_s": 1, "max_retries": 0}, "customer_no_answer": {"delay_s": 2, "max_retries": 1}}


async def test_a_ringing_call_predictive_ends_is_a_no_answer_retried_and_fully_recorded(tmp_path: Path) -> None:
    async with running_stack(
        tmp_path,
        time_scale=1.0,
        sim_config=SIM,
        originate_timeout_s=ORIGINATE_TIMEOUT_S,
        retry_policy=RETRIES,
        pbx_timezone=midday_zone(),
    ) as stack:
        for phone in BUSY:
            stack.sim.control.set_customer(phone, Behaviour(outcome="busy", reject_after=0.2))
        for phone in RINGING:
            stack.sim.control.set_customer(phone, Behaviour(outcome="noanswer"))
        for member in MEMBERS:
            stack.sim.control.set_employee(member, Behaviour(answer_after=0.3))
        root = stack.base_url.split("/pbxcore")[0]
        async with httpx.AsyncClient(base_url=f"{root}/api/v2", timeout=10) as v2:
            pacing = {"mode": "predictive", "min_ring_s": 15}
            body = {"name": "ring-cut", "target": {"kind": "extension", "value": "2300"}, "lines": 4, "pacing": pacing}
            made = await v2.post("/campaigns", json=body)
            assert made.status_code == 201, made.text
            campaign = made.json()
            assert campaign["pacing"]["min_ring_s"] == 15
            numbers = [{"phone": p} for p in BUSY + RINGING]
            assert (await v2.post(f"/campaigns/{campaign['id']}/numbers", json={"numbers": numbers})).status_code == 200

            def dialled(phone: str) -> list[dict[str, Any]]:
                return [o for o in stack.originates() if o["channel"].startswith(f"Local/{phone}@")]

            async def both_ringing() -> bool | None:
                return all(dialled(p) for p in RINGING) or None

            await stack.until(both_ringing, 60, "the two customers' phones to ring")
            for member in MEMBERS:  # nobody left to take an answer: the risk of each ringing call is ~1
                assert stack.sim.control.pause_member(f"PJSIP/{member}", True)
            paused_at = time.monotonic()

            async def both_ended() -> bool | None:
                return all(dialled(p)[0]["hangups"] for p in RINGING) or None

            await stack.until(both_ended, 25, "the ringing calls to be hung up")
            ended_after = time.monotonic() - paused_at
            for member in MEMBERS:
                stack.sim.control.pause_member(f"PJSIP/{member}", False)
            task = await stack.wait_final(campaign["id"], timeout=120)
            numbers_out = (await v2.get(f"/campaigns/{campaign['id']}/numbers")).json()["items"]
        attempts = await stack.attempt_rows()
    first = {p: dialled(p)[0] for p in RINGING}
    for phone, originate in first.items():
        cut = originate["hangups"]
        assert {h["cause"] for h in cut} == {19}, cut
        assert cut[0]["state"] in ("Ringing", "Ring"), cut  # it was still ringing when we hung it up
        ring_s = cut[0]["time"] - originate["time"]
        assert 15.0 <= ring_s < ORIGINATE_TIMEOUT_S - 3, (phone, ring_s)  # ended by us, not by the timeout
        assert (originate["response"], originate["reason"]) == ("Failure", 0)
    assert ended_after < 20
    rows = stack.by_phone(task)
    assert all(r["closeTime"] != "0" for r in rows.values())  # nothing left open
    by_phone: dict[str, list[Any]] = {}
    for attempt in attempts:
        by_phone.setdefault(attempt["phone"], []).append(attempt)
    assert all(a["state"] == "ended" for a in attempts)  # no attempt left in flight
    for phone in RINGING:
        row = rows[phone]
        # v1: a customer no-answer (FAIL, as MikoPBX writes one; outDialState the Dial's), dialled once more by the
        # no-answer rule (countTry 2), which then rang out or was ended again: the same no-answer either way.
        assert row["result"] == "FAIL" and row["state"] == "failedOriginate", row
        assert row["outDialState"] in ("NOANSWER", "CANCEL"), row
        assert int(row["countTry"]) == 2 == len(by_phone[phone]) == len(dialled(phone)), row
        assert [a["outcome"] for a in by_phone[phone]] == ["FAIL", "FAIL"]
    for row in (rows[p] for p in BUSY):
        assert (row["result"], row["outDialState"], int(row["countTry"])) == ("FAIL", "BUSY", 1), row
    for phone in RINGING:  # called again only after the no-answer rule's delay
        first_try, second_try = by_phone[phone]
        assert second_try["created_at"] - first_try["ended_at"] >= RETRIES["customer_no_answer"]["delay_s"] - 0.1
    v2_states = {n["phone"]: n["state"] for n in numbers_out}
    assert {v2_states[p] for p in RINGING} == {"failedOriginate"}
