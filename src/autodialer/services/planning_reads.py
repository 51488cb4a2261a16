"""The engine's planning reads kept in memory, so that a planning round costs SQL only for the calls it starts.

A planning round asks the store for the open tasks, each task's first due numbers and the next due time. Those
answers change only when something writes: the engine itself (claims, call ends, requeues, deferrals, releases),
the API (which tells the engine: ``invalidate``, wired by bootstrap next to ``DialerEngine.task_changed``) or time
passing a number's due time. ``PlanningReads`` wraps the engine's store (it is a DialerStore itself), answers the
three reads from what it read last, and forgets what a write may have changed:

* the open tasks: re-read after a task change, a task closed, a do-not-call closure, reconciliation, and when a task
  whose rows got final results since has no due number known (only then can ``has_open_numbers`` have turned false);
* a task's due numbers: read ``prefetch`` at a time (lowest id first, as the store gives them), claimed ones dropped,
  deferred ones dropped, re-read when one of the task's numbers comes back due (a released Originate, a call ended
  and requeued to be dialled now) or when a claim is refused (the number changed under us);
* the next due time: lowered by every requeue and deferral this process writes; once it passes, the due numbers
  and it are read again (a number that came due may have a lower id than those held).

Correctness never rests on this cache: ``start_attempts`` re-checks each number atomically (open, idle, task
open, not on a do-not-call list), so a number another process changed is refused, and a refused claim drops the
task's numbers. What another process adds or reopens without telling us is seen after ``refresh_s`` at most.
A unit of work that rolls back forgets everything.

A read is kept only if nothing was forgotten while it was awaited: the API's ``invalidate`` comes from outside the
engine lock, so a task created while a round's read of the open tasks is in flight would otherwise be overwritten
by that older answer, and the engine, woken for it, would plan from the stale list and then sleep (seen: a new
task not dialled for 15 s under load). Every change to what is held bumps ``_epoch``; a read that sees the epoch
moved answers its round but is not kept, so the next round reads again.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from autodialer.domain.attempt_limits import CalleeDayCap, PastAttempt
from autodialer.domain.mikopbx_results import ResultRow
from autodialer.domain.poll_flow import PollDefinition
from autodialer.services.dialer_store import Attempt, DialerStore, DialNumber, DialTask, PollAnswer
from autodialer.services.ports import Clock

PREFETCH = 256  # due numbers read per task at a time: one read serves that many starts
REFRESH_S = 10.0  # everything is read again at least this often (writes of other processes that told nobody)


@dataclass(slots=True)
class _Due:
    numbers: list[DialNumber]  # the task's due numbers as read, lowest id first, less those claimed or deferred since
    complete: bool  # the read returned every due number the task had (fewer than it asked for)


class PlanningReads:
    """A DialerStore that answers ``open_tasks``, ``due_numbers`` and ``next_due_at`` from memory (see above)."""

    def __init__(
        self, store: DialerStore, clock: Clock, *, prefetch: int = PREFETCH, refresh_s: float = REFRESH_S
    ) -> None:
        self._store = store
        self._clock = clock
        self._prefetch = prefetch
        self._refresh_s = refresh_s
        self._tasks: list[DialTask] | None = None
        self._finals: set[int] = set()  # tasks whose rows got final results since the tasks were read
        self._due: dict[int, _Due] = {}
        self._next_due: float | None = None
        self._next_due_known = False
        self._expires_at = -math.inf
        self._saved: dict[int, ResultRow] = {}  # rows given a verdict during their call, by number id
        self._epoch = 0  # bumped by every change to what is held: a read awaited across one is not kept

    def invalidate(self) -> None:
        """Forget every answer (a task or its numbers changed elsewhere, e.g. through the API)."""
        self._epoch += 1
        self._tasks = None
        self._finals.clear()
        self._due.clear()
        self._next_due_known = False
        self._saved.clear()

    # ---- the reads a planning round makes

    async def open_tasks(self) -> Sequence[DialTask]:
        self._expire(self._clock.now())
        if self._tasks is None or any(t.task_id in self._finals and not self._has_due(t.task_id) for t in self._tasks):
            epoch = self._epoch
            tasks = list(await self._store.open_tasks())
            if epoch != self._epoch:
                return tasks  # something changed while it was read: answer this round, read again next
            self._finals.clear()
            self._tasks = tasks
            open_ids = {t.task_id for t in tasks}
            for task_id in [k for k in self._due if k not in open_ids]:
                del self._due[task_id]
        return list(self._tasks)

    async def due_numbers(self, task_id: int, now: float, limit: int) -> Sequence[DialNumber]:
        self._expire(now)
        entry = self._due.get(task_id)
        if entry is None or (not entry.complete and len(entry.numbers) < limit):
            want = max(limit, self._prefetch)
            epoch = self._epoch
            numbers = list(await self._store.due_numbers(task_id, now, want))
            if epoch != self._epoch:
                return numbers[: max(0, limit)]
            entry = self._due[task_id] = _Due(numbers, complete=len(numbers) < want)
        return entry.numbers[: max(0, limit)]

    async def next_due_at(self, now: float) -> float | None:
        self._expire(now)
        if not self._next_due_known:
            epoch = self._epoch
            next_due = await self._store.next_due_at(now)
            if epoch != self._epoch:
                return next_due
            self._next_due = next_due
            self._next_due_known = True
        return self._next_due

    def _has_due(self, task_id: int) -> bool:
        entry = self._due.get(task_id)
        return entry is not None and bool(entry.numbers)

    def _expire(self, now: float) -> None:
        if now >= self._expires_at:
            self.invalidate()
            self._expires_at = now + self._refresh_s
        elif self._next_due_known and self._next_due is not None and now >= self._next_due:
            # Something came due: it may come before the numbers held (lower id), and the next time is past.
            self._epoch += 1
            self._due.clear()
            self._next_due_known = False

    def _due_later(self, at: float) -> None:
        """A number becomes due at ``at`` (in the future): the next due time is that or sooner."""
        self._epoch += 1  # a read of the next due time in flight may not know it
        if self._next_due_known and (self._next_due is None or at < self._next_due):
            self._next_due = at

    def _back_in_queue(self, task_id: int, row: ResultRow | None, now: float) -> None:
        """A number of ``task_id`` is idle again with ``row`` (None: as it was, unknown here)."""
        self._epoch += 1
        if row is not None and row.is_closed:
            self._finals.add(task_id)
        elif row is not None and row.next_attempt_at > now:
            self._due_later(row.next_attempt_at)
        else:
            self._due.pop(task_id, None)  # due now, maybe before the numbers held
            self._next_due_known = False

    # ---- writes: passed on, and what they change forgotten

    @asynccontextmanager
    async def _forgetting_on_error(self, unit: AbstractAsyncContextManager[None]) -> AsyncIterator[None]:
        try:
            async with unit:
                yield
        except BaseException:
            self.invalidate()  # what it recorded may not have been kept
            raise

    def batch(self) -> AbstractAsyncContextManager[None]:
        return self._forgetting_on_error(self._store.batch())

    async def start_attempts(
        self, claimed: Sequence[Attempt], caps: Mapping[str, CalleeDayCap] | None = None
    ) -> frozenset[str]:
        try:
            started = await self._store.start_attempts(claimed, caps)
        except BaseException:
            self.invalidate()
            raise
        self._epoch += 1
        taken = {a.number_id for a in claimed}
        for task_id in {a.task_id for a in claimed}:
            entry = self._due.get(task_id)
            if entry is not None:
                entry.numbers = [n for n in entry.numbers if n.number_id not in taken]
        refused = {a.task_id for a in claimed if a.call_id not in started}
        for task_id in refused:
            self._due.pop(task_id, None)  # the number changed under us: read the task's numbers again
        if refused:
            self._tasks = None
        return started

    async def release_attempts(self, unsent: Sequence[Attempt]) -> None:
        await self._store.release_attempts(unsent)
        now = self._clock.now()
        for attempt in unsent:
            self._saved.pop(attempt.number_id, None)
            self._back_in_queue(attempt.task_id, None, now)

    async def save_row(self, number_id: int, row: ResultRow) -> None:
        await self._store.save_row(number_id, row)
        self._saved[number_id] = row  # the verdict given during the call: the number is idle with it once released

    async def finish_attempt(self, attempt: Attempt, now: float, row: ResultRow | None = None) -> None:
        await self._store.finish_attempt(attempt, now, row)
        saved = self._saved.pop(attempt.number_id, None)
        self._back_in_queue(attempt.task_id, row or saved, now)

    async def defer_numbers(self, waits: Sequence[tuple[int, float]]) -> None:
        await self._store.defer_numbers(waits)
        self._epoch += 1
        deferred = {number_id for number_id, _until in waits}
        for entry in self._due.values():
            entry.numbers = [n for n in entry.numbers if n.number_id not in deferred]
        for _number_id, until in waits:
            self._due_later(until)

    async def close_task(self, task_id: int, now: float) -> None:
        await self._store.close_task(task_id, now)
        self._epoch += 1
        self._tasks = None

    async def close_do_not_call(self, now: float, phone: str | None = None) -> int:
        closed = await self._store.close_do_not_call(now, phone)
        if closed:
            self.invalidate()
        return closed

    async def close_written_do_not_call(self, now: float) -> int:
        closed = await self._store.close_written_do_not_call(now)
        if closed:
            self.invalidate()
        return closed

    async def attempts_in_flight(self) -> Sequence[Attempt]:
        self.invalidate()  # reconciliation: start from what the store holds
        return await self._store.attempts_in_flight()

    # ---- passed on unchanged: they change no number's due state

    async def get_task(self, task_id: int) -> DialTask | None:
        return await self._store.get_task(task_id)

    async def get_number(self, number_id: int) -> DialNumber | None:
        return await self._store.get_number(number_id)

    async def mark_written(self, call_ids: Sequence[str]) -> None:
        await self._store.mark_written(call_ids)

    async def confirm_attempts(self, confirmed: Sequence[tuple[Attempt, ResultRow]]) -> None:
        await self._store.confirm_attempts(confirmed)

    async def update_attempt(self, attempt: Attempt) -> None:
        await self._store.update_attempt(attempt)

    async def get_poll(self, poll_id: int) -> PollDefinition | None:
        return await self._store.get_poll(poll_id)

    async def add_poll_answer(self, answer: PollAnswer) -> None:
        await self._store.add_poll_answer(answer)

    async def callee_attempts(
        self, task_id: int, callees: Sequence[str], since: float
    ) -> Mapping[str, Sequence[PastAttempt]]:
        return await self._store.callee_attempts(task_id, callees, since)

    async def add_dnc(self, phone: str, source: str, now: float) -> None:
        await self._store.add_dnc(phone, source, now)  # its numbers are refused at their claim, then closed
