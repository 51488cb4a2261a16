"""SqlCampaignRepository: services.campaigns.CampaignRepository on the shared schema.

Writes go through SqlTaskRepository (one set of rules for v1 and v2: the target check, "the poll must exist", soft
delete, number upserts with their feed change times, reopening a task the dialer closed); its TaskConflict becomes
the domain's Conflict or InvalidField here, once. Reads return domain records. The v1 wire form of a number's params
(PHP serialize) is stored beside the JSON so v1 clients see v2's numbers as their own; the composition root injects
the renderer, which lives with the v1 presenter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, func, literal, not_, null, or_, select, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.sql_dialer_store import limits_of, schedule_of
from autodialer.adapters.db.tables import attempts, dnc_campaign_numbers, dnc_numbers, task_numbers, tasks
from autodialer.adapters.db.task_repository import SqlTaskRepository
from autodialer.adapters.db.writer_loop import WriterLoop
from autodialer.domain.attempt_limits import AttemptLimits, PastAttempt
from autodialer.domain.call_results import ABANDONED_STATE
from autodialer.domain.campaign_schedule import CampaignSchedule
from autodialer.domain.campaigns import (
    AttemptCounts,
    AttemptRecord,
    Campaign,
    CampaignChanges,
    CampaignState,
    ChangedNumbers,
    ChangeKey,
    Conflict,
    InvalidField,
    NewCampaign,
    NewNumber,
    NumberFilter,
    NumberPage,
    NumberRecord,
    Target,
    TargetKind,
)
from autodialer.domain.mikopbx_results import ANSWER
from autodialer.domain.mikopbx_tasks import NumberRow, TaskConflict
from autodialer.domain.number_explain import DncEntry
from autodialer.domain.pacing_config import PacingSettings, pacing_from_json

_KIND_TO_V1 = {TargetKind.EXTENSION: "exten", TargetKind.POLL: "polling"}
_V1_FIELDS = {"crmId": "external_id", "innerNum": "target.value", "id": "id"}


class SqlCampaignRepository:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        page_limit: int,
        render_params: Callable[[object], str],
        writer: WriterLoop | None = None,
    ) -> None:
        self._engine = engine
        self._tasks = SqlTaskRepository(engine, page_limit=page_limit, writer=writer)
        self._render_params = render_params

    async def create(self, new: NewCampaign, now: float) -> Campaign:
        columns: dict[str, Any] = {
            "name": new.name,
            "inner_num": new.target.value,
            "inner_num_type": _KIND_TO_V1[new.target.kind],
            "max_count_channels": new.lines,
            "state": int(new.state),
            "dial_prefix": new.dial_prefix,
            "retry_policy": None if new.retry_policy is None else dict(new.retry_policy),
            **_schedule_columns(new.schedule),
            "attempt_limits": _limits_json(new.limits),
            "pacing": _pacing_column(new.pacing),
        }
        try:
            row, _ = await self._tasks.save_task_row(
                task_id=None,
                crm_id=new.external_id,
                columns=columns,
                numbers=None,
                number_count=0,
                now=now,
                create_only=True,
            )
        except TaskConflict as e:
            raise _domain_error(e) from e
        return _campaign(row)

    async def get(self, campaign_id: int) -> Campaign | None:
        async with self._engine.connect() as connection:
            query = select(tasks).where(tasks.c.id == campaign_id, tasks.c.deleted.is_(False))
            row = (await connection.execute(query)).mappings().first()
        return None if row is None else _campaign(row)

    async def list(self, *, state: CampaignState | None, after_id: int | None, limit: int) -> Sequence[Campaign]:
        query = select(tasks).where(tasks.c.deleted.is_(False)).order_by(tasks.c.id).limit(limit)
        if state is not None:
            query = query.where(tasks.c.state == int(state))
        if after_id is not None:
            query = query.where(tasks.c.id > after_id)
        async with self._engine.connect() as connection:
            return [_campaign(r) for r in (await connection.execute(query)).mappings()]

    async def change(self, campaign_id: int, changes: CampaignChanges, now: float) -> Campaign | None:
        columns: dict[str, Any] = {}
        if changes.name is not None:
            columns["name"] = changes.name
        if changes.target is not None:
            columns["inner_num"] = changes.target.value
            columns["inner_num_type"] = _KIND_TO_V1[changes.target.kind]
        if changes.lines is not None:
            columns["max_count_channels"] = changes.lines
        if changes.dial_prefix is not None:
            columns["dial_prefix"] = changes.dial_prefix
        if changes.retry_policy is not None or changes.clear_retry_policy:
            columns["retry_policy"] = None if changes.retry_policy is None else dict(changes.retry_policy)
        if changes.state is not None:
            columns["state"] = int(changes.state)
        if changes.schedule is not None:
            columns.update(_schedule_columns(changes.schedule))
        if changes.limits is not None:
            columns["attempt_limits"] = _limits_json(changes.limits)
        if changes.pacing is not None:
            columns["pacing"] = _pacing_column(changes.pacing)
        if not columns:
            return await self.get(campaign_id)
        try:
            row = await self._tasks.change_task_row(task_id=campaign_id, crm_id="", columns=columns, now=now)
        except TaskConflict as e:
            raise _domain_error(e) from e
        return None if row is None else _campaign(row)

    async def delete(self, campaign_id: int, now: float) -> bool:
        return await self._tasks.delete_task(campaign_id, now)

    async def add_numbers(self, campaign_id: int, numbers: Sequence[NewNumber], now: float) -> int:
        rows = [
            NumberRow(
                position,
                n.phone,
                n.digits,
                n.phone_id,
                None if n.params is None else json.dumps(dict(n.params), ensure_ascii=False),
                "" if n.params is None else self._render_params(dict(n.params)),
                n.not_before,
            )
            for position, n in enumerate(numbers)
        ]
        return await self._tasks.add_numbers(campaign_id, rows, now)

    async def numbers(self, campaign_id: int, flt: NumberFilter, after_id: int | None, limit: int) -> NumberPage:
        query = (
            select(task_numbers)
            .where(task_numbers.c.task_id == campaign_id, task_numbers.c.pending_delete.is_(False))
            .order_by(task_numbers.c.id)
            .limit(limit + 1)
        )
        if flt.state is not None:
            query = query.where(task_numbers.c.state == flt.state)
        if flt.result is not None:
            query = query.where(task_numbers.c.result == flt.result)
        if flt.phone_id is not None:
            query = query.where(task_numbers.c.phone_id == flt.phone_id)
        if after_id is not None:
            query = query.where(task_numbers.c.id > after_id)
        async with self._engine.connect() as connection:
            rows = [_number(r) for r in (await connection.execute(query)).mappings()]
        more = len(rows) > limit
        items = tuple(rows[:limit])
        return NumberPage(items, items[-1].id if more else None)

    async def changed_numbers(
        self, *, since_us: int, until_us: int | None, campaign_id: int | None, after: ChangeKey | None, limit: int
    ) -> ChangedNumbers:
        """Read along the results feed's (change_time_us, id) index; numbers being removed are left out."""
        n = task_numbers.c
        key = tuple_(n.change_time_us, n.id)
        query = select(task_numbers).where(n.pending_delete.is_(False), n.change_time_us >= since_us)
        if until_us is not None:
            query = query.where(n.change_time_us < until_us)
        if campaign_id is not None:
            query = query.where(n.task_id == campaign_id)
        if after is not None:
            query = query.where(key > tuple_(literal(after[0]), literal(after[1])))
        query = query.order_by(n.change_time_us, n.id).limit(limit + 1)
        async with self._engine.connect() as connection:
            rows = list((await connection.execute(query)).mappings())
        page = rows[:limit]
        last = page[-1] if page and len(rows) > limit else None
        next_after = None if last is None else (int(last["change_time_us"]), int(last["id"]))
        return ChangedNumbers(tuple(_number(r) for r in page), next_after)

    async def number(self, campaign_id: int, number_id: int) -> NumberRecord | None:
        query = select(task_numbers).where(
            task_numbers.c.id == number_id,
            task_numbers.c.task_id == campaign_id,
            task_numbers.c.pending_delete.is_(False),
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).mappings().first()
        return None if row is None else _number(row)

    async def attempts(self, campaign_id: int, number_id: int) -> Sequence[AttemptRecord]:
        query = (
            select(attempts)
            .where(attempts.c.task_id == campaign_id, attempts.c.number_id == number_id)
            .order_by(attempts.c.created_at, attempts.c.attempt_no)
        )
        async with self._engine.connect() as connection:
            return [_attempt(r) for r in (await connection.execute(query)).mappings()]

    async def number_counts(self, campaign_id: int) -> tuple[dict[str, int], dict[str, int]]:
        # One pass by (state, result), summed both ways here, over ix_task_numbers_counts alone (0015): a GROUP BY
        # each looked up every row of the campaign, 0.72 s of CPU on SQLite at 1,000,000 numbers (issue 11). Still
        # O(its numbers): the wallboard spaces its reads (services/live_board.py).
        n = task_numbers.c
        query = (
            select(n.state, n.result, func.count())
            .where(n.task_id == campaign_id, n.pending_delete.is_(False))
            .group_by(n.state, n.result)
        )
        async with self._engine.connect() as connection:
            pairs = (await connection.execute(query)).all()
        states: dict[str, int] = {}
        results: dict[str, int] = {}
        for state, result, count in pairs:
            states[str(state)] = states.get(str(state), 0) + int(count)
            results[str(result)] = results.get(str(result), 0) + int(count)
        return states, results

    async def attempt_counts(self, campaign_id: int, now: float, day_start: float = 0.0) -> AttemptCounts:
        ended = attempts.c.ended_at.is_not(None)
        today = attempts.c.ended_at >= day_start
        answered = attempts.c.answered_at.is_not(None)
        # domain.live_state.is_abandoned, as a filter: answered, needs an employee, none took it.
        abandoned = and_(
            ended,
            attempts.c.mode == "connect",
            answered,
            not_(func.coalesce(attempts.c.outcome, "").startswith("SUCCESS")),
            func.coalesce(attempts.c.dial_status, "") != ANSWER,
        )
        query = select(
            func.count().filter(attempts.c.ended_at.is_(None)),
            func.count().filter(ended),
            func.count().filter(ended, answered),
            func.count().filter(attempts.c.created_at >= now - 3600),
            func.count().filter(attempts.c.created_at >= now - 60),
            func.count().filter(today, answered),
            func.count().filter(today, attempts.c.outcome == ABANDONED_STATE),
            func.count().filter(abandoned),
        ).where(attempts.c.task_id == campaign_id)
        async with self._engine.connect() as connection:
            counts = [int(n) for n in (await connection.execute(query)).one()]
        return AttemptCounts(*counts)

    async def dnc_entries(self, key: str, campaign_id: int) -> Sequence[DncEntry]:
        glob = select(dnc_numbers).where(dnc_numbers.c.e164 == key)
        own = select(dnc_campaign_numbers).where(
            dnc_campaign_numbers.c.e164 == key, dnc_campaign_numbers.c.task_id == campaign_id
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(glob)).mappings().all()
            mine = (await connection.execute(own)).mappings().all()
        return [
            *(DncEntry(r["phone"], r["source"], float(r["created_at"])) for r in rows),
            *(DncEntry(r["phone"], r["source"], float(r["created_at"]), campaign_id) for r in mine),
        ]

    async def callee_attempts(self, campaign_id: int, callee: str, since: float) -> Sequence[PastAttempt]:
        query = select(attempts.c.task_id, attempts.c.created_at, attempts.c.ended_at).where(
            attempts.c.callee == callee,
            or_(attempts.c.task_id == campaign_id, attempts.c.created_at >= since),
            attempts.c.state != "created",
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [PastAttempt(int(task_id), float(started), ended) for task_id, started, ended in rows]


def _domain_error(e: TaskConflict) -> Exception:
    field = _V1_FIELDS.get(e.field, e.field)
    if e.field == "innerNum":
        return InvalidField(e.rule.replace("(data.id of POST /polling)", "").strip(), field)
    return Conflict(e.rule, field)


def _campaign(row: RowMapping) -> Campaign:
    kind = TargetKind.POLL if row["inner_num_type"] == "polling" else TargetKind.EXTENSION
    target = Target(kind, str(row["inner_num"] or ""))
    return Campaign(
        id=int(row["id"]),
        external_id=str(row["crm_id"]),
        name=str(row["name"] or ""),
        state=CampaignState(int(row["state"])),
        target=target,
        lines=int(row["max_count_channels"]),
        dial_prefix=str(row["dial_prefix"] or ""),
        retry_policy=_json(row["retry_policy"]),
        closed_by_dialer=bool(row["closed_by_dialer"]),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
        schedule=schedule_of(row),
        limits=limits_of(row),
        pacing=pacing_from_json(_json(row["pacing"])),
    )


def _schedule_columns(schedule: CampaignSchedule) -> dict[str, Any]:
    return {
        "call_hours": schedule.hours,
        "excluded_dates": schedule.excluded_dates,
        "starts_at": schedule.starts_at,
        "ends_at": schedule.ends_at,
        "default_zone": schedule.default_zone,
    }


def _limits_json(limits: AttemptLimits) -> dict[str, float] | None:
    values = {
        "max_per_day": limits.max_per_day,
        "max_total": limits.max_total,
        "min_gap_s": limits.min_gap_s,
        "max_per_day_all_campaigns": limits.max_per_day_all_campaigns,
    }
    kept = {name: value for name, value in values.items() if value is not None}
    return kept or None


def _pacing_column(pacing: PacingSettings) -> Any:
    stored = pacing.to_json()
    return null() if stored is None else stored  # SQL NULL (as v1 tasks have), not JSON 'null'


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _number(row: RowMapping) -> NumberRecord:
    params = _json(row["params_json"])
    return NumberRecord(
        id=int(row["id"]),
        campaign_id=int(row["task_id"]),
        phone=str(row["phone"]),
        phone_id=str(row["phone_id"]),
        params=params if isinstance(params, Mapping) else None,
        state=str(row["state"]),
        result=str(row["result"]),
        attempts=int(row["count_try"] or 0),
        requeues=int(row["requeues"]),
        not_before=float(row["time_call_allow"]),
        retry_at=float(row["next_attempt_at"]),
        in_call=row["active_attempt_id"] is not None,
        closed_at=float(row["close_time"]),
        changed_at=int(row["change_time_us"]) / 1e6,
    )


def _attempt(row: RowMapping) -> AttemptRecord:
    return AttemptRecord(
        id=str(row["id"]),
        attempt_no=int(row["attempt_no"]),
        mode=str(row["mode"]),
        agent=row["agent"],
        state=str(row["state"]),
        outcome=row["outcome"],
        cause=row["cause"],
        cause_text=row["cause_text"],
        dial_status=row["dial_status"],
        created_at=float(row["created_at"]),
        answered_at=row["answered_at"],
        ended_at=row["ended_at"],
    )
