"""Tasks and their numbers (MikoPBX m_Tasks / m_TaskResults) as the REST API writes and reads them.

Every public method is one transaction. The writes (POST, PUT, soft DELETE, v2's added numbers) are
services.task_writes' rules (ConnectorDB's, minus its bugs) run on :class:`_SqlWriteUnit`, which only stores and
finds in that transaction; the store itself adds what only SQL needs: a create that loses a race for its crm_id
runs again (and merges), and an explicit id keeps PostgreSQL's identity sequence ahead.

Numbers arrive validated, in column chunks (:class:`NumberColumns`), and are written with one statement per chunk
(``INSERT … ON CONFLICT (task_id, phone_id) DO UPDATE``), their change times from one ``feed_clock.allocate`` for
the whole list; "not in the posted list" is then simply "change time older than this post's first one", so no set
of a million phone ids is ever held in memory.

That allocation holds the feed clock's lock until commit, and every writer of a change (the dialer's call results
among them) waits for it: for a whole import, ~15–20 s for a million numbers on PostgreSQL. The numbers of a task
created in the same transaction need not: no other transaction can see them before the commit, so on PostgreSQL
their change times are ``feed_clock.reserve``d ahead of the clock without the lock and ``settle``d once the numbers
are written (the lock then held only for the commit; if the clock caught up meanwhile, one UPDATE shifts the task's
numbers onto newly allocated values, all of them being this transaction's). Numbers merged into an existing task
still allocate first: a concurrent change to one of its numbers would otherwise commit a change time that the
merge's own "older than the first" delete then could not tell from a number left out of the list. On SQLite the
transaction holds the database's write lock anyway, so nothing is gained there.

On PostgreSQL the numbers of a task created in the same transaction go in by COPY instead, a chunk at a time: no
other transaction can hold a row of an uncommitted task, so the upsert could only insert, and COPY stores the same
rows in the same order (ids from the same sequence) at a fraction of the cost (1M numbers: 52.8 s of unnested
upserts, 18.6 s of COPY, measured on an empty copy of the table). A number posted twice in two chunks meets the
unique key: that chunk's COPY is rolled back to a savepoint and the chunk upserted as before (the row merged as
before; the sequence values the failed COPY drew are left unused, as ids may have gaps anyway).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any, TypeVar

from psycopg.errors import UniqueViolation
from sqlalchemy import ColumnElement, String, and_, cast, exists, func, insert, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from autodialer.adapters.db import feed_clock
from autodialer.adapters.db.tables import poll_answers, polls, task_numbers, tasks
from autodialer.adapters.db.transactions import write_transaction
from autodialer.adapters.db.writer_loop import WriterLoop
from autodialer.domain.mikopbx_tasks import (
    DELETED_CRM_PREFIX,
    NumberColumns,
    NumberRow,
    PollAnswerRow,
    SavedTask,
    TaskConflict,
    TaskRecord,
    TaskResultRow,
)
from autodialer.services import task_writes
from autodialer.services.task_writes import StoredTask

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
_PG_COPY = f"COPY task_numbers ({_UPSERT_COLUMNS}) FROM STDIN"
_SQLITE_UPSERT = f"INSERT INTO task_numbers ({_UPSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?){_UPSERT_TAIL}"  # noqa: S608
_PG_UPSERT = (
    f"INSERT INTO task_numbers ({_UPSERT_COLUMNS}) SELECT %s, * FROM unnest("  # noqa: S608 - constants only
    "%s::varchar[], %s::varchar[], %s::varchar[], %s::text[]::json[], %s::text[], %s::bigint[], %s::bigint[])"
    f"{_UPSERT_TAIL}"
)


_Record = TypeVar("_Record", TaskResultRow, PollAnswerRow)
_T = TypeVar("_T")


class SqlTaskRepository:
    """``writer`` (SQLite files): the write units of work run on it, off the caller's event loop (writer_loop.py)."""

    def __init__(self, engine: AsyncEngine, *, page_limit: int, writer: WriterLoop | None = None) -> None:
        self._engine = engine
        self._step = feed_clock.step_us(page_limit)
        self._writer = writer if writer is not None and WriterLoop.serves(engine) else None

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

        async def save(unit: _SqlWriteUnit) -> tuple[RowMapping, bool]:
            task, created = await task_writes.save_task(
                unit,
                task_id=task_id,
                crm_id=crm_id,
                columns=columns,
                numbers=numbers,
                number_count=number_count,
                create_only=create_only,
            )
            return unit.rows[task.id], created

        for retry in (False, True):
            try:
                return await self._in_unit(now, save)
            except _CreateRace:
                if retry:
                    raise TaskConflict("crmId", "was created by a concurrent request; retry") from None
        raise AssertionError("unreachable")

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

        async def change(unit: _SqlWriteUnit) -> RowMapping | None:
            task = await task_writes.change_task(unit, task_id=task_id, crm_id=crm_id, columns=columns)
            return None if task is None else unit.rows[task.id]

        return await self._in_unit(now, change)

    async def delete_task(self, task_id: int, now: float) -> bool:
        """DELETE /task/{id}: soft-delete; numbers go except those in a live call (marked pending_delete)."""
        return await self._in_unit(now, lambda unit: task_writes.delete_task(unit, task_id))

    async def add_numbers(self, task_id: int, numbers: Sequence[NumberRow], now: float, chunk: int = 5000) -> int:
        """Add numbers to a live task, or update those it has (new params and timeCallAllow, state and result
        kept); the task's other numbers stay. A task the dialer closed reopens. 0 if the task is gone."""
        chunks = (NumberColumns.of(numbers[i : i + chunk]) for i in range(0, len(numbers), chunk))

        async def add(unit: _SqlWriteUnit) -> int:
            task = await task_writes.add_numbers(unit, task_id, chunks, len(numbers))
            return 0 if task is None else len(numbers)

        return await self._in_unit(now, add)

    async def _in_unit(self, now: float, work: Callable[[_SqlWriteUnit], Awaitable[_T]]) -> _T:
        """``work`` in one write transaction: on the writer loop if there is one, else here."""
        if self._writer is None:
            return await self._unit_on(self._engine, now, work)
        return await self._writer.run(lambda engine: self._unit_on(engine, now, work))

    async def _unit_on(self, engine: AsyncEngine, now: float, work: Callable[[_SqlWriteUnit], Awaitable[_T]]) -> _T:
        async with write_transaction(engine) as connection:
            return await work(_SqlWriteUnit(connection, now, self._step))

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


