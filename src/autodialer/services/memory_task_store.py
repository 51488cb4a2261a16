"""InMemoryTaskStore: the reference implementation of the TaskStore and ResultsStore ports (services.mikopbx_tasks),
held to the same contract as the SQL store by tests/contracts/test_campaign_store.py.

Its writes are services.task_writes' rules, run on :class:`_MemoryWriteUnit` as the SQL store runs them on its
transaction (undone with it on a refusal: a write works on a snapshot it restores); what it does itself is only
storage: find by crmId or id, hand out ids and change times, upsert numbers by phoneId, delete or mark numbers.
The helpers below the port (``add_poll``, ``start_call``, ``end_call``, ``close_by_dialer``, ``add_answer``) stand in
for what the dialer and the poll flow do to the rows.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from autodialer.domain.mikopbx_tasks import (
    STATE_OPEN,
    NumberColumns,
    PollAnswerRow,
    SavedTask,
    TaskRecord,
    TaskResultRow,
)
from autodialer.services import task_writes
from autodialer.services.task_writes import StoredTask

FIRST_TASK_ID = 1_000_000_001
_TASK_FIELDS = ("name", "inner_num", "inner_num_type", "max_count_channels", "state", "dial_prefix")
_STORED_FIELDS = (*_TASK_FIELDS, "crm_id", "closed_by_dialer")
_DEFAULTS: dict[str, Any] = {
    "name": "",
    "inner_num": "",
    "inner_num_type": "exten",
    "max_count_channels": 1,
    "state": STATE_OPEN,
    "dial_prefix": "",
}


@dataclass(slots=True)
class _Number:
    id: int
    task_id: int
    phone_id: str
    phone: str
    params_php: str
    time_call_allow: int
    change_time_us: int
    result: str = ""
    state: str = "CreateTask"
    count_try: int | None = None
    close_time: int = 0
    in_call: bool = False
    pending_delete: bool = False


def _change_time(us: int) -> str:
    seconds, micro = divmod(us, 1_000_000)
    return f"{seconds}.{micro:06d}"


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


class InMemoryTaskStore:
    def __init__(self, step_us: int = 1) -> None:
        self.tasks: dict[int, TaskRecord] = {}
        self.deleted: set[int] = set()
        self.numbers: dict[int, _Number] = {}
        self.polls: set[int] = set()
        self.answers: list[PollAnswerRow] = []
        self._answer_times: list[int] = []
        self._step = step_us
        self._last_us = 0
        self._next_number_id = 1
        self._next_answer_id = 1

    # ---- the TaskStore port

    async def save_task(
        self,
        *,
        task_id: int | None,
        crm_id: str,
        columns: Mapping[str, Any],
        numbers: Iterable[NumberColumns] | None,
        number_count: int,
        now: float,
    ) -> SavedTask:
        with self._unit(now) as unit:
            task, created = await task_writes.save_task(
                unit, task_id=task_id, crm_id=crm_id, columns=columns, numbers=numbers, number_count=number_count
            )
        return SavedTask(task, created)

    async def change_task(
        self, *, task_id: int, crm_id: str, columns: Mapping[str, Any], now: float
    ) -> TaskRecord | None:
        with self._unit(now) as unit:
            return await task_writes.change_task(unit, task_id=task_id, crm_id=crm_id, columns=columns)

    async def delete_task(self, task_id: int, now: float) -> bool:
        with self._unit(now) as unit:
            return await task_writes.delete_task(unit, task_id)

    async def task(self, task_id: int) -> TaskRecord | None:
        return None if task_id in self.deleted else self.tasks.get(task_id)

    async def number_pages(self, task_id: int, page_size: int) -> AsyncIterator[Sequence[TaskResultRow]]:
        rows = [self._row(n) for n in self._by_id() if n.task_id == task_id and not n.pending_delete]
        for start in range(0, len(rows), page_size):
            yield rows[start : start + page_size]

    async def answer_pages(self, task_id: int, page_size: int) -> AsyncIterator[Sequence[PollAnswerRow]]:
        rows = [a for a in self.answers if a.task_id == str(task_id)]
        for start in range(0, len(rows), page_size):
            yield rows[start : start + page_size]

    async def list_tasks(self, *, state: int | None, limit: int | None, after_id: int | None) -> Sequence[TaskRecord]:
        found = [
            t
            for i, t in sorted(self.tasks.items())
            if i not in self.deleted and (state is None or t.state == state) and (after_id is None or i > after_id)
        ]
        return found if limit is None else found[:limit]

    # ---- the ResultsStore port (one page of ``page_limit`` rows)

    page_limit = 10_000

    async def task_results_since(self, change_time_us: int) -> Sequence[TaskResultRow]:
        found = sorted(
            (n for n in self.numbers.values() if n.change_time_us >= change_time_us),
            key=lambda n: (n.change_time_us, n.id),
        )
        return [self._row(n) for n in found[: self.page_limit]]

    async def poll_results_since(self, change_time_us: int) -> Sequence[PollAnswerRow]:
        found = sorted(
            (pair for pair in zip(self._answer_times, self.answers, strict=True) if pair[0] >= change_time_us),
            key=lambda pair: (pair[0], int(pair[1].id)),
        )
        return [answer for _, answer in found[: self.page_limit]]

    # ---- what the dialer and the poll flow do

    def add_poll(self, poll_id: int) -> None:
        self.polls.add(poll_id)

    def start_call(self, task_id: int, phone_id: str) -> None:
        self._number(task_id, phone_id).in_call = True

    def end_call(self, task_id: int, phone_id: str, result: str, now: float) -> None:
        """The call ends with a final ``result``: a number marked to go goes now."""
        number = self._number(task_id, phone_id)
        number.in_call = False
        number.result = result
        number.count_try = (number.count_try or 0) + 1
        number.change_time_us = self._allocate(1, now)
        if number.pending_delete:
            del self.numbers[number.id]

    def close_by_dialer(self, task_id: int) -> None:
        self.tasks[task_id] = replace(self.tasks[task_id], state=1, closed_by_dialer=True)

    def add_answer(self, task_id: int, phone_id: str, poll_id: int, question: str, result: str, now: float) -> None:
        number = self._number(task_id, phone_id)
        at = self._allocate(1, now)
        answer = PollAnswerRow(
            str(self._next_answer_id), str(task_id), question, str(poll_id), phone_id, number.phone, result, None,
            _change_time(at),
        )  # fmt: skip
        self._next_answer_id += 1
        self.answers.append(answer)
        self._answer_times.append(at)

    # ---- storage

    @contextmanager
    def _unit(self, now: float) -> Iterator[_MemoryWriteUnit]:
        """A write's unit of work: everything it changed is undone when it raises."""
        saved = self._snapshot()
        try:
            yield _MemoryWriteUnit(self, now)
        except BaseException:
            self._restore(saved)
            raise

    def _allocate(self, count: int, now: float) -> int:
        first = max(self._last_us + self._step, int(now * 1_000_000))
        self._last_us = first + (count - 1) * self._step
        return first

    def _number(self, task_id: int, phone_id: str) -> _Number:
        return next(n for n in self.numbers.values() if n.task_id == task_id and n.phone_id == phone_id)

    def _by_id(self) -> list[_Number]:
        return [self.numbers[i] for i in sorted(self.numbers)]

    @staticmethod
    def _row(n: _Number) -> TaskResultRow:
        return TaskResultRow(
            str(n.id), str(n.task_id), n.phone_id, n.phone, None, None, n.result, None, None, n.state, None, None,
            n.params_php, _change_time(n.change_time_us), _text(n.count_try), str(n.time_call_allow),
            str(n.close_time),
        )  # fmt: skip

    def _snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(
            {k: getattr(self, k) for k in ("tasks", "deleted", "numbers", "_last_us", "_next_number_id")}
        )

    def _restore(self, saved: dict[str, Any]) -> None:
        for key, value in saved.items():
            setattr(self, key, value)


