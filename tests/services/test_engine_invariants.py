"""Random call outcomes, pauses and restarts against the engine: its invariants hold after every step."""

from __future__ import annotations

import asyncio
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.services.harness import Harness

from autodialer.domain.call_events import CustomerOutcome
from autodialer.domain.poll_flow import PollDefinition, Question
from autodialer.domain.retry_policy import RetryPolicy, RetryRule
from autodialer.services.dialer_engine import EngineSettings

RULE = RetryRule(delay_s=10, max_retries=1)
POLICY = RetryPolicy(RULE, RULE, RULE, RetryRule(delay_s=5, max_retries=2), RULE, RULE)
ACTIONS = ["step", "advance", "fail", "answer", "connect", "end", "agent_busy", "poll_end", "pause", "restart"]


def build() -> Harness:
    h = Harness(settings=EngineSettings(retry_policy=POLICY, watchdog_interval_s=20, watchdog_grace_s=40))
    h.availability.free = {"201": {"PJSIP/201"}, "2200": {"PJSIP/201", "PJSIP/202"}}
    h.store.polls[9] = PollDefinition(9, (Question("q", "?"),))
    for task_id, inner, channels, kind in [
        (1, "201", 2, "exten"),
        (2, "201", 1, "exten"),
        (3, "2200", 3, "exten"),
        (4, "9", 2, "polling"),
    ]:
        h.store.add_task(task_id, inner, inner_num_type=kind, max_channels=channels)
        for i in range(3):
            h.store.add_number(task_id, f"55{task_id}{i}", time_call_allow=int(h.clock.now()) + 5 * i)
    return h


def check(h: Harness) -> None:
    attempts = list(h.store.attempts.values())
    assert h.engine.calls_in_flight == len(attempts)
    assert len({a.number_id for a in attempts}) == len(attempts), "a number in two calls"
    per_task = Counter(a.task_id for a in attempts)
    for task_id, count in per_task.items():
        assert count <= h.store.tasks[task_id].max_channels
    agents = [a.agent for a in attempts if a.agent is not None]
    assert len(agents) == len(set(agents)), "an agent reserved twice"
    assert len(h.calls.call_ids) == len(set(h.calls.call_ids)), "a call id originated twice"
    for number in h.store.numbers.values():
        row = number.row
        assert (row.close_time != 0) == (row.result != "")
        assert row.count_try - row.requeues <= 1 + RULE.max_retries
        assert row.requeues <= 2


async def scenario(data: st.DataObject) -> None:
    h = build()
    for _ in range(data.draw(st.integers(5, 40), label="length")):
        action = data.draw(st.sampled_from(ACTIONS))
        in_flight = sorted(h.store.attempts)
        call_id = data.draw(st.sampled_from(in_flight)) if in_flight else None
        if action == "advance":
            h.clock.advance(data.draw(st.sampled_from([1, 5, 10, 30, 60])))
        elif action == "fail" and call_id:
            h.fail(call_id, data.draw(st.sampled_from(list(CustomerOutcome))), 17, "x", None)
        elif action == "answer" and call_id:
            h.answer(call_id)
        elif action == "connect" and call_id:
            await h.engine.connect_started(call_id, None)
            status = data.draw(st.sampled_from(["ANSWER", "NOANSWER", "BUSY"]))
            await h.engine.connect_ended(call_id, status, data.draw(st.booleans()))
        elif action == "end" and call_id:
            h.end(call_id)
        elif action == "agent_busy" and call_id:
            await h.engine.agent_busy(call_id)
        elif action == "poll_end" and call_id:
            await h.engine.poll_started(call_id)
            await h.engine.poll_completed(call_id)
        elif action == "pause":
            task_id = data.draw(st.sampled_from([1, 2, 3, 4]))
            h.store.set_task_state(task_id, 2 if h.store.tasks[task_id].state == 0 else 0)
            h.engine.task_changed()
        elif action == "restart":
            for lost in data.draw(st.lists(st.sampled_from(in_flight), unique=True)) if in_flight else []:
                del h.calls.live[lost]
            h.engine = h.new_engine()
        await h.step()
        check(h)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_engine_invariants_hold_under_random_histories(data: st.DataObject) -> None:
    asyncio.run(scenario(data))
