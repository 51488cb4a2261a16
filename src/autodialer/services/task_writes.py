"""The v1/v2 task writes, written once: POST (create or merge), PUT, soft DELETE and v2's added numbers, as
sequences of domain.mikopbx_tasks' rules over a task store's unit of work (:class:`TaskWriteUnit`).

A store opens the unit (a transaction, or a snapshot it restores), runs one of these functions in it and ends it;
a rule's refusal (``TaskConflict``) raised here undoes the whole write. The unit only stores and finds: which task
a write names, what a deleted task or a taken id refuses, the crmId a new task defaults to, who decides the state,
merging duplicates, which numbers a re-post replaces and sparing those in a live call, and reopening a task the
dialer closed are decided here, so the SQL store (set statements, a chunk of numbers per statement) and the
in-memory reference cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Protocol

from autodialer.domain.mikopbx_tasks import (
    STATE_OPEN,
    NumberColumns,
    TaskConflict,
    TaskRecord,
    check_target,
    deleted_crm_id,
    merge_duplicates,
    missing_poll,
    poll_reference,
    refuse_deleted,
    refuse_taken_id,
    reopens,
)


class StoredTask(NamedTuple):
    record: TaskRecord
    deleted: bool


class TaskWriteUnit(Protocol):
    """One unit of work of a task store: storage only, no rules. ``now`` is the unit's (updated_at)."""

    step_us: int  # the change times of one post's numbers are first + position * step_us

    async def find(self, task_id: int | None, crm_id: str) -> StoredTask | None:
        """The task (live or deleted) with this crm_id when one is given, else with this id."""
        ...

    async def id_holder(self, task_id: int) -> StoredTask | None: ...

    async def take_id_as_crm_id(self, task_id: int) -> TaskRecord | None:
        """The task's crm_id becomes its id (as text), unless another task holds that crm_id: then None, nothing
        changed. One step, so a store can check and write in one statement."""
        ...

    async def create(self, task_id: int | None, crm_id: str | None, columns: Mapping[str, Any]) -> TaskRecord:
        """A new task with the given id (else the next one) and the columns given (not None; the rest default).
        ``crm_id`` None: a placeholder no client can send, until the id is known."""
        ...

    async def update(self, task_id: int, values: Mapping[str, Any]) -> TaskRecord: ...

    async def mark_deleted(self, task_id: int, crm_id: str) -> bool:
        """Mark the live task deleted, its crm_id renamed; False if there is no live task with this id."""
        ...

    async def poll_exists(self, poll_id: int) -> bool: ...

    async def allocate_change_times(self, task_id: int, count: int) -> int:
        """The first of ``count`` change times (µs) for numbers of the task about to be written, none before the
        unit's now; ``settle_change_times`` follows once they are."""
        ...

    async def settle_change_times(self, task_id: int, first: int, count: int) -> int:
        """The numbers are written: make their change times (from ``first``) final, after every one given out
        before; answers the final first (a store that handed them out ahead of its clock may move them, all by
        one shift)."""
        ...

    async def upsert_numbers(self, task_id: int, rows: NumberColumns, change_times: list[int]) -> None:
        """Insert the numbers (phone_ids distinct), or for those the task has set params, params_php,
        time_call_allow and change time and clear pending_delete (phone, state, result and the rest stay)."""
        ...

    async def delete_idle_numbers(self, task_id: int, older_than: int | None) -> None:
        """Delete the task's numbers not in a live call (with a change time below ``older_than`` when given)."""
        ...

    async def mark_numbers_pending_delete(self, task_id: int, older_than: int | None) -> None:
        """Mark the task's numbers (change time below ``older_than`` when given) to go when their call ends."""
        ...

    async def has_open_numbers(self, task_id: int) -> bool:
        """Any number left to dial: no result yet and not pending delete."""
        ...


def task_changes(columns: Mapping[str, Any]) -> dict[str, Any]:
    """The columns a write stores: a state sent by the CRM is the CRM's decision from now on, whatever the dialer
    did before."""
    values = dict(columns)
    if "state" in values:
        values["closed_by_dialer"] = False
    return values


