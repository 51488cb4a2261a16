"""PlanningReads: the engine decides exactly as it does reading the store every round, and reads it far less.

The differential test runs two engines side by side on random histories (call outcomes, retries coming due, pauses,
new numbers, restarts): one on the in-memory store, one on the same kind of store behind PlanningReads. After every
step both must have dialled the same numbers in the same order and left the same rows.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.services.harness import Harness
from tests.services.test_engine_invariants import POLICY

from autodialer.domain.call_events import CustomerOutcome
from autodialer.domain.poll_flow import PollDefinition, Question
from autodialer.services.dialer_engine import EngineSettings
from autodialer.services.dialer_store import DialNumber, DialTask
from autodialer.services.memory_store import InMemoryDialerStore

ACTIONS = ["step", "advance", "fail", "answer", "connect", "end", "agent_busy", "poll_end", "pause", "add", "restart"]


def build(planning: bool) -> Harness:
    h = Harness(
        settings=EngineSettings(retry_policy=POLICY, watchdog_interval_s=20, watchdog_grace_s=40), planning=planning
    )
    h.availability.free = {"201": {"PJSIP/201"}, "2200": {"PJSIP/201", "PJSIP/202"}}
    h.store.polls[9] = PollDefinition(9, (Question("q", "?"),))
    for task_id, inner, channels, kind in [
        (1, "201", 2, "exten"),
        (2, "201", 1, "exten"),
        (3, "2200", 3, "exten"),
        (4, "9", 2, "polling"),
    ]:
        h.store.add_task(task_id, inner, inner_num_type=kind, max_channels=channels)
        for i in range(4):
            h.store.add_number(task_id, f"55{task_id}{i}", time_call_allow=int(h.clock.now()) + 5 * i)
    h.engine = h.new_engine()
    return h


def dialled(h: Harness) -> list[str]:
    return [request.dial_number for request in h.calls.originated]


def rows(h: Harness) -> dict[int, Any]:
    numbers = h.store.numbers.items()
    return {n: (v.row.result, v.row.count_try, v.row.next_attempt_at, v.row.close_time) for n, v in numbers}


def in_flight(h: Harness) -> dict[int, str]:
    return {a.number_id: a.call_id for a in h.store.attempts.values()}


async def scenario(data: st.DataObject) -> None:
    plain, cached = build(False), build(True)
    pair = (plain, cached)
    for _ in range(data.draw(st.integers(5, 50), label="length")):
        action = data.draw(st.sampled_from(ACTIONS))
        numbers = sorted(in_flight(plain))
        assert numbers == sorted(in_flight(cached))
        number = data.draw(st.sampled_from(numbers)) if numbers else None
        seconds = data.draw(st.sampled_from([1, 5, 10, 30, 60])) if action == "advance" else 0
        outcome = data.draw(st.sampled_from(list(CustomerOutcome))) if action == "fail" else None
        status = data.draw(st.sampled_from(["ANSWER", "NOANSWER", "BUSY"])) if action == "connect" else ""
        first = data.draw(st.booleans()) if action == "connect" else False
        task_id = data.draw(st.sampled_from([1, 2, 3, 4])) if action in ("pause", "add") else 0
        lost = data.draw(st.lists(st.sampled_from(numbers), unique=True)) if action == "restart" and numbers else []
        for h in pair:
            call_id = in_flight(h).get(number) if number is not None else None
            if action == "advance":
                h.clock.advance(seconds)
            elif action == "fail" and call_id and outcome is not None:
                h.fail(call_id, outcome, 17, "x", None)
            elif action == "answer" and call_id:
                h.answer(call_id)
            elif action == "connect" and call_id:
                await h.engine.connect_started(call_id, None)
                await h.engine.connect_ended(call_id, status, first)
            elif action == "end" and call_id:
                h.end(call_id)
            elif action == "agent_busy" and call_id:
                await h.engine.agent_busy(call_id)
            elif action == "poll_end" and call_id:
                await h.engine.poll_started(call_id)
                await h.engine.poll_completed(call_id)
            elif action == "pause":
                h.store.set_task_state(task_id, 2 if h.store.tasks[task_id].state == 0 else 0)
                h.task_changed()
            elif action == "add":
                h.store.add_number(task_id, f"56{task_id}{len(h.store.numbers)}", time_call_allow=int(h.clock.now()))
                h.task_changed()
            elif action == "restart":
                for gone in lost:
                    del h.calls.live[in_flight(h)[gone]]
                h.engine = h.new_engine()
            await h.step()
        assert dialled(cached) == dialled(plain)
        assert rows(cached) == rows(plain)
        assert {t: v.state for t, v in cached.store.tasks.items()} == {t: v.state for t, v in plain.store.tasks.items()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_cached_planning_dials_exactly_as_reading_the_store_every_round(data: st.DataObject) -> None:
    asyncio.run(scenario(data))


class CountingStore(InMemoryDialerStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: Counter[str] = Counter()

    async def open_tasks(self) -> Sequence[DialTask]:
        self.reads["open_tasks"] += 1
        return await super().open_tasks()

    async def due_numbers(self, task_id: int, now: float, limit: int) -> Sequence[DialNumber]:
        self.reads["due_numbers"] += 1
        return await super().due_numbers(task_id, now, limit)

    async def next_due_at(self, now: float) -> float | None:
        self.reads["next_due_at"] += 1
        return await super().next_due_at(now)


def test_rounds_read_the_store_only_after_a_change() -> None:
    async def run() -> None:
        h = Harness(store=CountingStore(), planning=True)
        store = h.store
        assert isinstance(store, CountingStore)
        h.engine = h.new_engine()
        store.add_task(1, "201", max_channels=1)
        for i in range(10):
            store.add_number(1, f"5551{i:03d}")
        await h.step()  # the first round reads everything once
        assert len(h.calls.originated) == 1
        store.reads.clear()
        for _ in range(20):  # the agent changes state: rounds that start nothing
            h.engine.wake()
            await h.step()
        assert sum(store.reads.values()) == 0
        h.end(h.last_call())  # a call ends with a final result, the agent is free: the next number, from memory
        await h.step()
        assert len(h.calls.originated) == 2
        assert sum(store.reads.values()) == 0
        h.task_changed()  # the API changed something: read again
        await h.step()
        assert store.reads["open_tasks"] == 1

    asyncio.run(run())


def test_a_retry_coming_due_goes_before_higher_ids_held_in_memory() -> None:
    async def run() -> None:
        store = InMemoryDialerStore()
        h = Harness(settings=EngineSettings(retry_policy=POLICY), store=store, planning=True)
        h.engine = h.new_engine()
        store.add_task(1, "201", max_channels=1)
        first = store.add_number(1, "5551000")
        for i in range(1, 5):
            store.add_number(1, f"555100{i}")
        await h.step()
        h.fail(h.last_call(), CustomerOutcome.BUSY, 17, "User busy", None)  # retried later
        await h.step()
        h.end(h.last_call())
        h.clock.advance(store.numbers[first.number_id].row.next_attempt_at - h.clock.now() + 1)
        await h.step()
        assert [r.dial_number for r in h.calls.originated] == ["5551000", "5551001", "5551000"]

    asyncio.run(run())


class SlowReadStore(InMemoryDialerStore):
    """Each read of the open tasks answers as of its start and returns only once ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = asyncio.Event()
        self.release = asyncio.Event()

    async def open_tasks(self) -> Sequence[DialTask]:
        answer = await super().open_tasks()
        self.reading.set()
        await self.release.wait()
        return answer


def test_a_task_created_while_the_open_tasks_are_read_is_dialled() -> None:
    """The API's invalidate comes from outside the engine lock: a read in flight must not overwrite it (a new task
    was once not dialled for 15 s: the round planned from the older list and the engine slept)."""

    async def run() -> None:
        store = SlowReadStore()
        h = Harness(store=store, planning=True)
        h.engine = h.new_engine()
        store.add_task(1, "201", max_channels=1)
        store.add_number(1, "5551000")
        store.release.set()
        await h.step()
        h.end(h.last_call())  # task 1 is done
        await h.step()
        store.release.clear()
        store.reading.clear()
        h.engine.wake()
        round_ = asyncio.create_task(h.step())
        await store.reading.wait()  # the round has read the open tasks: none
        store.add_task(2, "201", max_channels=1)  # the API commits a task, then tells the engine
        store.add_number(2, "5552000")
        h.task_changed()
        store.release.set()
        await round_
        await h.step()
        assert [r.dial_number for r in h.calls.originated] == ["5551000", "5552000"]

    asyncio.run(run())
