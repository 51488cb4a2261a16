"""A predictive campaign end to end on the simulator (issue 13): a queue of 10 agents, customers who answer, are
busy or do not answer, on the simulator's real clock (abandon_after_s is a Dial timeout in simulated seconds and a
pacing window in ours: the scales must match).

What is checked against the simulator's own record: the campaign runs to the end (every number final), abandonment
(answered, no agent within 2 s) stays under the 3% cap, every abandoned customer heard the safe-harbor message, no
member was connected to a customer while already in a call, and no number was dialled more often than its attempts
say (and those stay within the retry policy). A power campaign dialling past its agents shows the abandoned path
itself: the safe harbor played to each abandoned customer and to nobody else, FAIL_USER_BUSY/abandoned in v1.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.harness import Stack, running_stack

from autodialer.simulator import Behaviour, EmployeeConfig, QueueConfig

pytestmark = pytest.mark.slow

MEMBERS = tuple(str(301 + i) for i in range(10))
QUEUE = QueueConfig(name="2300", members=MEMBERS, strategy="rrmemory", autofill=True, timeout_s=15.0)
SIM = {"employees": tuple(EmployeeConfig(m) for m in MEMBERS), "queues": (QUEUE,)}
RETRIES = {
    "customer_busy": {"delay_s": 3, "max_retries": 1},
    "customer_no_answer": {"delay_s": 3, "max_retries": 1},
    "agent_busy": {"delay_s": 2, "max_retries": 2},  # an abandoned customer is called again, uncharged
}
MOST_TRIES = 1 + 1 + 2  # the first, one customer retry, two agent-busy requeues
NUMBERS = 240
CAP = 0.03


def customers(seed: int) -> dict[str, Behaviour]:
    """Half answer after 2-8 s and talk 4-10 s; a third are busy; the rest ring out (Originate timeout 8 s)."""
    rng = random.Random(seed)
    people: dict[str, Behaviour] = {}
    for i in range(NUMBERS):
        draw = rng.random()
        if draw < 0.5:
            behaviour = Behaviour(answer_after=rng.uniform(2, 8), hangup_after=rng.uniform(4, 10))
        elif draw < 0.83:
            behaviour = Behaviour(outcome="busy", reject_after=rng.uniform(1, 4))
        else:
            behaviour = Behaviour(outcome="noanswer")
        people[f"5557{i:03d}"] = behaviour
    return people


def midday_zone() -> str:
    """A fixed-offset PBX zone where it is about noon now: the day's counters (answered_today, abandoned_today)
    must not reset halfway through a three-minute run because the suite happens to run near the PBX's midnight."""
    offset = 12 - time.gmtime().tm_hour  # -11 … +12 hours from UTC
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT-{offset}" if offset > 0 else f"Etc/GMT+{-offset}"  # POSIX signs: Etc/GMT-3 is UTC+3


async def run_campaign(stack: Stack, pacing: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], float]:
    people = customers(seed=13)
    for phone, behaviour in people.items():
        stack.sim.control.set_customer(phone, behaviour)
    for member in MEMBERS:
        stack.sim.control.set_employee(member, Behaviour(answer_after=0.3))  # headsets on auto-answer
    root = stack.base_url.split("/pbxcore")[0]
    async with httpx.AsyncClient(base_url=f"{root}/api/v2", timeout=10) as v2:
        body = {"name": "e2e", "target": {"kind": "extension", "value": "2300"}, "lines": 30, "pacing": pacing}
        made = await v2.post("/campaigns", json=body)
        assert made.status_code == 201, made.text
        campaign = made.json()
        started = time.monotonic()
        numbers = [{"phone": phone} for phone in people]
        assert (await v2.post(f"/campaigns/{campaign['id']}/numbers", json={"numbers": numbers})).status_code == 200
        task = await stack.wait_final(campaign["id"], timeout=400)
        took = time.monotonic() - started
        stats = (await v2.get(f"/campaigns/{campaign['id']}/stats")).json()
    return task, stats, took


