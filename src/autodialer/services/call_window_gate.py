"""The call window, applied where the engine reads a task's due numbers: a number outside its window in any
candidate zone is not returned; it waits, without using an attempt, until the verdict's next time.

The wait is stored as the row's ``next_attempt_at`` (``DialerStore.defer_numbers``), the time before which the
dialer does not try the number: the SQL's due-time prefilter then leaves it out until its window opens, and
``next_due_at`` wakes the engine then. The decision itself is eligibility's (NumberEligibility: the same verdict as
explain); a wait that ends is judged again, so a DST change or a new setting after a restart is never missed. A
number whose window never opens within a year (no common window in its candidate zones) is looked at again daily.
With no window set (the default), due numbers pass straight through, at no cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from autodialer.services.dialer_store import DialNumber
from autodialer.services.number_eligibility import NumberEligibility

PAGE = 200  # numbers judged per read when many in a row are outside their window
MAX_PASSES = 10  # per task and planning round; the engine plans again at once when cut short
RECHECK_S = 86_400.0  # a number with no window within a year: looked at again after this


class WindowStore(Protocol):
    async def due_numbers(self, task_id: int, now: float, limit: int) -> Sequence[DialNumber]: ...

    async def defer_numbers(self, waits: Sequence[tuple[int, float]]) -> None:
        """Each open, idle number (id) is not due before the time given; no attempt, no result, no feed change."""
        ...


class CallWindowGate:
    def __init__(self, store: WindowStore, eligibility: NumberEligibility | None) -> None:
        self._store = store
        self._eligibility = eligibility if eligibility is not None and eligibility.has_window else None
        self.cut_short = False  # the last planning round left due numbers unjudged

    async def due(self, task_id: int, now: float, capacity: int) -> Sequence[DialNumber]:
        """Up to ``capacity`` of the task's due numbers that the window allows now, oldest first."""
        if capacity <= 0:
            return []
        if self._eligibility is None:
            return await self._store.due_numbers(task_id, now, capacity)
        allowed: dict[int, DialNumber] = {}
        size = capacity  # the common case reads no more than without a window; pages once numbers wait
        for _ in range(MAX_PASSES):
            page = await self._store.due_numbers(task_id, now, size)
            waits = self._waits(task_id, page, now, allowed)
            if waits:
                await self._store.defer_numbers(waits)
            if len(allowed) >= capacity or len(page) < size or not waits:
                break
            size = max(capacity, PAGE)
        else:
            self.cut_short = True
        return list(allowed.values())[:capacity]

    def _waits(
        self, task_id: int, page: Sequence[DialNumber], now: float, allowed: dict[int, DialNumber]
    ) -> list[tuple[int, float]]:
        assert self._eligibility is not None
        waits: list[tuple[int, float]] = []
        for number in page:
            callee = self._eligibility.callee(number.phone, number.params)
            verdict = self._eligibility.verdict(task_id, callee, now)
            if verdict.allowed:
                allowed.setdefault(number.number_id, number)
            else:
                waits.append((number.number_id, verdict.next_at if verdict.next_at is not None else now + RECHECK_S))
        return waits
