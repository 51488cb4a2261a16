"""Tasks and their numbers (MikoPBX m_Tasks / m_TaskResults) as the REST API writes and reads them.

Every public method is one transaction. Writes follow ConnectorDB's rules, minus its bugs:
- a task is found by ``crm_id`` when one is given, else by ``id``; a new task gets the given ``id`` or the next one
  (from 1000000001) and ``crm_id`` defaults to its id;
- the posted ``numbers`` list is authoritative: numbers not in it are deleted, except a number in a live call
  (``active_attempt_id`` set), which is only marked ``pending_delete`` and removed when its call ends; a posted
  number that exists keeps state/result/closeTime and gets new params, timeCallAllow and changeTime; a body without
  ``numbers`` leaves the numbers alone;
- a task needs a target (``innerNum``): a new task without one is refused, and no write may empty it;
- a task the dialer closed because every number was final (``closed_by_dialer``) reopens when a POST that does not
  send ``state`` leaves it with numbers to dial (new ones; a re-posted final number stays final, as in MikoPBX); a
  task the CRM closed or paused keeps its state;
- a deleted task is soft-deleted: it vanishes from the API, its crm_id is released (renamed to a value no client can
  send, as clients cannot send control characters), its numbers go as above.

Numbers arrive validated, in column chunks (:class:`NumberColumns`), and are written with one statement per chunk
(``INSERT … ON CONFLICT (task_id, phone_id) DO UPDATE``), their change times from one ``feed_clock.allocate`` for
the whole list; "not in the posted list" is then simply "change time older than this post's first one", so no set
of a million phone ids is ever held in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, String, and_, cast, exists, func, insert, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from autodialer.adapters.db import feed_clock
from autodialer.adapters.db.tables import poll_answers, polls, task_numbers, tasks
from autodialer.adapters.db.transactions import write_transaction
from autodialer.domain.mikopbx_tasks import (
    DELETED_CRM_PREFIX,
    NumberColumns,
    NumberRow,
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

__all__ = ["DELETED_CRM_PREFIX", "NumberColumns", "NumberRow", "SqlTaskRepository", "TaskConflict"]


class _CreateRace(Exception):
    """Another transaction created the same crm_id (or id) between our lookup and our insert."""


TASK_COLUMNS = (
    tasks.c.id,
    tasks.c.crm_id,
    tasks.c.name,
    tasks.c.inner_num,
    tasks.c.inner_num_type,
    tasks.c.max_count_channels,
    tasks.c.state,
    tasks.c.dial_prefix,
    tasks.c.closed_by_dialer,
)


def _text(column: ColumnElement[Any]) -> ColumnElement[Any]:
    return cast(column, String)


def _change_time(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``change_time_us`` as MikoPBX-style seconds with six decimals, computed by the database (both dialects)."""
    fraction = func.substr(cast(1_000_000 + column % 1_000_000, String), 2)
    return (cast(column // 1_000_000, String) + "." + fraction).label("change_time")


# The feed and GET /task/{id} columns, in MikoPBX's order, already as the wire's strings (the database converts
# faster than Python can, which matters for 10,000-row pages).
NUMBER_WIRE_COLUMNS = (
    _text(task_numbers.c.id),
    _text(task_numbers.c.task_id),
    task_numbers.c.phone_id,
    task_numbers.c.phone,
    task_numbers.c.linked_id,
    task_numbers.c.call_file,
    task_numbers.c.result,
    task_numbers.c.out_dial_state,
    task_numbers.c.in_dial_state,
    task_numbers.c.state,
    task_numbers.c.verbose_call_id,
    task_numbers.c.cause,
    task_numbers.c.params_php,
    _change_time(task_numbers.c.change_time_us),
    _text(task_numbers.c.count_try),
    _text(task_numbers.c.time_call_allow),
    _text(task_numbers.c.close_time),
)

ANSWER_WIRE_COLUMNS = (
    _text(poll_answers.c.id),
    _text(poll_answers.c.task_id),
    poll_answers.c.question_crm_id,
    _text(poll_answers.c.polling_id),
    poll_answers.c.phone_id,
    poll_answers.c.phone,
    poll_answers.c.result,
    poll_answers.c.exten,
    _change_time(poll_answers.c.change_time_us),
)

_UPSERT_COLUMNS = "task_id, phone_id, phone, dial_digits, params_json, params_php, change_time_us, time_call_allow"
_UPSERT_TAIL = (
    " ON CONFLICT (task_id, phone_id) DO UPDATE SET params_json = excluded.params_json,"
    " params_php = excluded.params_php, time_call_allow = excluded.time_call_allow,"
    " change_time_us = excluded.change_time_us, pending_delete = excluded.pending_delete"
)
_SQLITE_UPSERT = f"INSERT INTO task_numbers ({_UPSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?){_UPSERT_TAIL}"  # noqa: S608
_PG_UPSERT = (
    f"INSERT INTO task_numbers ({_UPSERT_COLUMNS}) SELECT %s, * FROM unnest("  # noqa: S608 - constants only
    "%s::varchar[], %s::varchar[], %s::varchar[], %s::text[]::json[], %s::text[], %s::bigint[], %s::bigint[])"
    f"{_UPSERT_TAIL}"
)


_Record = TypeVar("_Record", TaskResultRow, PollAnswerRow)


class SqlTaskRepository:
    def __init__(self, engine: AsyncEngine, *, page_limit: int) -> None:
        self._engine = engine
        self._step = feed_clock.step_us(page_limit)

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
        """POST /task: create, or merge into the task found by crm_id (else id). See the module docstring."""
        row, created = await self.save_task_row(
            task_id=task_id, crm_id=crm_id, columns=columns, numbers=numbers, number_count=number_count, now=now
        )
        return SavedTask(task_record(row), created)

    async def save_task_row(
        self,
        *,
        task_id: int | None,
        crm_id: str,
        columns: Mapping[str, Any],
        numbers: Iterable[NumberColumns] | None,
        number_count: int,
        now: float,
        create_only: bool = False,
    ) -> tuple[RowMapping, bool]:
        """``save_task`` answering the whole tasks row (v2's repository reads its own columns from it).

        Two posts creating the same crm_id at once: the loser's insert violates the unique key before any number
        is read, so it simply runs again and merges into the winner's task. ``create_only`` (v2's create) refuses
        a crm_id that names a task instead of merging.
        """
        for retry in (False, True):
            try:
                return await self._save_task(task_id, crm_id, columns, numbers, number_count, now, create_only)
            except _CreateRace:
                if retry:
                    raise TaskConflict("crmId", "was created by a concurrent request; retry") from None
        raise AssertionError("unreachable")

    async def _save_task(
        self,
        task_id: int | None,
        crm_id: str,
        columns: Mapping[str, Any],
        numbers: Iterable[NumberColumns] | None,
        number_count: int,
        now: float,
        create_only: bool = False,
    ) -> tuple[RowMapping, bool]:
        async with write_transaction(self._engine) as connection:
            existing = await self._find(connection, task_id, crm_id)
            if existing is not None and create_only:
                raise TaskConflict("crmId", f"already names task {existing['id']}")
            if existing is not None and existing["deleted"]:
                raise refuse_deleted(task_id)
            if existing is not None:
                row = await self._update(connection, existing["id"], columns, now)
            else:
                if task_id is not None and crm_id:
                    await _check_id_free(connection, task_id, crm_id)
                try:
                    row = await self._create(connection, task_id, crm_id, columns, now)
                except IntegrityError as e:
                    raise _CreateRace from e
            record = task_record(row)
            check_target(record, columns, created=existing is None)
            await _check_poll(connection, record)
            if numbers is not None:
                await self._write_numbers(connection, row["id"], numbers, number_count, now, existing is not None)
                if reopens(record, columns):
                    row = await _reopen_if_open_numbers(connection, row, now)
            return row, existing is None

    async def change_task(
        self, *, task_id: int, crm_id: str, columns: Mapping[str, Any], now: float
    ) -> TaskRecord | None:
        """PUT /task/{id}: change columns of the task found by crm_id (if given, the URL id is ignored) or id."""
        row = await self.change_task_row(task_id=task_id, crm_id=crm_id, columns=columns, now=now)
        return None if row is None else task_record(row)

    async def change_task_row(
        self, *, task_id: int, crm_id: str, columns: Mapping[str, Any], now: float
    ) -> RowMapping | None:
        """PUT /task/{id}: change columns of the task found by crm_id (if given, the URL id is ignored) or id."""
        async with write_transaction(self._engine) as connection:
            existing = await self._find(connection, None if crm_id else task_id, crm_id)
            if existing is None or existing["deleted"]:
                return None
            row = await self._update(connection, existing["id"], columns, now)
            record = task_record(row)
            check_target(record, columns, created=False)
            await _check_poll(connection, record)
            return row

    async def delete_task(self, task_id: int, now: float) -> bool:
        """DELETE /task/{id}: soft-delete; numbers go except those in a live call (marked pending_delete)."""
        async with write_transaction(self._engine) as connection:
            found = await connection.execute(
                update(tasks)
                .where(tasks.c.id == task_id, tasks.c.deleted.is_(False))
                .values(deleted=True, crm_id=deleted_crm_id(task_id), updated_at=now)
            )
            if found.rowcount == 0:
                return False
            await _drop_numbers(connection, task_id, older_than=None)
            return True

    async def add_numbers(self, task_id: int, numbers: Sequence[NumberRow], now: float, chunk: int = 5000) -> int:
        """Add numbers to a live task, or update those it has (new params and timeCallAllow, state and result
        kept); the task's other numbers stay. A task the dialer closed reopens. 0 if the task is gone."""
        async with write_transaction(self._engine) as connection:
            found = await connection.execute(select(tasks).where(tasks.c.id == task_id, tasks.c.deleted.is_(False)))
            row = found.mappings().first()
            if row is None:
                return 0
            chunks = (NumberColumns.of(numbers[i : i + chunk]) for i in range(0, len(numbers), chunk))
            await self._write_numbers(connection, task_id, chunks, len(numbers), now, existed=False)
            if reopens(task_record(row), {}):
                await _reopen_if_open_numbers(connection, row, now)
            return len(numbers)

    async def task(self, task_id: int) -> TaskRecord | None:
        """The task, unless it does not exist or was deleted."""
        async with self._engine.connect() as connection:
            query = select(*TASK_COLUMNS).where(tasks.c.id == task_id, tasks.c.deleted.is_(False))
            row = (await connection.execute(query)).mappings().first()
        return None if row is None else task_record(row)

    def number_pages(self, task_id: int, page_size: int) -> AsyncIterator[Sequence[TaskResultRow]]:
        """The task's numbers (numbers being removed left out) in id order, a page at a time."""
        condition = and_(task_numbers.c.task_id == task_id, task_numbers.c.pending_delete.is_(False))
        return self._pages(NUMBER_WIRE_COLUMNS, task_numbers.c.id, condition, page_size, TaskResultRow._make)

    def answer_pages(self, task_id: int, page_size: int) -> AsyncIterator[Sequence[PollAnswerRow]]:
        """The task's poll answers in id order, a page at a time."""
        condition = poll_answers.c.task_id == task_id
        return self._pages(ANSWER_WIRE_COLUMNS, poll_answers.c.id, condition, page_size, PollAnswerRow._make)

    async def _pages(
        self,
        columns: Sequence[ColumnElement[Any]],
        key: ColumnElement[Any],
        condition: ColumnElement[bool],
        page_size: int,
        record: Callable[[Iterable[Any]], _Record],
    ) -> AsyncIterator[Sequence[_Record]]:
        """Keyset pages (``key > last ORDER BY key LIMIT page_size``), each read on a connection of its own that is
        returned before the page is handed over: a slow reader holds no connection, lock or snapshot. Rows changed
        between pages show as they are when their page is read; none is given twice."""
        last = None
        while True:
            query = select(key, *columns).where(condition).order_by(key).limit(page_size)
            if last is not None:
                query = query.where(key > last)
            async with self._engine.connect() as connection:
                rows = (await connection.execute(query)).all()
            if not rows:
                return
            last = rows[-1][0]
            yield [record(row[1:]) for row in rows]
            if len(rows) < page_size:
                return

    async def list_tasks(self, *, state: int | None, limit: int | None, after_id: int | None) -> Sequence[TaskRecord]:
        """GET /task: ordered by id; ``after_id`` is MikoPBX's keyset ``offset`` (id > offset)."""
        query = select(*TASK_COLUMNS).where(tasks.c.deleted.is_(False)).order_by(tasks.c.id)
        if state is not None:
            query = query.where(tasks.c.state == state)
        if after_id is not None:
            query = query.where(tasks.c.id > after_id)
        if limit is not None:
            query = query.limit(limit)
        async with self._engine.connect() as connection:
            return [task_record(row) for row in (await connection.execute(query)).mappings()]

    async def _find(self, connection: AsyncConnection, task_id: int | None, crm_id: str) -> RowMapping | None:
        if crm_id:
            condition = tasks.c.crm_id == crm_id
        elif task_id is not None:
            condition = tasks.c.id == task_id
        else:
            return None
        return (await connection.execute(select(tasks).where(condition))).mappings().first()

    async def _update(
        self, connection: AsyncConnection, task_id: int, columns: Mapping[str, Any], now: float
    ) -> RowMapping:
        values = dict(columns)
        if "state" in values:  # the CRM decides the state from now on, whatever the dialer did before
            values["closed_by_dialer"] = False
        await connection.execute(update(tasks).where(tasks.c.id == task_id).values(**values, updated_at=now))
        return (await connection.execute(select(tasks).where(tasks.c.id == task_id))).mappings().one()

    async def _create(
        self, connection: AsyncConnection, task_id: int | None, crm_id: str, columns: Mapping[str, Any], now: float
    ) -> RowMapping:
        values: dict[str, Any] = {
            **{k: v for k, v in columns.items() if v is not None},
            "crm_id": crm_id or f"\x1fnew:{uuid.uuid4().hex}",
            "created_at": now,
            "updated_at": now,
        }
        if task_id is not None:
            values["id"] = task_id
        new_id = (await connection.execute(insert(tasks).values(**values).returning(tasks.c.id))).scalar_one()
        if task_id is not None and connection.dialect.name == "postgresql":
            # An explicit id does not advance the identity sequence; keep it ahead of every id in use.
            await connection.execute(
                text("SELECT setval(pg_get_serial_sequence('tasks', 'id'), (SELECT MAX(id) FROM tasks))")
            )
        if not crm_id:
            taken = await connection.execute(select(tasks.c.id).where(tasks.c.crm_id == str(new_id)))
            if taken.first() is not None:
                raise TaskConflict("crmId", f"the new task's id {new_id} is another task's crmId; send a crmId")
            await connection.execute(update(tasks).where(tasks.c.id == new_id).values(crm_id=str(new_id)))
        return (await connection.execute(select(tasks).where(tasks.c.id == new_id))).mappings().one()

    async def _write_numbers(
        self,
        connection: AsyncConnection,
        task_id: int,
        chunks: Iterable[NumberColumns],
        count: int,
        now: float,
        existed: bool,
    ) -> None:
        first = await feed_clock.allocate(connection, feed_clock.RESULTS, count, now, self._step) if count else None
        postgres = connection.dialect.name == "postgresql"
        for chunk in chunks:
            if first is None:
                continue
            rows = merge_duplicates(chunk)
            step = self._step
            times = [first + position * step for position in rows.positions]
            columns = (rows.phone_ids, rows.phones, rows.digits, rows.params_json, rows.params_php, times)
            if postgres:  # one statement per chunk: arrays unnested server-side
                await connection.exec_driver_sql(_PG_UPSERT, (task_id, *columns, rows.time_call_allow))
            else:
                params = list(zip(repeat(task_id), *columns, rows.time_call_allow))
                await connection.exec_driver_sql(_SQLITE_UPSERT, params)
        if existed:
            await _drop_numbers(connection, task_id, older_than=first)


async def _drop_numbers(connection: AsyncConnection, task_id: int, older_than: int | None) -> None:
    """Delete the task's numbers (those with a change time below ``older_than``), sparing live calls."""
    condition = task_numbers.c.task_id == task_id
    if older_than is not None:
        condition = and_(condition, task_numbers.c.change_time_us < older_than)
    await connection.execute(task_numbers.delete().where(condition, task_numbers.c.active_attempt_id.is_(None)))
    await connection.execute(update(task_numbers).where(condition).values(pending_delete=True))


async def _check_id_free(connection: AsyncConnection, task_id: int, crm_id: str) -> None:
    """A new task for ``crm_id`` may take the body's ``id`` only if no task (live or deleted) holds it already."""
    taken = (await connection.execute(select(tasks.c.deleted).where(tasks.c.id == task_id))).first()
    if taken is None:
        return
    if taken.deleted:
        raise refuse_deleted(task_id)
    raise refuse_taken_id(task_id, crm_id)


async def _reopen_if_open_numbers(connection: AsyncConnection, row: RowMapping, now: float) -> RowMapping:
    open_number = exists().where(
        task_numbers.c.task_id == row["id"], task_numbers.c.result == "", task_numbers.c.pending_delete.is_(False)
    )
    reopened = await connection.execute(
        update(tasks)
        .where(tasks.c.id == row["id"], open_number)
        .values(state=0, closed_by_dialer=False, updated_at=now)
    )
    if not reopened.rowcount:
        return row
    return (await connection.execute(select(tasks).where(tasks.c.id == row["id"]))).mappings().one()


async def _check_poll(connection: AsyncConnection, task: TaskRecord) -> None:
    """The domain's "a polling task names an existing poll", looked up in this transaction."""
    poll_id = poll_reference(task)
    if poll_id is None:
        return
    if (await connection.execute(select(polls.c.id).where(polls.c.id == poll_id))).first() is None:
        raise missing_poll(task)


def task_record(row: RowMapping) -> TaskRecord:
    return TaskRecord(
        id=int(row["id"]),
        crm_id=str(row["crm_id"]),
        name=row["name"],
        inner_num=row["inner_num"],
        inner_num_type=row["inner_num_type"],
        max_count_channels=row["max_count_channels"],
        state=int(row["state"]),
        dial_prefix=row["dial_prefix"],
        closed_by_dialer=bool(row["closed_by_dialer"]),
    )