async def test_a_predictive_campaign_on_a_10_agent_queue_runs_to_the_end_under_the_cap(tmp_path: Path) -> None:
    async with running_stack(
        tmp_path,
        time_scale=1.0,
        sim_config=SIM,
        originate_timeout_s=8,
        retry_policy=RETRIES,
        pbx_timezone=midday_zone(),
    ) as stack:
        seen = stack.record_events("AgentConnect", "AgentComplete")
        task, stats, took = await run_campaign(stack, {"mode": "predictive", "max_abandon_rate": CAP})
        originates = stack.originates()
        prompts = list(stack.sim.control.prompts)
        attempts = await stack.attempt_rows()
    rows = stack.by_phone(task)
    assert len(rows) == NUMBERS and all(r["closeTime"] != "0" for r in rows.values())
    answered, abandoned = stats["answered_today"], stats["abandoned_today"]
    print(f"predictive: {took:.0f} s, {len(originates)} Originates, {answered} answered, {abandoned} abandoned")
    assert answered > 100
    assert abandoned <= CAP * answered, stats
    # Every abandoned call's customer heard the safe harbor (the ;1 half that ran our connect step played it).
    abandoned_phones = [a["phone"] for a in attempts if a["outcome"] == "abandoned"]
    assert len(abandoned_phones) == abandoned
    for phone in abandoned_phones:
        assert any(channel.startswith(f"Local/{phone}@") and "/tts/" in name for channel, name in prompts), phone
    assert all("/tts/" in name for _channel, name in prompts)  # nothing else was played
    # No member was connected while already in a call.
    in_call: set[str] = set()
    for name, fields in seen:
        member = fields["Interface"]
        if name == "AgentConnect":
            assert member not in in_call, f"{member} connected while in a call"
            in_call.add(member)
        else:
            in_call.discard(member)
    # Each number dialled exactly as often as its attempts count, within the retry policy.
    dialled = Counter(o["channel"].split("/", 1)[1].split("@", 1)[0] for o in originates)
    for phone, row in rows.items():
        assert dialled[phone] == int(row["countTry"]) <= MOST_TRIES, (phone, row)
    # Results as v1 shows them: an abandoned number that was not called again keeps FAIL_USER_BUSY/abandoned.
    for row in rows.values():
        if row["state"] == "abandoned":
            assert row["result"] == "FAIL_USER_BUSY"


async def test_power_dialing_past_its_agents_abandons_with_the_safe_harbor_and_retries(tmp_path: Path) -> None:
    """Three lines per free agent on a queue of two: customers answering together outnumber the agents, so some
    wait past abandon_after_s. Each of those hears the safe harbor, ends FAIL_USER_BUSY/abandoned in v1 (or is
    called again under the agent-busy rule), and no member is ever connected while in a call."""
    sim = {"employees": (EmployeeConfig("201"), EmployeeConfig("202")), "queues": (QueueConfig(autofill=True),)}
    final = {"agent_busy": {"delay_s": 1, "max_retries": 1}}
    async with running_stack(
        tmp_path, time_scale=1.0, sim_config=sim, originate_timeout_s=8, retry_policy=final, pbx_timezone=midday_zone()
    ) as s:
        seen = s.record_events("AgentConnect", "AgentComplete")
        phones = [f"555800{i}" for i in range(6)]
        for phone in phones:
            s.sim.control.set_customer(phone, Behaviour(answer_after=1.0, hangup_after=6.0))
        for member in ("201", "202"):
            s.sim.control.set_employee(member, Behaviour(answer_after=0.3))
        root = s.base_url.split("/pbxcore")[0]
        async with httpx.AsyncClient(base_url=f"{root}/api/v2", timeout=10) as v2:
            pacing = {"mode": "power", "lines_per_agent": 3, "safe_harbor": {"text": "We will call you back."}}
            body = {"target": {"kind": "extension", "value": "2200"}, "lines": 6, "pacing": pacing}
            campaign = (await v2.post("/campaigns", json=body)).json()
            numbers = [{"phone": p} for p in phones]
            assert (await v2.post(f"/campaigns/{campaign['id']}/numbers", json={"numbers": numbers})).status_code == 200
            task = await s.wait_final(campaign["id"], timeout=120)
            stats = (await v2.get(f"/campaigns/{campaign['id']}/stats")).json()
            numbers_out = (await v2.get(f"/campaigns/{campaign['id']}/numbers")).json()["items"]
        prompts = list(s.sim.control.prompts)
        attempts = await s.attempt_rows()
    abandoned = [a["phone"] for a in attempts if a["outcome"] == "abandoned"]
    assert abandoned, "six customers answering together for two agents: some must wait past 2 s"
    assert stats["abandoned_today"] == len(abandoned) and stats["abandon_rate_today"] > 0
    for phone in abandoned:
        assert any(channel.startswith(f"Local/{phone}@") for channel, _name in prompts), phone
    assert len(prompts) == len(abandoned)  # one message per abandoned call, none to anyone else
    rows = s.by_phone(task)
    for row in rows.values():
        assert row["result"] in ("SUCCESS_CLIENT_H", "SUCCESS_USER_H", "FAIL_USER_BUSY"), row
        if row["result"] == "FAIL_USER_BUSY":
            assert row["state"] == "abandoned"
    v2_states = {n["phone"]: n["state"] for n in numbers_out}
    assert {v2_states[p] for p in phones if rows[p]["result"] == "FAIL_USER_BUSY"} <= {"abandoned"}
    in_call: set[str] = set()
    for name, fields in seen:
        if name == "AgentConnect":
            assert fields["Interface"] not in in_call
            in_call.add(fields["Interface"])
        else:
            in_call.discard(fields["Interface"])