class _SqlWriteUnit:
    """services.task_writes' unit of work in one transaction: storage only (the rules are task_writes'). Every
    tasks row it reads or writes is kept in ``rows`` (v2 reads its own columns from it)."""

    def __init__(self, connection: AsyncConnection, now: float, step_us: int) -> None:
        self._connection = connection
        self._now = now
        self.step_us = step_us
        self.rows: dict[int, RowMapping] = {}
        self._created: set[int] = set()  # tasks this transaction inserted: no other one can hold their numbers
        self._reserved: set[int] = set()  # of those, the ones whose numbers' change times are reserve()d

    async def _read(self, condition: ColumnElement[bool]) -> RowMapping | None:
        row = (await self._connection.execute(select(tasks).where(condition))).mappings().first()
        if row is not None:
            self.rows[int(row["id"])] = row
        return row

    def _written(self, row: RowMapping | None) -> TaskRecord:
        """The tasks row a write answered (``RETURNING`` every column: no read after the write)."""
        assert row is not None  # written in this transaction
        self.rows[int(row["id"])] = row
        return task_record(row)

    async def find(self, task_id: int | None, crm_id: str) -> StoredTask | None:
        if crm_id:
            row = await self._read(tasks.c.crm_id == crm_id)
        elif task_id is not None:
            row = await self._read(tasks.c.id == task_id)
        else:
            return None
        return None if row is None else StoredTask(task_record(row), bool(row["deleted"]))

    async def id_holder(self, task_id: int) -> StoredTask | None:
        row = await self._read(tasks.c.id == task_id)
        return None if row is None else StoredTask(task_record(row), bool(row["deleted"]))

    async def take_id_as_crm_id(self, task_id: int) -> TaskRecord | None:
        """The check (no other task holds the crm_id) and the write in one statement."""
        crm_id, other = str(task_id), tasks.alias("other")
        statement = (
            update(tasks)
            .where(tasks.c.id == task_id, ~exists().where(other.c.crm_id == crm_id))
            .values(crm_id=crm_id, updated_at=self._now)
            .returning(tasks)
        )
        try:
            row = (await self._connection.execute(statement)).mappings().first()
        except IntegrityError as e:  # taken by a concurrent transaction meanwhile (PostgreSQL)
            raise _CreateRace from e
        return None if row is None else self._written(row)

    async def create(self, task_id: int | None, crm_id: str | None, columns: Mapping[str, Any]) -> TaskRecord:
        values: dict[str, Any] = {
            **columns,
            "crm_id": crm_id or f"\x1fnew:{uuid.uuid4().hex}",
            "created_at": self._now,
            "updated_at": self._now,
        }
        if task_id is not None:
            values["id"] = task_id
        try:
            row = (await self._connection.execute(insert(tasks).values(**values).returning(tasks))).mappings().one()
        except IntegrityError as e:
            raise _CreateRace from e
        new_id = int(row["id"])
        if task_id is not None and self._connection.dialect.name == "postgresql":
            # An explicit id does not advance the identity sequence; keep it ahead of every id in use.
            await self._connection.execute(
                text("SELECT setval(pg_get_serial_sequence('tasks', 'id'), (SELECT MAX(id) FROM tasks))")
            )
        self._created.add(new_id)
        return self._written(row)

    async def update(self, task_id: int, values: Mapping[str, Any]) -> TaskRecord:
        statement = update(tasks).where(tasks.c.id == task_id).values(**values, updated_at=self._now).returning(tasks)
        try:
            row = (await self._connection.execute(statement)).mappings().first()
        except IntegrityError as e:
            if "crm_id" in values:  # a new task taking its id as crmId, taken by a concurrent one meanwhile
                raise _CreateRace from e
            raise
        return self._written(row)

    async def mark_deleted(self, task_id: int, crm_id: str) -> bool:
        found = await self._connection.execute(
            update(tasks)
            .where(tasks.c.id == task_id, tasks.c.deleted.is_(False))
            .values(deleted=True, crm_id=crm_id, updated_at=self._now)
        )
        return bool(found.rowcount)

    async def poll_exists(self, poll_id: int) -> bool:
        return (await self._connection.execute(select(polls.c.id).where(polls.c.id == poll_id))).first() is not None

    async def allocate_change_times(self, task_id: int, count: int) -> int:
        """A new task's numbers on PostgreSQL: reserved ahead of the clock, its lock taken only by
        ``settle_change_times`` (see the module docstring); otherwise allocated, the lock held to commit."""
        if task_id in self._created and self._connection.dialect.name == "postgresql":
            self._reserved.add(task_id)
            return await feed_clock.reserve(self._connection, feed_clock.RESULTS, count, self._now, self.step_us)
        return await feed_clock.allocate(self._connection, feed_clock.RESULTS, count, self._now, self.step_us)

    async def settle_change_times(self, task_id: int, first: int, count: int) -> int:
        if task_id not in self._reserved:
            return first
        self._reserved.discard(task_id)
        settled = await feed_clock.settle(self._connection, feed_clock.RESULTS, first, count, self._now, self.step_us)
        if settled != first:  # the clock caught up with the reservation: every number of the new task is ours
            shifted = task_numbers.c.change_time_us + (settled - first)
            await self._connection.execute(
                update(task_numbers).where(task_numbers.c.task_id == task_id).values(change_time_us=shifted)
            )
        return settled

    async def upsert_numbers(self, task_id: int, rows: NumberColumns, change_times: list[int]) -> None:
        """One statement for the chunk: arrays unnested server-side on PostgreSQL (or a COPY, see the module
        docstring), an executemany on SQLite."""
        columns = (rows.phone_ids, rows.phones, rows.digits, rows.params_json, rows.params_php, change_times)
        if self._connection.dialect.name == "postgresql":
            if task_id in self._created and await self._copied(task_id, rows, change_times):
                return
            await self._connection.exec_driver_sql(_PG_UPSERT, (task_id, *columns, rows.time_call_allow))
        else:
            params = list(zip(repeat(task_id), *columns, rows.time_call_allow))
            await self._connection.exec_driver_sql(_SQLITE_UPSERT, params)

    async def _copied(self, task_id: int, rows: NumberColumns, change_times: list[int]) -> bool:
        """The chunk COPied into the new task's numbers in a savepoint; False (nothing stored) when one of them is
        there already, from an earlier chunk."""
        raw = (await self._connection.get_raw_connection()).driver_connection  # psycopg's AsyncConnection
        assert raw is not None
        records = zip(
            rows.phone_ids,
            rows.phones,
            rows.digits,
            rows.params_json,
            rows.params_php,
            change_times,
            rows.time_call_allow,
            strict=True,
        )
        try:
            async with raw.transaction(), raw.cursor() as cursor, cursor.copy(_PG_COPY) as copy:
                for record in records:
                    await copy.write_row((task_id, *record))
        except UniqueViolation:
            return False
        return True

    async def delete_idle_numbers(self, task_id: int, older_than: int | None) -> None:
        condition = _numbers_of(task_id, older_than)
        await self._connection.execute(
            task_numbers.delete().where(condition, task_numbers.c.active_attempt_id.is_(None))
        )

    async def mark_numbers_pending_delete(self, task_id: int, older_than: int | None) -> None:
        await self._connection.execute(
            update(task_numbers).where(_numbers_of(task_id, older_than)).values(pending_delete=True)
        )

    async def has_open_numbers(self, task_id: int) -> bool:
        open_number = exists().where(
            task_numbers.c.task_id == task_id, task_numbers.c.result == "", task_numbers.c.pending_delete.is_(False)
        )
        return bool((await self._connection.execute(select(open_number))).scalar())


def _numbers_of(task_id: int, older_than: int | None) -> ColumnElement[bool]:
    condition = task_numbers.c.task_id == task_id
    return condition if older_than is None else and_(condition, task_numbers.c.change_time_us < older_than)


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
