"""The engine's dispatch: Originates paced to the PBX link's rate, and no engine lock across a round's PBX round trip.

A round of hundreds of Originates used to hold the engine lock until the PBX had answered every one (up to 4.7 s at
500 live calls), so the /connect reports of customers already answered waited behind it and hung up unserved.
"""

from __future__ import annotations

import asyncio

import pytest
from tests.services.fakes import FakeCallControl
from tests.services.harness import NO_RETRIES, Harness

from autodialer.domain.call_events import CustomerOutcome
from autodialer.services.dialer_engine import EngineSettings
from autodialer.services.ports import OriginateRequest


def agents(count: int) -> set[str]:
    return {f"PJSIP/{100 + i}" for i in range(count)}


async def test_a_burst_of_free_agents_is_dialled_at_the_link_rate() -> None:
    h = Harness(settings=EngineSettings(retry_policy=NO_RETRIES, originate_rate=100.0, originate_burst=10))
    h.availability.free["201"] = agents(60)
    h.store.add_task(1, "201", max_channels=60)
    for i in range(60):
        h.store.add_number(1, f"55510{i:02d}")
    start = h.clock.now()
    sent: list[tuple[float, int]] = []
    while len(h.calls.originated) < 60:
        before = len(h.calls.originated)
        deadline = await h.step()
        sent.append((h.clock.now() - start, len(h.calls.originated) - before))
        assert deadline is not None and deadline > h.clock.now(), "a capped round says when the link has room again"
        h.clock.advance(deadline - h.clock.now())
    assert sent[0] == (0.0, 10)  # the burst at once
    assert all(count == 5 for _at, count in sent[1:])  # then 5 every 50 ms: 100/s, 20 rounds a second at most
    for i, (first, _count) in enumerate(sent):
        in_window = 0
        for at, count in sent[i:]:
            in_window += count
            assert in_window <= 10 + 100 * (at - first) + 1e-3
    assert sent[-1][0] == pytest.approx(0.5)  # (60 - 10) / 100 s after the first


class GatedCalls(FakeCallControl):
    """Originates wait at ``gate`` (the PBX slow to answer a big round) while ``gated``."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gated = False
        self.waiting = asyncio.Event()

    async def originate(self, request: OriginateRequest) -> None:
        if self.gated:
            self.waiting.set()
            await self.gate.wait()
        await super().originate(request)


async def test_reports_about_other_calls_are_applied_while_a_round_waits_for_the_pbx() -> None:
    h = Harness(calls=GatedCalls())
    calls = h.calls
    assert isinstance(calls, GatedCalls)
    h.availability.free["201"] = agents(2)
    h.store.add_task(1, "201", max_channels=2)
    first = h.store.add_number(1, "5551001")
    await h.step()
    [answered] = calls.call_ids
    h.answer(answered)
    await h.step()

    calls.gated = True
    second = h.store.add_number(1, "5551002")
    round_ = asyncio.create_task(h.step())
    await calls.waiting.wait()  # the round is stored and its Originate written; the PBX has not answered
    [pending] = [a.call_id for a in h.engine.calls_now() if a.number_id == second.number_id]
    # The answered customer's connect step reports while the round waits: applied now, not after the round.
    await asyncio.wait_for(h.engine.connect_started(answered, "v-1"), 5.0)
    assert h.row(first.number_id).state == "startDial"
    # What is heard about the round's own call waits for its Originate's answer: its row is still untouched.
    h.fail(pending, CustomerOutcome.BUSY, 17, "User busy", "BUSY")
    await h.engine.process_events()
    assert (h.row(second.number_id).state, h.row(second.number_id).count_try) == ("CreateTask", 0)

    calls.gate.set()
    await round_
    await h.step()
    row = h.row(second.number_id)
    assert (row.result, row.out_dial_state, row.count_try) == ("FAIL", "BUSY", 1)
    assert pending not in {a.call_id for a in h.engine.calls_now()}
