"""The do-not-call lists in ``dnc_numbers`` (global, E.164 keys, migration 0009) and ``dnc_campaign_numbers`` (one
list per campaign, 0011): services.dnc_lists.DncStore. Bulk import goes to the driver as tuples (SQLAlchemy's
per-parameter processing would cost more than the parsing): SQLite through a temporary table then one INSERT …
SELECT in key order, PostgreSQL by COPY into a temporary table then one INSERT … ON CONFLICT DO NOTHING (a number
already listed keeps its first listing)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from autodialer.adapters.db.sql_dialer_store import SqlDialerStore
from autodialer.adapters.db.tables import dnc_campaign_numbers, dnc_numbers, tasks
from autodialer.adapters.db.transactions import write_transaction
from autodialer.domain.dnc_import import DncRow
from autodialer.domain.do_not_call import DncEntryRecord
from autodialer.domain.phone_numbers import phone_id_of

BATCH = 10_000  # rows per executemany
_COLUMNS = "e164, phone_id, phone, source, note, created_at"
Row = tuple[str, str, str, str, str, float]


class SqlDncRepository:
    def __init__(self, engine: AsyncEngine, dialer_store: SqlDialerStore) -> None:
        self._engine = engine
        self._dialer_store = dialer_store

    async def add_many(self, rows: Iterable[DncRow], source: str, now: float, campaign_id: int | None = None) -> int:
        """One transaction; returns how many entries are new on the list."""
        source = source[:64]
        tuples = ((r.e164, phone_id_of(r.e164), r.e164, source, r.note, now) for r in rows)
        table, where = _list(campaign_id)
        count = select(func.count()).select_from(table).where(*where)
        target = "dnc_numbers" if campaign_id is None else "dnc_campaign_numbers"
        prefix = "" if campaign_id is None else f"{int(campaign_id)}, "
        columns = _COLUMNS if campaign_id is None else f"task_id, {_COLUMNS}"
        async with write_transaction(self._engine) as connection:
            if campaign_id is not None:  # the campaign's row, locked against a concurrent delete
                alive = select(tasks.c.id).where(tasks.c.id == campaign_id, tasks.c.deleted.is_(False))
                if (await connection.execute(alive.with_for_update())).first() is None:
                    return 0
            before = int((await connection.execute(count)).scalar_one())
            if connection.dialect.name == "postgresql":
                await self._copy_postgres(connection, tuples)
                select_sql = f"SELECT DISTINCT ON (e164) {prefix}{_COLUMNS} FROM dnc_import"  # noqa: S608 - ours
            else:
                await self._insert_sqlite(connection, tuples)
                select_sql = f"SELECT {prefix}{_COLUMNS} FROM dnc_import WHERE true ORDER BY e164"  # noqa: S608
            await connection.exec_driver_sql(f"INSERT INTO {target} ({columns}) {select_sql} ON CONFLICT DO NOTHING")
            if connection.dialect.name != "postgresql":
                await connection.exec_driver_sql("DELETE FROM dnc_import")
            # no driver row count covers both paths: the list's growth is what this import added
            return int((await connection.execute(count)).scalar_one()) - before

    @staticmethod
    async def _insert_sqlite(connection: AsyncConnection, tuples: Iterator[Row]) -> None:
        """Appended to a temporary table, then inserted in key order: a million random keys inserted one by one
        into the list's B-trees cost several times more than SQLite's own sort."""
        await connection.exec_driver_sql(
            "CREATE TEMPORARY TABLE IF NOT EXISTS dnc_import (e164 TEXT, phone_id TEXT, phone TEXT, source TEXT, "
            "note TEXT, created_at REAL)"
        )
        await connection.exec_driver_sql("DELETE FROM dnc_import")
        while batch := list(islice(tuples, BATCH)):
            await connection.exec_driver_sql("INSERT INTO dnc_import VALUES (?, ?, ?, ?, ?, ?)", batch)

    @staticmethod
    async def _copy_postgres(connection: AsyncConnection, tuples: Iterator[Row]) -> None:
        await connection.exec_driver_sql(
            "CREATE TEMPORARY TABLE dnc_import (e164 varchar(64), phone_id varchar(64), phone varchar(64), "
            "source varchar(64), note varchar(200), created_at double precision) ON COMMIT DROP"
        )
        raw = (await connection.get_raw_connection()).driver_connection  # psycopg's AsyncConnection
        assert raw is not None
        async with raw.cursor() as cursor, cursor.copy(f"COPY dnc_import ({_COLUMNS}) FROM STDIN") as copy:
            for record in tuples:
                await copy.write_row(record)

    async def close_listed(self, now: float, phone: str | None = None) -> int:
        return await self._dialer_store.close_do_not_call(now, phone)

    async def get(self, e164: str, campaign_id: int | None) -> DncEntryRecord | None:
        table, where = _list(campaign_id)
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(table).where(*where, table.c.e164 == e164))).mappings().first()
        return None if row is None else _record(row, campaign_id)

    async def remove(self, e164: str, campaign_id: int | None) -> bool:
        table, where = _list(campaign_id)
        async with write_transaction(self._engine) as connection:
            result = await connection.execute(delete(table).where(*where, table.c.e164 == e164))
        return bool(result.rowcount)

    async def page(self, campaign_id: int | None, after: str | None, limit: int) -> Sequence[DncEntryRecord]:
        table, where = _list(campaign_id)
        query = select(table).where(*where).order_by(table.c.e164).limit(limit)
        if after is not None:
            query = query.where(table.c.e164 > after)
        async with self._engine.connect() as connection:
            return [_record(r, campaign_id) for r in (await connection.execute(query)).mappings()]

    async def campaign_exists(self, campaign_id: int) -> bool:
        query = select(tasks.c.id).where(tasks.c.id == campaign_id, tasks.c.deleted.is_(False))
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).first() is not None


def _list(campaign_id: int | None) -> tuple[Table, list[Any]]:
    if campaign_id is None:
        return dnc_numbers, []
    return dnc_campaign_numbers, [dnc_campaign_numbers.c.task_id == campaign_id]


def _record(row: RowMapping, campaign_id: int | None) -> DncEntryRecord:
    return DncEntryRecord(
        e164=str(row["e164"]),
        phone=str(row["phone"]),
        note=str(row["note"] or ""),
        source=str(row["source"]),
        since=float(row["created_at"]),
        campaign_id=campaign_id,
    )
