"""SqlDialerStore: the dialer engine's storage port (services.dialer_store.DialerStore) on the shared schema.

Every method is one transaction. Rows the engine writes get a new ``change_time_us`` from the results feed clock
(the row's ``change_time`` as the wall time; see feed_clock), so the REST feed delivers each change exactly in
commit order. Poll answers take theirs from the polling-results clock.

How the port maps onto the tables: ``ResultRow`` is the MikoPBX columns of ``task_numbers`` plus ``count_try``,
``requeues`` and ``next_attempt_at``; an ``Attempt`` is an ``attempts`` row (``answered`` ↔ ``answered_at`` set,
``settled`` ↔ ``outcome`` not null, ``m_dial_status`` ↔ ``dial_status``); ``task_numbers.active_attempt_id`` marks
the number in flight. ``start_attempts`` claims each number with one conditional UPDATE (still open, not in a call,
not being deleted, its task open), so an API change racing with the engine cannot make it dial a deleted, closed
or busy number.

Throughput: the engine's statements run for many calls at once. A planning round's claims are one executemany and
one read-back of who holds the numbers; inside a unit of work (``batch``) the rows' new results (``save_row``), the
attempts' progress (``update_attempt``) and the ends of calls are collected and written together, before the next
other statement and at commit (the last write of a row or attempt stands for the ones before it: each writes the
whole state); and the feed clock is read once per unit of work (feed_clock.BatchClock). So the cost per call is a
few rows in set statements, not a statement per change: an event batch of 500 calls' answers and startDials was
~1,000 statements, each a round trip to SQLite's worker thread (issue 11, 1,000 live calls).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, and_, bindparam, case, exists, func, insert, null, or_, select, text, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from autodialer.adapters.db import feed_clock
from autodialer.adapters.db.poll_store import read_poll_rows
from autodialer.adapters.db.tables import (
    NUMBER_DUE_AT,
    NUMBER_IS_OPEN,
    attempts,
    dnc_campaign_numbers,
    dnc_numbers,
    feed_clocks,
    number_of_task,
    poll_answers,
    poll_questions,
    polls,
    task_numbers,
    tasks,
)
from autodialer.adapters.db.transactions import write_transaction
from autodialer.adapters.phone_numbering import PhoneNumbering, dnc_key
from autodialer.domain import call_results
from autodialer.domain.attempt_limits import AttemptLimits, CalleeDayCap, PastAttempt
from autodialer.domain.campaign_schedule import CampaignSchedule
from autodialer.domain.mikopbx_results import ResultCode, ResultRow
from autodialer.domain.pacing_config import pacing_from_json
from autodialer.domain.phone_numbers import phone_id_of
from autodialer.domain.poll_flow import PollDefinition, Press, Question
from autodialer.services.dialer_store import Attempt, DialNumber, DialTask, PollAnswer

_has_open_numbers = exists().where(number_of_task(tasks.c.id), NUMBER_IS_OPEN).correlate(tasks)
_due_at = NUMBER_DUE_AT
# The same value, spelled so that no index matches it: due_numbers must walk the task's open rows in id order
# (ix_task_numbers_open_by_id) and stop at its limit. Given the due-time index, SQLite without ANALYZE statistics takes
# every due row from it and sorts them, O(numbers) at a campaign's start.
_due_at_in_id_order = case(
    (task_numbers.c.time_call_allow + 0 > task_numbers.c.next_attempt_at + 0, task_numbers.c.time_call_allow + 0),
    else_=task_numbers.c.next_attempt_at + 0,
)
_dialable = and_(
    NUMBER_IS_OPEN,
    task_numbers.c.active_attempt_id.is_(None),
    task_numbers.c.pending_delete.is_(False),
)  # listed numbers are refused at the claim, by their E.164 key (start_attempts), and closed then
# Open rows not in a call whose phone_id is on a do-not-call list: phone_id (indexed on every table) finds the
# candidates, the E.164 key decides (+1 952 223 3446 and +7 952 223 3446 share a phone_id).
_LISTED_AND_OPEN = and_(
    task_numbers.c.result == "",
    task_numbers.c.active_attempt_id.is_(None),
    or_(
        exists().where(dnc_numbers.c.phone_id == task_numbers.c.phone_id),
        exists().where(
            dnc_campaign_numbers.c.phone_id == task_numbers.c.phone_id,
            dnc_campaign_numbers.c.task_id == task_numbers.c.task_id,
        ),
    ),
)


_ROW_COLUMNS = (
    "state",
    "result",
    "out_dial_state",
    "in_dial_state",
    "cause",
    "linked_id",
    "verbose_call_id",
    "call_file",
    "close_time",
    "count_try",
    "requeues",
    "next_attempt_at",
)
# Statements the dialer runs for many calls at once (executemany): built once, parameters named p_*, since
# SQLAlchemy reserves a column's own name for its SET value.
_set_row: dict[str, Any] = {name: bindparam(f"p_{name}") for name in (*_ROW_COLUMNS, "change_time_us")}
_held_by_call = and_(
    task_numbers.c.id == bindparam("p_number_id"), task_numbers.c.active_attempt_id == bindparam("p_call_id")
)
# attempts.state of an attempt stored before its Originate went out, about to be written, and once the PBX took it.
_CREATED = "created"
_SENDING = "sending"
_ORIGINATED = "originated"
_TALKING = "talking"  # an employee answered (Attempt.agent_connected)
_CLAIM = (
    update(task_numbers)
    .where(
        task_numbers.c.id == bindparam("p_number_id"),
        task_numbers.c.task_id == bindparam("p_task_id"),
        NUMBER_IS_OPEN,
        task_numbers.c.active_attempt_id.is_(None),
        task_numbers.c.pending_delete.is_(False),
        exists().where(tasks.c.id == task_numbers.c.task_id, tasks.c.state == 0, tasks.c.deleted.is_(False)),
    )
    .values(active_attempt_id=bindparam("p_call_id"))
)
# The same claim, also refused while the number's E.164 key (p_key) is on the global or its campaign's do-not-call
# list: a planning round's claims and their list check are one statement (why one was refused is read only then).
_CLAIM_UNLISTED = _CLAIM.where(
    ~exists().where(dnc_numbers.c.e164 == bindparam("p_key")),
    ~exists().where(
        dnc_campaign_numbers.c.task_id == task_numbers.c.task_id, dnc_campaign_numbers.c.e164 == bindparam("p_key")
    ),
)
_CONFIRM_ROW = update(task_numbers).where(_held_by_call).values(_set_row)
_CONFIRM_ATTEMPT = (
    update(attempts)
    .where(attempts.c.id == bindparam("p_call_id"), or_(attempts.c.state == _CREATED, attempts.c.state == _SENDING))
    .values(state=_ORIGINATED, attempt_no=bindparam("p_attempt_no"))
)
_END_ATTEMPT = (
    update(attempts)
    .where(attempts.c.id == bindparam("p_call_id"), attempts.c.ended_at.is_(None))
    .values(
        outcome=bindparam("p_outcome"),
        dial_status=bindparam("p_dial_status"),
        answered_at=func.coalesce(bindparam("p_answered_at", type_=Float()), attempts.c.answered_at),
        ended_at=bindparam("p_ended_at"),
        state="ended",
    )
)
_RELEASE_WITH_ROW = update(task_numbers).where(_held_by_call).values({**_set_row, "active_attempt_id": None})
_SAVE_ROW = update(task_numbers).where(task_numbers.c.id == bindparam("p_number_id")).values(_set_row)
# An attempt's progress (update_attempt): not after its end. Answered, the answer's time and state are written too.
_in_flight = and_(attempts.c.id == bindparam("p_call_id"), attempts.c.ended_at.is_(None))
_PROGRESS = (
    update(attempts).where(_in_flight).values(dial_status=bindparam("p_dial_status"), outcome=bindparam("p_outcome"))
)
_PROGRESS_ANSWERED = _PROGRESS.values(answered_at=bindparam("p_answered_at"), state=bindparam("p_state"))
_RELEASE = update(task_numbers).where(_held_by_call).values(active_attempt_id=None)


def _row_params(row: ResultRow, change_time_us: int) -> dict[str, Any]:
    params = {f"p_{name}": value for name, value in _row_values(row).items()}
    params["p_change_time_us"] = change_time_us
    return params


def _row_values(row: ResultRow) -> dict[str, Any]:
    return {
        "state": row.state,
        "result": row.result,
        "out_dial_state": row.out_dial_state,
        "in_dial_state": row.in_dial_state,
        "cause": row.cause,
        "linked_id": row.linked_id,
        "verbose_call_id": row.verbose_call_id,
        "call_file": row.call_file,
        "close_time": row.close_time,
        "count_try": row.count_try,
        "requeues": row.requeues,
        "next_attempt_at": row.next_attempt_at,
    }


def _task(row: RowMapping) -> DialTask:
    return DialTask(
        task_id=row["id"],
        state=row["state"],
        inner_num=row["inner_num"],
        inner_num_type=row["inner_num_type"],
        max_channels=row["max_count_channels"],
        dial_prefix=row["dial_prefix"],
        has_open_numbers=bool(row["has_open_numbers"]),
        retry_overrides=_json(row["retry_policy"]),
        schedule=schedule_of(row),
        limits=limits_of(row),
        pacing=pacing_from_json(_json(row["pacing"])),
    )


def schedule_of(row: RowMapping) -> CampaignSchedule:
    """A tasks row's schedule columns (0011), as stored (checked when they were written)."""
    return CampaignSchedule(
        hours=row["call_hours"],
        excluded_dates=row["excluded_dates"] or "",
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        default_zone=row["default_zone"],
    )


