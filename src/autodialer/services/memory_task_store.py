"""InMemoryTaskStore: the reference implementation of the TaskStore and ResultsStore ports (services.mikopbx_tasks),
held to the same contract as the SQL store by tests/contracts/test_campaign_store.py.

It applies domain.mikopbx_tasks' rules exactly where the SQL store does (inside the write, undone with it on a
refusal); what it does itself is only what storage does: find by crmId or id, hand out ids and change times,
upsert numbers by phoneId, drop the ones a re-post left out (a number in a live call is only marked), soft delete.
The helpers below the port (``add_poll``, ``start_call``, ``end_call``, ``close_by_dialer``, ``add_answer``) stand in
for what the dialer and the poll flow do to the rows.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from autodialer.domain.mikopbx_tasks import (
    STATE_OPEN,
    NumberColumns,
    PollAnswerRow,
    SavedTask,
    TaskConflict,
    TaskRecord,
    TaskResultRow,
    check_target,
    deleted_crm_id,
    merge_duplicates,
    missing_poll,
    poll_reference,
    refuse_deleted,
    refuse_taken_id,
    reopens,
)

FIRST_TASK_ID = 1_000_000_001
_TASK_FIELDS = ("name", "inner_num", "inner_num_type", "max_count_channels", "state", "dial_prefix")
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
        saved = self._snapshot()
        try:
            return self._save(task_id, crm_id, columns, numbers, number_count, now)
        except BaseException:
            self._restore(saved)
            raise

    async def change_task(
        self, *, task_id: int, crm_id: str, columns: Mapping[str, Any], now: float
    ) -> TaskRecord | None:
        existing = self._find(None if crm_id else task_id, crm_id)
        if existing is None or existing.id in self.deleted:
            return None
        updated = self._update(existing, columns)
        check_target(updated, columns, created=False)
        self._check_poll(updated)
        self.tasks[updated.id] = updated
        return updated

    async def delete_task(self, task_id: int, now: float) -> bool:
        task = self.tasks.get(task_id)
        if task is None or task_id in self.deleted:
            return False
        self.deleted.add(task_id)
        self.tasks[task_id] = replace(task, crm_id=deleted_crm_id(task_id))
        self._drop_numbers(task_id, older_than=None)
        return True

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

    def _save(
        self,
        task_id: int | None,
        crm_id: str,
        columns: Mapping[str, Any],
        numbers: Iterable[NumberColumns] | None,
        number_count: int,
        now: float,
    ) -> SavedTask:
        existing = self._find(task_id, crm_id)
        if existing is not None and existing.id in self.deleted:
            raise refuse_deleted(task_id)
        if existing is not None:
            task = self._update(existing, columns)
        else:
            if task_id is not None and crm_id and task_id in self.tasks:
                raise refuse_deleted(task_id) if task_id in self.deleted else refuse_taken_id(task_id, crm_id)
            task = self._create(task_id, crm_id, columns)
        self.tasks[task.id] = task
        check_target(task, columns, created=existing is None)
        self._check_poll(task)
        if numbers is not None:
            self._write_numbers(task.id, numbers, number_count, now, existed=existing is not None)
            if reopens(task, columns) and self._has_open_numbers(task.id):
                task = replace(task, state=STATE_OPEN, closed_by_dialer=False)
                self.tasks[task.id] = task
        return SavedTask(task, existing is None)

    def _find(self, task_id: int | None, crm_id: str) -> TaskRecord | None:
        if crm_id:
            return next((t for t in self.tasks.values() if t.crm_id == crm_id), None)
        return None if task_id is None else self.tasks.get(task_id)

    def _update(self, task: TaskRecord, columns: Mapping[str, Any]) -> TaskRecord:
        changes = {k: v for k, v in columns.items() if k in _TASK_FIELDS}
        if "state" in columns:  # the CRM decides the state from now on
            changes["closed_by_dialer"] = False
        return replace(task, **changes)

    def _create(self, task_id: int | None, crm_id: str, columns: Mapping[str, Any]) -> TaskRecord:
        new_id = task_id if task_id is not None else max([FIRST_TASK_ID - 1, *self.tasks]) + 1
        if not crm_id and any(t.crm_id == str(new_id) for t in self.tasks.values()):
            raise TaskConflict("crmId", f"the new task's id {new_id} is another task's crmId; send a crmId")
        values = {**_DEFAULTS, **{k: v for k, v in columns.items() if k in _TASK_FIELDS and v is not None}}
        return TaskRecord(id=new_id, crm_id=crm_id or str(new_id), closed_by_dialer=False, **values)

    def _check_poll(self, task: TaskRecord) -> None:
        poll_id = poll_reference(task)
        if poll_id is not None and poll_id not in self.polls:
            raise missing_poll(task)

    def _allocate(self, count: int, now: float) -> int:
        first = max(self._last_us + self._step, int(now * 1_000_000))
        self._last_us = first + (count - 1) * self._step
        return first

    def _write_numbers(
        self, task_id: int, chunks: Iterable[NumberColumns], count: int, now: float, *, existed: bool
    ) -> None:
        first = self._allocate(count, now) if count else None
        by_phone = {n.phone_id: n for n in self.numbers.values() if n.task_id == task_id}
        for chunk in chunks:
            if first is None:
                continue
            rows = merge_duplicates(chunk)
            for i, phone_id in enumerate(rows.phone_ids):
                at = first + rows.positions[i] * self._step
                number = by_phone.get(phone_id)
                if number is None:
                    number = _Number(
                        self._next_number_id, task_id, phone_id, rows.phones[i], rows.params_php[i],
                        rows.time_call_allow[i], at,
                    )  # fmt: skip
                    self._next_number_id += 1
                    self.numbers[number.id] = number
                    by_phone[phone_id] = number
                else:
                    number.params_php = rows.params_php[i]
                    number.time_call_allow = rows.time_call_allow[i]
                    number.change_time_us = at
                    number.pending_delete = False
        if existed:
            self._drop_numbers(task_id, older_than=first)

    def _drop_numbers(self, task_id: int, older_than: int | None) -> None:
        for number in list(self.numbers.values()):
            if number.task_id != task_id or (older_than is not None and number.change_time_us >= older_than):
                continue
            if number.in_call:
                number.pending_delete = True
            else:
                del self.numbers[number.id]

    def _has_open_numbers(self, task_id: int) -> bool:
        return any(n.task_id == task_id and n.result == "" and not n.pending_delete for n in self.numbers.values())

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
