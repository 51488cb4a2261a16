"""StaleAnswerMarks: which of the PBX's answer marks go, how many per FastAGI session, and its refresh loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from tests.services.fakes import FakeClock

from autodialer.services.stale_marks import AnswerMark, MarkKind, StaleAnswerMarks


class FakeMarks:
    """The PBX's AstDB marks; ``unreachable`` makes the listing fail as a dropped AMI link does."""

    def __init__(self, marks: Sequence[AnswerMark] = ()) -> None:
        self.marks = set(marks)
        self.unreachable = False
        self.listings = 0

    async def answer_marks(self) -> Sequence[AnswerMark]:
        self.listings += 1
        if self.unreachable:
            raise ConnectionError("AMI down")
        return sorted(self.marks, key=lambda m: (m.call_id, m.kind))


class FakeEnded:
    def __init__(self, ended: set[str]) -> None:
        self.ended = ended
        self.asked: list[int] = []

    async def ended_calls(self, call_ids: Sequence[str]) -> frozenset[str]:
        self.asked.append(len(call_ids))
        return frozenset(c for c in call_ids if c in self.ended)


class Eraser:
    """A FastAGI session's DATABASE DEL, applied to the fake PBX."""

    def __init__(self, pbx: FakeMarks) -> None:
        self.pbx = pbx
        self.deleted: list[AnswerMark] = []

    async def clear_mark(self, kind: MarkKind, call_id: str) -> None:
        mark = AnswerMark(kind, call_id)
        self.pbx.marks.discard(mark)
        self.deleted.append(mark)


def marks(*specs: str) -> list[AnswerMark]:
    """ "c:dlr-1" is the customer's mark of dlr-1, "e:dlr-1" an employee's."""
    return [AnswerMark("customer" if s[0] == "c" else "employee", s[2:]) for s in specs]


async def test_only_marks_of_ended_calls_go_and_each_session_takes_a_few() -> None:
    pbx = FakeMarks(marks("c:dlr-1", "e:dlr-1", "c:dlr-2", "c:dlr-live", "e:dlr-foreign", "c:dlr-3"))
    sweep = StaleAnswerMarks(pbx, FakeEnded({"dlr-1", "dlr-2", "dlr-3"}), per_session=2)
    assert await sweep.refresh() == 4
    eraser = Eraser(pbx)
    assert await sweep.clear_some(eraser) == 2
    assert await sweep.clear_some(eraser) == 2
    assert await sweep.clear_some(eraser) == 0
    assert set(eraser.deleted) == set(marks("c:dlr-1", "e:dlr-1", "c:dlr-2", "c:dlr-3"))
    assert len(eraser.deleted) == 4  # none twice
    assert pbx.marks == set(marks("c:dlr-live", "e:dlr-foreign"))  # a call in flight, a call not ours
    assert sweep.cleared == 4


async def test_the_store_is_asked_in_chunks_and_at_most_cap_marks_wait() -> None:
    pbx = FakeMarks([AnswerMark("customer", f"dlr-{i:04}") for i in range(1200)])
    ended = FakeEnded({f"dlr-{i:04}" for i in range(1200)})
    sweep = StaleAnswerMarks(pbx, ended, cap=700, chunk=500)
    assert await sweep.refresh() == 700
    assert ended.asked == [500, 500]  # stopped once the cap was reached
    assert sweep.pending == 700


async def test_a_refresh_replaces_what_waits() -> None:
    pbx = FakeMarks(marks("c:dlr-1", "c:dlr-2"))
    sweep = StaleAnswerMarks(pbx, FakeEnded({"dlr-1", "dlr-2"}))
    await sweep.refresh()
    pbx.marks.discard(AnswerMark("customer", "dlr-1"))  # deleted meanwhile (its own step got there after all)
    assert await sweep.refresh() == 1


async def test_the_loop_refreshes_on_time_and_survives_an_unreachable_pbx() -> None:
    clock = FakeClock()
    pbx = FakeMarks(marks("c:dlr-1"))
    sweep = StaleAnswerMarks(pbx, FakeEnded({"dlr-1"}), interval_s=600)
    pbx.unreachable = True
    task = asyncio.create_task(sweep.run(clock, first_after_s=60))
    try:
        await asyncio.sleep(0)
        clock.advance(59)
        await asyncio.sleep(0)
        assert pbx.listings == 0
        clock.advance(1)
        for _ in range(5):
            await asyncio.sleep(0)
        assert (pbx.listings, sweep.pending) == (1, 0)  # refused, logged, loop still alive
        pbx.unreachable = False
        clock.advance(600)
        for _ in range(5):
            await asyncio.sleep(0)
        assert (pbx.listings, sweep.pending) == (2, 1)
        assert not task.done()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("bad", [{"interval_s": 0}, {"per_session": 0}, {"cap": 0}, {"chunk": 0}])
def test_settings_out_of_range_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="interval_s must be > 0"):
        StaleAnswerMarks(FakeMarks(), FakeEnded(set()), **bad)  # type: ignore[arg-type]


async def test_a_mark_handed_over_goes_once_its_report_committed_and_stays_if_rolled_back() -> None:
    pbx = FakeMarks(marks("e:dlr-1", "e:dlr-2"))
    sweep = StaleAnswerMarks(pbx, FakeEnded(set()))
    loop = asyncio.get_running_loop()
    committed, rolled_back = loop.create_future(), loop.create_future()
    sweep.delete_once_stored(AnswerMark("employee", "dlr-1"), committed)
    sweep.delete_once_stored(AnswerMark("employee", "dlr-2"), rolled_back)
    assert sweep.pending == 0  # not before the commit: AstDB must hold the answer until the store does
    committed.set_result(True)
    rolled_back.set_result(False)
    await asyncio.sleep(0)
    assert sweep.pending == 1
    # A refresh keeps it though the store has not ended its call yet (the step's report came first).
    assert await sweep.refresh() == 1
    eraser = Eraser(pbx)
    assert await sweep.clear_some(eraser) == 1
    assert pbx.marks == set(marks("e:dlr-2"))
