"""The call window, the campaign's schedule and the attempt limits, applied where the engine reads a task's due
numbers: a number that eligibility holds back (outside its window in any candidate zone, on an excluded date,
before the campaign's start or after its end, at a daily cap, inside the least gap) is not returned; it waits,
without using an attempt, until the verdict's next time.

The wait is stored as the row's ``next_attempt_at`` (``DialerStore.defer_numbers``), the time before which the
dialer does not try the number: the SQL's due-time prefilter then leaves it out until it may be dialled, and
``next_due_at`` wakes the engine then. The decision itself is eligibility's (NumberEligibility: the same verdict as
explain); a wait that ends is judged again, so a DST change or a new setting after a restart is never missed. A
number held for good (the campaign has ended, no common window in its candidate zones, all its attempts made) is
looked at again daily. A wait is never cut short by a later change of the schedule (a wider window is used from the
number's next look; a narrower one is applied at that look, so nothing is ever dialled outside it).

The store's due time (``max(timeCallAllow, next_attempt_at) <= now``) is only a prefilter: every number it returns
is judged by ``evaluate`` before it is dialled, its own times included. With no window, no schedule and no limits
(v1's default) that is ``own_times_verdict``, which needs neither the callee's zones nor a read; a row the prefilter
let through that the rule holds (never expected: both spell the same rule, but a planning read kept in memory may be
older than the row) is left out of the round, not deferred: the store's copy decides when it is next looked at.

A number it allows under a cap across campaigns gets that cap as the claim re-checks it (``caps``, by number id):
two campaigns may hold the same callee in one round, each judged against the calls before it, so the claim counts
the calls stored by then, the round's own included, and refuses one that would pass the cap (it waits, uncharged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from autodialer.domain.attempt_limits import CalleeDayCap, PastAttempt, callee_day_cap
from autodialer.services.dialer_store import DialNumber, DialTask
from autodialer.services.number_eligibility import NO_LIMITS, NumberEligibility, own_times_verdict

PAGE = 200  # numbers judged per read when many in a row are held back
MAX_PASSES = 10  # per task and planning round; the engine plans again at once when cut short
RECHECK_S = 86_400.0  # a number held for good: looked at again after this
LOOKBACK_S = 27 * 3600.0  # other campaigns' attempts that can fall on the callee's today in any zone


class WindowStore(Protocol):
    async def due_numbers(self, task_id: int, now: float, limit: int) -> Sequence[DialNumber]: ...

    async def defer_numbers(self, waits: Sequence[tuple[int, float]]) -> None:
        """Each open, idle number (id) is not due before the time given; no attempt, no result, no feed change."""
        ...

    async def callee_attempts(
        self, task_id: int, callees: Sequence[str], since: float
    ) -> Mapping[str, Sequence[PastAttempt]]: ...


class CallWindowGate:
    def __init__(self, store: WindowStore, eligibility: NumberEligibility | None) -> None:
        self._store = store
        self._eligibility = eligibility
        self.cut_short = False  # the last planning round left due numbers unjudged
        self.caps: dict[int, CalleeDayCap] = {}  # number id -> the cap its claim re-checks, this planning round

    async def due(self, task: DialTask, now: float, capacity: int) -> Sequence[DialNumber]:
        """Up to ``capacity`` of the task's due numbers that eligibility allows now, oldest first."""
        if capacity <= 0:
            return []
        eligibility = self._eligibility
        if eligibility is None or not eligibility.applies(task.schedule, task.limits):
            zone = eligibility.pbx_zone if eligibility is not None else "UTC"  # the zone only words a hold
            page = await self._store.due_numbers(task.task_id, now, capacity)
            return [n for n in page if own_times_verdict(task.task_id, *_own_times(n), now, zone).allowed]
        allowed: dict[int, DialNumber] = {}
        size = capacity  # the common case reads no more than without a window; pages once numbers wait
        for _ in range(MAX_PASSES):
            page = await self._store.due_numbers(task.task_id, now, size)
            waits = await self._waits(eligibility, task, page, now, allowed)
            if waits:
                await self._store.defer_numbers(waits)
            if len(allowed) >= capacity or len(page) < size or not waits:
                break
            size = max(capacity, PAGE)
        else:
            self.cut_short = True
        return list(allowed.values())[:capacity]

    async def _waits(
        self,
        eligibility: NumberEligibility,
        task: DialTask,
        page: Sequence[DialNumber],
        now: float,
        allowed: dict[int, DialNumber],
    ) -> list[tuple[int, float]]:
        rules = eligibility.rules(task.task_id, task.schedule, task.limits)
        callees = [eligibility.callee(n.phone, n.params, task.schedule.default_zone) for n in page]
        history: Mapping[str, Sequence[PastAttempt]] = {}
        if task.limits != NO_LIMITS and page:
            keys = sorted({c.key for c in callees})
            history = await self._store.callee_attempts(task.task_id, keys, now - LOOKBACK_S)
        waits: list[tuple[int, float]] = []
        for number, callee in zip(page, callees, strict=True):
            not_before, retry_at = _own_times(number)
            attempts = history.get(callee.key, ())
            verdict = eligibility.verdict(
                rules, callee, now, not_before=not_before, retry_at=retry_at, attempts=attempts
            )
            if verdict.allowed:
                allowed.setdefault(number.number_id, number)
                cap = callee_day_cap(task.limits, callee.key, callee.zones.zones, now)
                if cap is not None:
                    self.caps[number.number_id] = cap
            else:
                waits.append((number.number_id, verdict.next_at if verdict.next_at is not None else now + RECHECK_S))
        return waits


def _own_times(number: DialNumber) -> tuple[float, float]:
    """The number's ``timeCallAllow`` and retry time, as eligibility takes them."""
    return float(number.time_call_allow), number.row.next_attempt_at