class _MemoryWriteUnit:
    """services.task_writes' unit of work on the store's dicts: storage only (the rules are task_writes')."""

    def __init__(self, store: InMemoryTaskStore, now: float) -> None:
        self._store = store
        self._now = now
        self.step_us = store._step

    def _stored(self, task: TaskRecord | None) -> StoredTask | None:
        return None if task is None else StoredTask(task, task.id in self._store.deleted)

    async def find(self, task_id: int | None, crm_id: str) -> StoredTask | None:
        if crm_id:
            return self._stored(next((t for t in self._store.tasks.values() if t.crm_id == crm_id), None))
        return None if task_id is None else self._stored(self._store.tasks.get(task_id))

    async def id_holder(self, task_id: int) -> StoredTask | None:
        return self._stored(self._store.tasks.get(task_id))

    async def take_id_as_crm_id(self, task_id: int) -> TaskRecord | None:
        crm_id = str(task_id)
        if any(t.crm_id == crm_id for t in self._store.tasks.values()):
            return None
        return await self.update(task_id, {"crm_id": crm_id})

    async def create(self, task_id: int | None, crm_id: str | None, columns: Mapping[str, Any]) -> TaskRecord:
        tasks = self._store.tasks
        new_id = task_id if task_id is not None else max([FIRST_TASK_ID - 1, *tasks]) + 1
        values = {**_DEFAULTS, **{k: v for k, v in columns.items() if k in _TASK_FIELDS}}
        task = TaskRecord(id=new_id, crm_id=crm_id or f"\x1fnew:{new_id}", closed_by_dialer=False, **values)
        tasks[new_id] = task
        return task

    async def update(self, task_id: int, values: Mapping[str, Any]) -> TaskRecord:
        task = replace(self._store.tasks[task_id], **{k: v for k, v in values.items() if k in _STORED_FIELDS})
        self._store.tasks[task_id] = task
        return task

    async def mark_deleted(self, task_id: int, crm_id: str) -> bool:
        task = self._store.tasks.get(task_id)
        if task is None or task_id in self._store.deleted:
            return False
        self._store.deleted.add(task_id)
        self._store.tasks[task_id] = replace(task, crm_id=crm_id)
        return True

    async def poll_exists(self, poll_id: int) -> bool:
        return poll_id in self._store.polls

    async def allocate_change_times(self, task_id: int, count: int) -> int:
        return self._store._allocate(count, self._now)

    async def settle_change_times(self, task_id: int, first: int, count: int) -> int:
        return first  # allocated for good: no other writer runs meanwhile

    async def upsert_numbers(self, task_id: int, rows: NumberColumns, change_times: list[int]) -> None:
        store = self._store
        by_phone = {n.phone_id: n for n in store.numbers.values() if n.task_id == task_id}
        for i, phone_id in enumerate(rows.phone_ids):
            number = by_phone.get(phone_id)
            if number is None:
                number = _Number(
                    store._next_number_id, task_id, phone_id, rows.phones[i], rows.params_php[i],
                    rows.time_call_allow[i], change_times[i],
                )  # fmt: skip
                store._next_number_id += 1
                store.numbers[number.id] = number
            else:
                number.params_php = rows.params_php[i]
                number.time_call_allow = rows.time_call_allow[i]
                number.change_time_us = change_times[i]
                number.pending_delete = False

    def _numbers_of(self, task_id: int, older_than: int | None) -> list[_Number]:
        return [
            n
            for n in self._store.numbers.values()
            if n.task_id == task_id and (older_than is None or n.change_time_us < older_than)
        ]

    async def delete_idle_numbers(self, task_id: int, older_than: int | None) -> None:
        for number in self._numbers_of(task_id, older_than):
            if not number.in_call:
                del self._store.numbers[number.id]

    async def mark_numbers_pending_delete(self, task_id: int, older_than: int | None) -> None:
        for number in self._numbers_of(task_id, older_than):
            number.pending_delete = True

    async def has_open_numbers(self, task_id: int) -> bool:
        return any(
            n.task_id == task_id and n.result == "" and not n.pending_delete for n in self._store.numbers.values()
        )