def limits_of(row: RowMapping) -> AttemptLimits:
    stored = _json(row["attempt_limits"])
    if not isinstance(stored, dict):
        return AttemptLimits()
    return AttemptLimits(
        max_per_day=stored.get("max_per_day"),
        max_total=stored.get("max_total"),
        min_gap_s=stored.get("min_gap_s"),
        max_per_day_all_campaigns=stored.get("max_per_day_all_campaigns"),
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _number(row: RowMapping) -> DialNumber:
    params = _json(row["params_json"])
    return DialNumber(
        number_id=row["id"],
        task_id=row["task_id"],
        phone=row["phone"],
        phone_id=row["phone_id"],
        dial_digits=row["dial_digits"],
        time_call_allow=row["time_call_allow"],
        row=ResultRow(
            state=row["state"],
            result=row["result"],
            out_dial_state=row["out_dial_state"],
            in_dial_state=row["in_dial_state"],
            cause=row["cause"],
            linked_id=row["linked_id"],
            verbose_call_id=row["verbose_call_id"],
            call_file=row["call_file"],
            change_time=row["change_time_us"] / 1_000_000,
            close_time=row["close_time"],
            count_try=row["count_try"] or 0,
            requeues=row["requeues"],
            next_attempt_at=row["next_attempt_at"],
        ),
        params={str(k): "" if v is None else str(v) for k, v in params.items()} if isinstance(params, dict) else {},
    )


def _attempt(row: RowMapping) -> Attempt:
    return Attempt(
        call_id=row["id"],
        task_id=row["task_id"],
        number_id=row["number_id"],
        phone=row["phone"],
        inner_num=row["inner_num"],
        mode=row["mode"],
        agent=row["agent"],
        created_at=row["created_at"],
        answered=row["answered_at"] is not None,
        m_dial_status=row["dial_status"],
        settled=row["outcome"] is not None,
        outcome=row["outcome"] or None,
        written=row["state"] != _CREATED,
        confirmed=row["state"] not in (_CREATED, _SENDING),
        agent_connected=row["state"] == _TALKING,
    )


@dataclass(slots=True)
class _Batch:
    connection: AsyncConnection
    clock: feed_clock.BatchClock
    ended: list[dict[str, Any]] = field(default_factory=list)  # finish_attempt calls not yet written
    # save_row and update_attempt calls not yet written: the last per number and per call (each writes it whole)
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    progress: dict[str, dict[str, Any]] = field(default_factory=dict)
    ended_keys: set[int | str] = field(default_factory=set)  # numbers and calls of ``ended``


class SqlDialerStore:
    def __init__(self, engine: AsyncEngine, *, page_limit: int, numbering: PhoneNumbering | None = None) -> None:
        self._numbering = numbering or PhoneNumbering("RU")  # do-not-call keys (AUTODIALER_DEFAULT_REGION)
        self._batch: ContextVar[_Batch | None] = ContextVar(f"dialer-store-batch-{id(self)}", default=None)
        self._engine = engine
        self._step = feed_clock.step_us(page_limit)
        self._dnc_checked_from: int | None = None  # close_written_do_not_call: rows from this change time on

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """One write transaction for every store call made inside (in this task): committed at the end, rolled
        back whole on an error. Nested use joins the open one. Its change times come from one clock read."""
        if self._batch.get() is not None:
            yield
            return
        async with write_transaction(self._engine) as connection:
            batch = _Batch(connection, feed_clock.BatchClock(self._step))
            token = self._batch.set(batch)
            try:
                yield
                await self._write_pending(batch)
                await batch.clock.flush(connection)
            finally:
                self._batch.reset(token)

    async def _allocate(self, connection: AsyncConnection, feed: str, count: int, now: float) -> int:
        batch = self._batch.get()
        if batch is not None:
            return await batch.clock.allocate(connection, feed, count, now)
        return await feed_clock.allocate(connection, feed, count, now, self._step)

    def _write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._joined(lambda: write_transaction(self._engine))

    def _read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._joined(self._engine.connect)  # inside a batch: read its own uncommitted writes

    @asynccontextmanager
    async def _joined(
        self, open_new: Callable[[], AbstractAsyncContextManager[AsyncConnection]]
    ) -> AsyncIterator[AsyncConnection]:
        """The open batch's connection if this task has one, else a connection of its own."""
        current = self._batch.get()
        if current is not None:
            await self._write_pending(current)  # whatever comes next sees the changes made before it
            yield current.connection
            return
        async with open_new() as connection:
            yield connection

    async def open_tasks(self) -> Sequence[DialTask]:
        query = self._tasks_query().where(tasks.c.state == 0).order_by(tasks.c.id)
        async with self._read() as connection:
            return [_task(r) for r in (await connection.execute(query)).mappings()]

    async def get_task(self, task_id: int) -> DialTask | None:
        async with self._read() as connection:
            row = (await connection.execute(self._tasks_query().where(tasks.c.id == task_id))).mappings().first()
        return None if row is None else _task(row)

    async def due_numbers(self, task_id: int, now: float, limit: int) -> Sequence[DialNumber]:
        query = (
            select(task_numbers)
            .where(number_of_task(task_id), _dialable, _due_at_in_id_order <= now)
            .order_by(task_numbers.c.id)
            .limit(max(0, limit))
        )
        async with self._read() as connection:
            return [_number(r) for r in (await connection.execute(query)).mappings()]

    async def next_due_at(self, now: float) -> float | None:
        # Per open task, the first entry past ``now`` of its due-time index (O(tasks x log numbers)).
        first_of_task = (
            select(_due_at)
            .where(task_numbers.c.task_id == tasks.c.id, _dialable, _due_at > now)
            .order_by(_due_at)
            .limit(1)
            .correlate(tasks)
            .scalar_subquery()
        )
        query = select(func.min(first_of_task)).where(tasks.c.state == 0, tasks.c.deleted.is_(False))
        async with self._read() as connection:
            value = (await connection.execute(query)).scalar_one_or_none()
        return None if value is None else float(value)

    async def get_number(self, number_id: int) -> DialNumber | None:
        async with self._read() as connection:
            row = (await connection.execute(select(task_numbers).where(task_numbers.c.id == number_id))).mappings()
            found = row.first()
        return None if found is None else _number(found)

    async def close_task(self, task_id: int, now: float) -> None:
        async with self._write() as connection:
            await connection.execute(
                update(tasks)
                .where(
                    tasks.c.id == task_id,
                    tasks.c.state == 0,
                    tasks.c.deleted.is_(False),
                    ~exists().where(number_of_task(task_id), NUMBER_IS_OPEN),
                )
                .values(state=1, closed_by_dialer=True, updated_at=now)
            )

    async def start_attempts(
        self, claimed: Sequence[Attempt], caps: Mapping[str, CalleeDayCap] | None = None
    ) -> frozenset[str]:
        if not claimed:
            return frozenset()
        caps = {a.call_id: caps[a.call_id] for a in claimed if a.call_id in caps} if caps else {}
        async with self._write() as connection:
            if caps and connection.dialect.name == "postgresql":
                # Claims toward a capped callee are serialised across instances (SQLite's BEGIN IMMEDIATE already
                # serialises every writer): the count below then sees every call stored before this one. Taken first
                # and in one order, so two rounds never wait on each other's rows or locks the other way round.
                for callee in sorted({cap.callee for cap in caps.values()}):
                    await connection.execute(
                        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"callee:{callee}"}
                    )
            # Do-not-call (the global list and the campaign's) is checked here, as the call is about to start: a
            # number listed since it was read as due is refused and given its final result, in the transaction that
            # would have claimed it. With caps the lists are read first (a listed number must not count toward its
            # callee's cap); without, the claim itself checks them, and they are read only for claims it refused.
            if caps:
                claimed = await self._unlisted(connection, claimed)
                claimed = await self._within_caps(connection, claimed, caps) if claimed else claimed
                if not claimed:
                    return frozenset()
            params = [
                {"p_number_id": a.number_id, "p_task_id": a.task_id, "p_call_id": a.call_id, "p_key": self._key(a)}
                for a in claimed
            ]
            result = await connection.execute(_CLAIM if caps else _CLAIM_UNLISTED, params)
            started = list(claimed)
            if result.rowcount != len(claimed):  # some were refused: which? (both drivers sum executemany counts)
                wanted = [a.number_id for a in claimed]
                held = select(task_numbers.c.active_attempt_id).where(task_numbers.c.id.in_(wanted))
                now_held = set((await connection.execute(held)).scalars())
                started = [a for a in claimed if a.call_id in now_held]
                if not caps:
                    await self._unlisted(connection, [a for a in claimed if a.call_id not in now_held])
            if not started:
                return frozenset()
            await connection.execute(
                insert(attempts),
                [
                    {
                        "id": a.call_id,
                        "task_id": a.task_id,
                        "number_id": a.number_id,
                        "phone": a.phone,
                        "callee": self._key(a),
                        "attempt_no": 0,  # set when the PBX took the Originate (confirm_attempts)
                        "mode": a.mode,
                        "inner_num": a.inner_num,
                        "agent": a.agent,
                        "state": _ORIGINATED if a.confirmed else _SENDING if a.written else _CREATED,
                        "created_at": a.created_at,
                        "dial_status": a.m_dial_status,
                        "outcome": (a.outcome or "") if a.settled else None,
                        "answered_at": a.created_at if a.answered else None,
                    }
                    for a in started
                ],
            )
            return frozenset(a.call_id for a in started)

    def _key(self, attempt: Attempt) -> str:
        return dnc_key(self._numbering, attempt.phone)

    async def _unlisted(self, connection: AsyncConnection, claimed: Sequence[Attempt]) -> list[Attempt]:
        """The claims whose numbers are on no do-not-call list; the listed ones are given their final result."""
        listed = await self._listed(connection, [(a.task_id, a.phone) for a in claimed])
        if listed:
            refused = [a.number_id for a in claimed if (a.task_id, a.phone) in listed]
            await self._close_listed(connection, refused, claimed[0].created_at)
        return [a for a in claimed if (a.task_id, a.phone) not in listed]

    async def _within_caps(
        self, connection: AsyncConnection, claimed: Sequence[Attempt], caps: Mapping[str, CalleeDayCap]
    ) -> list[Attempt]:
        """The claims their cap across campaigns still allows, counting every call stored toward the callee (other
        campaigns', other instances', even unsent ones still in flight: they may go out) and the round's own before
        each. The rule is the domain's (``CalleeDayCap.allows``); SQL only reads the start times."""
        callees = sorted({cap.callee for cap in caps.values()})
        since = min(cap.since for cap in caps.values())
        started: dict[str, list[float]] = {}
        for k in range(0, len(callees), 500):
            query = select(attempts.c.callee, attempts.c.created_at).where(
                attempts.c.callee.in_(callees[k : k + 500]),
                attempts.c.created_at >= since,
                or_(attempts.c.state != _CREATED, attempts.c.ended_at.is_(None)),
            )
            for callee, created_at in (await connection.execute(query)).all():
                started.setdefault(callee, []).append(float(created_at))
        allowed: list[Attempt] = []
        for attempt in claimed:
            cap = caps.get(attempt.call_id)
            callee = cap.callee if cap is not None else dnc_key(self._numbering, attempt.phone)
            if cap is not None and not cap.allows(started.get(callee, [])):
                continue  # it waits, uncharged: the next round defers it to when the cap lets go
            started.setdefault(callee, []).append(attempt.created_at)
            allowed.append(attempt)
        return allowed

    async def mark_written(self, call_ids: Sequence[str]) -> None:
        if not call_ids:
            return
        statement = (
            update(attempts)
            .where(attempts.c.id.in_(list(call_ids)), attempts.c.state == _CREATED)
            .values(state=_SENDING)
        )
        if self._batch.get() is None and self._engine.dialect.name == "postgresql":
            # One statement is a transaction of its own, as durable once it returns: one round trip in every
            # planning round instead of three (BEGIN, UPDATE, COMMIT).
            async with self._engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(statement)
            return
        async with self._write() as connection:
            await connection.execute(statement)

    async def confirm_attempts(self, confirmed: Sequence[tuple[Attempt, ResultRow]]) -> None:
        if not confirmed:
            return
        async with self._write() as connection:
            first = await self._allocate(connection, feed_clock.RESULTS, len(confirmed), confirmed[0][1].change_time)
            params = [
                {
                    **_row_params(row, first + k * self._step),
                    "p_number_id": attempt.number_id,
                    "p_call_id": attempt.call_id,
                    "p_attempt_no": row.count_try,
                }
                for k, (attempt, row) in enumerate(confirmed)
            ]
            await connection.execute(_CONFIRM_ROW, params)
            await connection.execute(_CONFIRM_ATTEMPT, params)

    async def release_attempts(self, unsent: Sequence[Attempt]) -> None:
        if not unsent:
            return
        async with self._write() as connection:
            ids = [a.call_id for a in unsent]
            await connection.execute(attempts.delete().where(attempts.c.id.in_(ids), attempts.c.ended_at.is_(None)))
            await connection.execute(_RELEASE, [{"p_number_id": a.number_id, "p_call_id": a.call_id} for a in unsent])
            await connection.execute(
                task_numbers.delete().where(
                    task_numbers.c.id.in_([a.number_id for a in unsent]),
                    task_numbers.c.pending_delete.is_(True),
                    task_numbers.c.active_attempt_id.is_(None),
                )
            )

    async def save_row(self, number_id: int, row: ResultRow) -> None:
        # A row deleted meanwhile updates nothing; its change time is then simply unused (they need only be unique and
        # increasing, not dense). In a unit of work the write is collected (_write_pending); outside one, it is a
        # unit of work of its own.
        async with self.batch():
            batch = self._batch.get()
            assert batch is not None
            if number_id in batch.ended_keys:
                await self._write_pending(batch)  # after the end of a call on this number: written in that order
            at = await batch.clock.allocate(batch.connection, feed_clock.RESULTS, 1, row.change_time)
            batch.rows[number_id] = {"p_number_id": number_id, **_row_params(row, at)}

    async def update_attempt(self, attempt: Attempt) -> None:
        async with self.batch():
            batch = self._batch.get()
            assert batch is not None
            if attempt.call_id in batch.ended_keys:
                await self._write_pending(batch)  # after its end: written in that order (and then changes nothing)
            batch.progress[attempt.call_id] = self._progress(attempt)

    async def finish_attempt(self, attempt: Attempt, now: float, row: ResultRow | None = None) -> None:
        # In a unit of work the ends are collected and written together, before the next other statement or at
        # commit; outside one, this end is a unit of work of its own.
        async with self.batch():
            batch = self._batch.get()
            assert batch is not None
            await self._end(batch, attempt, now, row)

    async def _write_pending(self, batch: _Batch) -> None:
        """Write what the unit of work collected: the rows' and attempts' changes, then the ends of calls (a change
        recorded after an end of the same number or call wrote the collection first, so each number and call keeps
        its order)."""
        rows, batch.rows = batch.rows, {}
        progress, batch.progress = batch.progress, {}
        connection = batch.connection
        if rows:
            await connection.execute(_SAVE_ROW, list(rows.values()))
        answered = [p for p in progress.values() if "p_state" in p]
        if answered:
            await connection.execute(_PROGRESS_ANSWERED, answered)
        if len(answered) < len(progress):
            await connection.execute(_PROGRESS, [p for p in progress.values() if "p_state" not in p])
        await self._write_ended(batch)

    async def _end(self, batch: _Batch, attempt: Attempt, now: float, row: ResultRow | None) -> None:
        params: dict[str, Any] = {
            "p_call_id": attempt.call_id,
            "p_number_id": attempt.number_id,
            "p_outcome": (attempt.outcome or "") if attempt.settled else None,
            "p_dial_status": attempt.m_dial_status,
            "p_answered_at": attempt.created_at if attempt.answered else None,
            "p_ended_at": now,
        }
        if row is not None:
            at = await batch.clock.allocate(batch.connection, feed_clock.RESULTS, 1, row.change_time)
            params.update(_row_params(row, at))
        batch.ended.append(params)
        batch.ended_keys.update((attempt.number_id, attempt.call_id))

    @staticmethod
    async def _write_ended(batch: _Batch) -> None:
        """Write the collected attempt ends: a few statements for any number of calls. The row and the release
        apply only while the number is still held by that call, so an attempt that had already finished (a late
        duplicate) changes nothing; a number the API removed during its call is deleted now."""
        ended, batch.ended = batch.ended, []
        batch.ended_keys.clear()
        if not ended:
            return
        connection = batch.connection
        await connection.execute(_END_ATTEMPT, ended)
        with_row = [params for params in ended if "p_change_time_us" in params]
        if with_row:
            await connection.execute(_RELEASE_WITH_ROW, with_row)
        if len(with_row) < len(ended):
            await connection.execute(_RELEASE, [params for params in ended if "p_change_time_us" not in params])
        await connection.execute(
            task_numbers.delete().where(
                task_numbers.c.id.in_([params["p_number_id"] for params in ended]),
                task_numbers.c.pending_delete.is_(True),
                task_numbers.c.active_attempt_id.is_(None),
            )
        )

    async def attempts_in_flight(self) -> Sequence[Attempt]:
        query = select(attempts).where(attempts.c.ended_at.is_(None)).order_by(attempts.c.created_at)
        async with self._read() as connection:
            return [_attempt(r) for r in (await connection.execute(query)).mappings()]

    async def ended_calls(self, call_ids: Sequence[str]) -> frozenset[str]:
        """Of ``call_ids``, those whose attempt has ended (services/stale_marks.py); by primary key."""
        if not call_ids:
            return frozenset()
        query = select(attempts.c.id).where(attempts.c.id.in_(list(call_ids)), attempts.c.ended_at.is_not(None))
        async with self._read() as connection:
            return frozenset((await connection.execute(query)).scalars())

    async def get_poll(self, poll_id: int) -> PollDefinition | None:
        async with self._read() as connection:
            rows = await read_poll_rows(connection, poll_id)
        if rows is None:
            return None
        poll = rows.poll
        return PollDefinition(
            poll_id=poll_id,
            questions=tuple(_question(q, actions) for q, actions in rows.questions),
            digit_timeout_s=poll["digit_timeout_s"],
            max_repeats=poll["max_repeats"],
            max_duration_s=poll["max_duration_s"],
            version=poll["version"],
        )

    async def add_poll_answer(self, answer: PollAnswer) -> None:
        async with self._write() as connection:
            # The question row of the version the call ran: a re-POST during the call must not relabel its answers.
            version = (
                select(polls.c.version).where(polls.c.id == answer.polling_id).scalar_subquery()
                if answer.poll_version is None
                else answer.poll_version
            )
            question_id = (
                await connection.execute(
                    select(poll_questions.c.id).where(
                        poll_questions.c.poll_id == answer.polling_id,
                        poll_questions.c.version == version,
                        poll_questions.c.crm_id == answer.question_crm_id,
                    )
                )
            ).scalar_one_or_none()
            at = await self._allocate(connection, feed_clock.POLLING_RESULTS, 1, answer.change_time)
            await connection.execute(
                insert(poll_answers).values(
                    task_id=answer.task_id,
                    question_crm_id=answer.question_crm_id,
                    polling_id=answer.polling_id,
                    question_id=question_id,
                    question_text=answer.question_text,
                    phone_id=answer.phone_id,
                    phone=answer.phone,
                    result=answer.result,
                    exten=answer.exten,
                    attempt_id=answer.call_id,
                    change_time_us=at,
                )
            )

    async def close_do_not_call(self, now: float, phone: str | None = None) -> int:
        condition = _LISTED_AND_OPEN
        if phone is not None:
            condition = and_(condition, task_numbers.c.phone_id == phone_id_of(phone))
        async with self._write() as connection:
            query = select(task_numbers.c.id, task_numbers.c.task_id, task_numbers.c.phone).where(condition)
            return await self._close_candidates(connection, query.order_by(task_numbers.c.id), now)

    async def close_written_do_not_call(self, now: float) -> int:
        """close_do_not_call for the rows written since this store's previous call (every row at the first): read
        along the results feed's (change_time_us, id) index from the feed clock's value then. Change times are
        allocated in commit order, so a row committed later has a larger one; the value is read before the rows."""
        async with self._write() as connection:
            clock = select(feed_clocks.c.last_us).where(feed_clocks.c.feed == feed_clock.RESULTS)
            last = (await connection.execute(clock)).scalar_one_or_none()
            query = select(task_numbers.c.id, task_numbers.c.task_id, task_numbers.c.phone).where(_LISTED_AND_OPEN)
            if self._dnc_checked_from is not None:
                # no ORDER BY id: SQLite would walk every row in id order rather than sort what the index finds
                query = query.where(task_numbers.c.change_time_us >= self._dnc_checked_from)
            closed = await self._close_candidates(connection, query, now)
        self._dnc_checked_from = None if last is None else int(last) + 1
        return closed

    async def _close_candidates(self, connection: AsyncConnection, query: Any, now: float) -> int:
        """Close the rows ``query`` finds (id, task_id, phone) that are on a do-not-call list by their E.164 key."""
        candidates = (await connection.execute(query)).all()
        listed = await self._listed(connection, [(row.task_id, row.phone) for row in candidates])
        ids = sorted(row.id for row in candidates if (row.task_id, row.phone) in listed)
        await self._close_listed(connection, ids, now)
        return len(ids)

    async def _listed(self, connection: AsyncConnection, numbers: Sequence[tuple[int, str]]) -> set[tuple[int, str]]:
        """Which of ``numbers`` ((task id, phone as stored)) are on the global do-not-call list or on their
        campaign's, by their E.164 key."""
        if not numbers:
            return set()
        keys: dict[str, list[tuple[int, str]]] = {}
        for task_id, phone in numbers:
            keys.setdefault(dnc_key(self._numbering, phone), []).append((task_id, phone))
        task_ids = sorted({task_id for task_id, _ in numbers})
        found: set[tuple[int, str]] = set()
        chunk = list(keys)
        for k in range(0, len(chunk), 500):
            part = chunk[k : k + 500]
            # Both lists in one statement (one round trip in a planning round's claim): task id NULL = global.
            anywhere = select(null().label("task_id"), dnc_numbers.c.e164).where(dnc_numbers.c.e164.in_(part))
            own = select(dnc_campaign_numbers.c.task_id, dnc_campaign_numbers.c.e164).where(
                dnc_campaign_numbers.c.e164.in_(part), dnc_campaign_numbers.c.task_id.in_(task_ids)
            )
            for task_id, key in (await connection.execute(union_all(anywhere, own))).all():
                found.update(pair for pair in keys[key] if task_id is None or pair[0] == task_id)
        return found

    async def _close_listed(self, connection: AsyncConnection, ids: Sequence[int], now: float) -> None:
        """Final result FAIL, state doNotCall, for open rows ``ids`` (MikoPBX's answer for a listed number)."""
        if not ids:
            return
        first = await self._allocate(connection, feed_clock.RESULTS, len(ids), now)
        statement = (
            update(task_numbers)
            .where(
                task_numbers.c.id == bindparam("row_id"),
                task_numbers.c.result == "",
                task_numbers.c.active_attempt_id.is_(None),
            )
            .values(
                result=ResultCode.FAIL.value,
                state=call_results.DO_NOT_CALL_STATE,
                cause=call_results.DO_NOT_CALL_CAUSE,
                close_time=int(now),
                change_time_us=bindparam("at"),
            )
        )
        await connection.execute(
            statement, [{"row_id": row_id, "at": first + k * self._step} for k, row_id in enumerate(ids)]
        )

    async def add_dnc(self, phone: str, source: str, now: float) -> None:
        values = {
            "e164": dnc_key(self._numbering, phone),
            "phone_id": phone_id_of(phone),
            "phone": phone[:64],
            "source": source[:64],
            "created_at": now,
        }
        async with self._write() as connection:
            dialect_insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
            await connection.execute(dialect_insert(dnc_numbers).values(**values).on_conflict_do_nothing())

    async def callee_attempts(self, task_id: int, callees: Sequence[str], since: float) -> dict[str, list[PastAttempt]]:
        """Attempts toward ``callees`` (by ``attempts.callee``, index (callee, created_at)): the task's own at any
        time, and every campaign's since ``since``. Attempts never sent (state created) reached nobody."""
        found: dict[str, list[PastAttempt]] = {}
        if not callees:
            return found
        async with self._read() as connection:
            for k in range(0, len(callees), 500):
                query = select(attempts.c.callee, attempts.c.task_id, attempts.c.created_at, attempts.c.ended_at).where(
                    attempts.c.callee.in_(list(callees[k : k + 500])),
                    or_(attempts.c.task_id == task_id, attempts.c.created_at >= since),
                    attempts.c.state != _CREATED,
                )
                for callee, attempt_task, started, ended in (await connection.execute(query)).all():
                    found.setdefault(callee, []).append(PastAttempt(int(attempt_task), float(started), ended))
        return found

    async def defer_numbers(self, waits: Sequence[tuple[int, float]]) -> None:
        """Outside the call window: not due before the window opens (next_attempt_at), no attempt used, nothing the
        CRM sees changed (so no change time)."""
        if not waits:
            return
        statement = (
            update(task_numbers)
            .where(task_numbers.c.id == bindparam("p_id"), NUMBER_IS_OPEN, task_numbers.c.active_attempt_id.is_(None))
            .values(next_attempt_at=bindparam("p_until"))
        )
        async with self._write() as connection:
            await connection.execute(statement, [{"p_id": number_id, "p_until": until} for number_id, until in waits])

    @staticmethod
    def _tasks_query() -> Any:
        return select(tasks, _has_open_numbers.label("has_open_numbers")).where(tasks.c.deleted.is_(False))

    @staticmethod
    def _progress(attempt: Attempt) -> dict[str, Any]:
        """The parameters of _PROGRESS, or of _PROGRESS_ANSWERED once the customer answered."""
        values: dict[str, Any] = {
            "p_call_id": attempt.call_id,
            "p_dial_status": attempt.m_dial_status,
            "p_outcome": (attempt.outcome or "") if attempt.settled else None,
        }
        if attempt.answered:
            values["p_answered_at"] = attempt.created_at
            values["p_state"] = _TALKING if attempt.agent_connected else "answered"
        return values


def _question(question: RowMapping, actions: Sequence[RowMapping]) -> Question:
    return Question(
        question_id=question["crm_id"],
        text=question["question_text"] or "",
        file=question["question_file"] or None,
        lang=question["lang"],
        press=tuple(
            Press(
                key=a["key"],
                action=a["action"],
                value=a["value"] or "",
                value_options=a["value_options"] or None,
                next_question=a["next_question"] or None,
            )
            for a in actions
        ),
    )
