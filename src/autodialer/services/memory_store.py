"""InMemoryDialerStore: the reference implementation of the DialerStore contract, used by the engine's tests.

It keeps the same rules the SQL store must keep (see dialer_store); the ``add_*``/``set_*``/``delete_*`` helpers
stand in for what the REST API does to tasks and numbers.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace

from autodialer.domain import call_results
from autodialer.domain.attempt_limits import AttemptLimits, CalleeDayCap, PastAttempt
from autodialer.domain.campaign_schedule import CampaignSchedule
from autodialer.domain.mikopbx_results import ResultRow
from autodialer.domain.pacing_config import PROGRESSIVE_SETTINGS, PacingSettings
from autodialer.domain.phone_numbers import phone_id_of
from autodialer.domain.poll_flow import PollDefinition
from autodialer.services.dialer_store import Attempt, DialNumber, DialTask, PollAnswer


class InMemoryDialerStore:
    _STATE = (
        "tasks",
        "numbers",
        "attempts",
        "finished",
        "ended_at",
        "polls",
        "poll_answers",
        "dnc",
        "campaign_dnc",
        "_pending_delete",
    )

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Like a transaction: on an error every change made inside is undone (entries are immutable, so
        shallow copies of the containers are a faithful snapshot)."""
        saved = {name: copy.copy(getattr(self, name)) for name in self._STATE}
        try:
            yield
        except BaseException:
            for name, value in saved.items():
                setattr(self, name, value)
            raise

    def __init__(self, dnc_key: Callable[[str], str] = phone_id_of) -> None:
        # The SQL store keys do-not-call by E.164 (adapters.phone_numbering.dnc_key); phone_id by default here.
        self._dnc_key = dnc_key
        self.tasks: dict[int, DialTask] = {}
        self.numbers: dict[int, DialNumber] = {}
        self.attempts: dict[str, Attempt] = {}
        self.finished: list[Attempt] = []
        self.released: list[Attempt] = []  # attempts whose Originate never reached the PBX
        self.polls: dict[int, PollDefinition] = {}
        self.poll_answers: list[PollAnswer] = []
        self.dnc: set[str] = set()
        self.campaign_dnc: set[tuple[int, str]] = set()  # (task id, key): the campaigns' own lists
        self.ended_at: dict[str, float] = {}  # finished attempts' end times
        self._pending_delete: set[int] = set()
        self._next_number_id = 1

    # ---- what the API would do

    def add_task(
        self,
        task_id: int,
        inner_num: str = "201",
        *,
        inner_num_type: str = "exten",
        max_channels: int = 1,
        state: int = 0,
        dial_prefix: str = "",
        retry_overrides: Mapping[str, object] | None = None,
        schedule: CampaignSchedule | None = None,
        limits: AttemptLimits | None = None,
        pacing: PacingSettings = PROGRESSIVE_SETTINGS,
    ) -> DialTask:
        task = DialTask(
            task_id,
            state,
            inner_num,
            inner_num_type,
            max_channels,
            dial_prefix,
            False,
            retry_overrides,
            schedule or CampaignSchedule(),
            limits or AttemptLimits(),
            pacing,
        )
        self.tasks[task_id] = task
        return task

    def add_number(
        self, task_id: int, phone: str, *, time_call_allow: int = 0, params: Mapping[str, str] | None = None
    ) -> DialNumber:
        number = DialNumber(
            number_id=self._next_number_id,
            task_id=task_id,
            phone=phone,
            phone_id=phone_id_of(phone),
            dial_digits="".join(c for c in phone if c.isdigit()),
            time_call_allow=time_call_allow,
            row=ResultRow(),
            params=dict(params or {}),
        )
        self.numbers[number.number_id] = number
        self._next_number_id += 1
        return number

    def set_task_state(self, task_id: int, state: int) -> None:
        self.tasks[task_id] = replace(self.tasks[task_id], state=state)

    def delete_number(self, number_id: int) -> None:
        """Delete now, or when its call ends if it is in one (never under a running call)."""
        if self._in_flight(number_id):
            self._pending_delete.add(number_id)
        else:
            self.numbers.pop(number_id, None)

    def rows(self, task_id: int) -> list[ResultRow]:
        return [n.row for n in sorted(self.numbers.values(), key=lambda n: n.number_id) if n.task_id == task_id]

    # ---- DialerStore

    async def open_tasks(self) -> Sequence[DialTask]:
        return [self._with_count(t) for _, t in sorted(self.tasks.items()) if t.state == 0]

    async def get_task(self, task_id: int) -> DialTask | None:
        task = self.tasks.get(task_id)
        return None if task is None else self._with_count(task)

    async def due_numbers(self, task_id: int, now: float, limit: int) -> Sequence[DialNumber]:
        due = [n for n in self._dialable(task_id) if n.due_at <= now]
        return sorted(due, key=lambda n: n.number_id)[: max(0, limit)]

    async def next_due_at(self, now: float) -> float | None:
        open_ids = {t.task_id for t in self.tasks.values() if t.state == 0}
        future = [n.due_at for tid in open_ids for n in self._dialable(tid) if n.due_at > now]
        return min(future, default=None)

    async def get_number(self, number_id: int) -> DialNumber | None:
        return self.numbers.get(number_id)

    async def close_task(self, task_id: int, now: float) -> None:
        task = self.tasks.get(task_id)
        if task is not None and task.state == 0 and not self._with_count(task).has_open_numbers:
            self.tasks[task_id] = replace(task, state=1)

    async def start_attempts(
        self, claimed: Sequence[Attempt], caps: Mapping[str, CalleeDayCap] | None = None
    ) -> frozenset[str]:
        started: set[str] = set()
        for attempt in claimed:
            number = self.numbers.get(attempt.number_id)
            task = self.tasks.get(attempt.task_id)
            if number is None or task is None or task.state != 0 or number.row.is_closed:
                continue
            if self._in_flight(number.number_id) or number.number_id in self._pending_delete:
                continue
            if self._listed(attempt.task_id, attempt.phone):  # checked as the call is about to start
                self.numbers[number.number_id] = replace(
                    number, row=call_results.do_not_call(number.row, attempt.created_at)
                )
                continue
            cap = (caps or {}).get(attempt.call_id)
            if cap is not None and not cap.allows(self._started_toward(cap.callee)):
                continue  # another call toward the callee since it was judged reached the cap: it waits
            self.attempts[attempt.call_id] = attempt
            started.add(attempt.call_id)
        return frozenset(started)

    def _started_toward(self, callee: str) -> list[float]:
        return [a.created_at for a in [*self.finished, *self.attempts.values()] if self._dnc_key(a.phone) == callee]

    async def mark_written(self, call_ids: Sequence[str]) -> None:
        for call_id in call_ids:
            if call_id in self.attempts:
                self.attempts[call_id] = replace(self.attempts[call_id], written=True)

    async def confirm_attempts(self, confirmed: Sequence[tuple[Attempt, ResultRow]]) -> None:
        for attempt, row in confirmed:
            if attempt.call_id in self.attempts:
                self.attempts[attempt.call_id] = replace(self.attempts[attempt.call_id], written=True, confirmed=True)
                await self.save_row(attempt.number_id, row)

    async def release_attempts(self, unsent: Sequence[Attempt]) -> None:
        for attempt in unsent:
            if self.attempts.pop(attempt.call_id, None) is None:
                continue
            self.released.append(attempt)
            if attempt.number_id in self._pending_delete:
                self._pending_delete.discard(attempt.number_id)
                self.numbers.pop(attempt.number_id, None)

    async def save_row(self, number_id: int, row: ResultRow) -> None:
        number = self.numbers.get(number_id)
        if number is not None:
            self.numbers[number_id] = replace(number, row=row)

    async def update_attempt(self, attempt: Attempt) -> None:
        if attempt.call_id in self.attempts:
            self.attempts[attempt.call_id] = attempt

    async def finish_attempt(self, attempt: Attempt, now: float, row: ResultRow | None = None) -> None:
        if self.attempts.pop(attempt.call_id, None) is None:
            return
        self.finished.append(attempt)
        self.ended_at[attempt.call_id] = now
        if row is not None:
            await self.save_row(attempt.number_id, row)
        if attempt.number_id in self._pending_delete:
            self._pending_delete.discard(attempt.number_id)
            self.numbers.pop(attempt.number_id, None)

    async def attempts_in_flight(self) -> Sequence[Attempt]:
        return list(self.attempts.values())

    async def ended_calls(self, call_ids: Sequence[str]) -> frozenset[str]:
        return frozenset(c for c in call_ids if c in self.ended_at)

    async def get_poll(self, poll_id: int) -> PollDefinition | None:
        return self.polls.get(poll_id)

    async def add_poll_answer(self, answer: PollAnswer) -> None:
        self.poll_answers.append(answer)

    async def close_do_not_call(self, now: float, phone: str | None = None) -> int:
        wanted = {self._dnc_key(phone)} if phone is not None else self.dnc
        closed = 0
        for number in list(self.numbers.values()):
            key = self._dnc_key(number.phone)
            listed = key in self.dnc or (number.task_id, key) in self.campaign_dnc
            if (phone is None or key in wanted) and listed and not number.row.is_closed:
                if self._in_flight(number.number_id):
                    continue
                self.numbers[number.number_id] = replace(number, row=call_results.do_not_call(number.row, now))
                closed += 1
        return closed

    async def close_written_do_not_call(self, now: float) -> int:
        return await self.close_do_not_call(now)  # every open number: what was written since is among them

    async def defer_numbers(self, waits: Sequence[tuple[int, float]]) -> None:
        for number_id, until in waits:
            number = self.numbers.get(number_id)
            if number is not None and not number.row.is_closed and not self._in_flight(number_id):
                self.numbers[number_id] = replace(number, row=replace(number.row, next_attempt_at=until))

    async def add_dnc(self, phone: str, source: str, now: float) -> None:
        self.dnc.add(self._dnc_key(phone))

    async def callee_attempts(
        self, task_id: int, callees: Sequence[str], since: float
    ) -> Mapping[str, Sequence[PastAttempt]]:
        wanted = set(callees)
        found: dict[str, list[PastAttempt]] = {}
        for attempt in [*self.finished, *self.attempts.values()]:
            key = self._dnc_key(attempt.phone)
            if key in wanted and (attempt.task_id == task_id or attempt.created_at >= since):
                ended = self.ended_at.get(attempt.call_id)
                found.setdefault(key, []).append(PastAttempt(attempt.task_id, attempt.created_at, ended))
        return found

    # ---- internals

    def _listed(self, task_id: int, phone: str) -> bool:
        key = self._dnc_key(phone)
        return key in self.dnc or (task_id, key) in self.campaign_dnc

    def _in_flight(self, number_id: int) -> bool:
        return any(a.number_id == number_id for a in self.attempts.values())

    def _dialable(self, task_id: int) -> list[DialNumber]:
        return [
            n
            for n in self.numbers.values()
            if n.task_id == task_id and not n.row.is_closed and not self._in_flight(n.number_id)
        ]

    def _with_count(self, task: DialTask) -> DialTask:
        has_open = any(n.task_id == task.task_id and not n.row.is_closed for n in self.numbers.values())
        return replace(task, has_open_numbers=has_open)