async def save_task(
    unit: TaskWriteUnit,
    *,
    task_id: int | None,
    crm_id: str,
    columns: Mapping[str, Any],
    numbers: Iterable[NumberColumns] | None,
    number_count: int,
    create_only: bool = False,
) -> tuple[TaskRecord, bool]:
    """POST /task (and v2's create, ``create_only``: a crm_id that names a task is refused instead of merged):
    create, or merge into the task found by crm_id (else id). ``numbers`` None keeps the stored ones; a list
    replaces them. Answers the task after the write and whether it was created."""
    existing = await unit.find(task_id, crm_id)
    if existing is not None and create_only:
        raise TaskConflict("crmId", f"already names task {existing.record.id}")
    if existing is not None and existing.deleted:
        raise refuse_deleted(task_id)
    if existing is not None:
        task = await unit.update(existing.record.id, task_changes(columns))
    else:
        if task_id is not None and crm_id:
            await _check_id_free(unit, task_id, crm_id)
        task = await _create(unit, task_id, crm_id, columns)
    check_target(task, columns, created=existing is None)
    await _check_poll(unit, task)
    if numbers is not None:
        await _write_numbers(unit, task.id, numbers, number_count, replace=existing is not None)
        task = await _reopen_for_numbers(unit, task, columns)
    return task, existing is None


async def change_task(
    unit: TaskWriteUnit, *, task_id: int, crm_id: str, columns: Mapping[str, Any]
) -> TaskRecord | None:
    """PUT /task/{id}: change the live task found by crm_id (if given, the URL id is ignored) or id; None if none."""
    existing = await unit.find(None if crm_id else task_id, crm_id)
    if existing is None or existing.deleted:
        return None
    task = await unit.update(existing.record.id, task_changes(columns))
    check_target(task, columns, created=False)
    await _check_poll(unit, task)
    return task


async def delete_task(unit: TaskWriteUnit, task_id: int) -> bool:
    """Soft delete: the task vanishes, its crmId is released; its numbers go, those in a live call when it ends."""
    if not await unit.mark_deleted(task_id, deleted_crm_id(task_id)):
        return False
    await _drop_numbers(unit, task_id, older_than=None)
    return True


async def add_numbers(
    unit: TaskWriteUnit, task_id: int, numbers: Iterable[NumberColumns], count: int
) -> TaskRecord | None:
    """v2: add numbers to a live task or update those it has; its other numbers stay, a task the dialer closed
    reopens. None if the task is gone."""
    existing = await unit.find(task_id, "")
    if existing is None or existing.deleted:
        return None
    await _write_numbers(unit, task_id, numbers, count, replace=False)
    return await _reopen_for_numbers(unit, existing.record, {})


async def _create(unit: TaskWriteUnit, task_id: int | None, crm_id: str, columns: Mapping[str, Any]) -> TaskRecord:
    """A new task; without a crm_id it takes its id as crmId, unless that is another task's crmId."""
    task = await unit.create(task_id, crm_id or None, {k: v for k, v in columns.items() if v is not None})
    if crm_id:
        return task
    taken = await unit.take_id_as_crm_id(task.id)
    if taken is None:
        raise TaskConflict("crmId", f"the new task's id {task.id} is another task's crmId; send a crmId")
    return taken


async def _check_id_free(unit: TaskWriteUnit, task_id: int, crm_id: str) -> None:
    """A new task for ``crm_id`` may take the body's ``id`` only if no task (live or deleted) holds it already."""
    holder = await unit.id_holder(task_id)
    if holder is None:
        return
    if holder.deleted:
        raise refuse_deleted(task_id)
    raise refuse_taken_id(task_id, crm_id)


async def _check_poll(unit: TaskWriteUnit, task: TaskRecord) -> None:
    poll_id = poll_reference(task)
    if poll_id is not None and not await unit.poll_exists(poll_id):
        raise missing_poll(task)


async def _write_numbers(
    unit: TaskWriteUnit, task_id: int, chunks: Iterable[NumberColumns], count: int, *, replace: bool
) -> None:
    """Upsert the posted numbers chunk by chunk, duplicates merged, their change times from one allocation; with
    ``replace`` the numbers not posted (a change time older than this post's first one) then go."""
    first = await unit.allocate_change_times(task_id, count) if count else None
    for chunk in chunks:
        if first is None:
            continue
        rows = merge_duplicates(chunk)
        step = unit.step_us
        await unit.upsert_numbers(task_id, rows, [first + position * step for position in rows.positions])
    if first is not None:
        first = await unit.settle_change_times(task_id, first, count)
    if replace:
        await _drop_numbers(unit, task_id, older_than=first)


async def _drop_numbers(unit: TaskWriteUnit, task_id: int, older_than: int | None) -> None:
    """The numbers go, except one in a live call: it is marked and goes when its call ends."""
    await unit.delete_idle_numbers(task_id, older_than)
    await unit.mark_numbers_pending_delete(task_id, older_than)


async def _reopen_for_numbers(unit: TaskWriteUnit, task: TaskRecord, columns: Mapping[str, Any]) -> TaskRecord:
    if reopens(task, columns) and await unit.has_open_numbers(task.id):
        return await unit.update(task.id, {"state": STATE_OPEN, "closed_by_dialer": False})
    return task
