"""The global do-not-call list in ``dnc_numbers`` (E.164 keys, migration 0009): bulk import for DncLists."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from autodialer.adapters.db.sql_dialer_store import SqlDialerStore
from autodialer.adapters.db.tables import dnc_numbers
from autodialer.adapters.db.transactions import write_transaction
from autodialer.domain.dnc_import import DncRow
from autodialer.domain.phone_numbers import phone_id_of

BATCH = 10_000  # rows per executemany


class SqlDncRepository:
    def __init__(self, engine: AsyncEngine, dialer_store: SqlDialerStore) -> None:
        self._engine = engine
        self._dialer_store = dialer_store

    async def add_many(self, rows: Iterable[DncRow], source: str, now: float) -> int:
        """One transaction; rows go to the driver as tuples (SQLAlchemy's per-parameter processing would cost more
        than the parsing): SQLite executemany, PostgreSQL (psycopg) COPY into a temporary table then one INSERT …
        ON CONFLICT DO NOTHING (a number already listed keeps its first listing)."""
        source = source[:64]
        tuples = ((r.e164, phone_id_of(r.e164), r.e164, source, now) for r in rows)
        count = select(func.count()).select_from(dnc_numbers)
        async with write_transaction(self._engine) as connection:
            before = int((await connection.execute(count)).scalar_one())
            if connection.dialect.name == "postgresql":
                await self._copy_postgres(connection, tuples)
            else:
                await self._insert_sqlite(connection, tuples)
            # no driver row count covers both paths: the table's growth is what this import added
            return int((await connection.execute(count)).scalar_one()) - before

    @staticmethod
    async def _insert_sqlite(connection: AsyncConnection, tuples: Iterator[tuple[str, str, str, str, float]]) -> None:
        """Appended to a temporary table, then inserted in key order: a million random keys inserted one by one
        into the list's two B-trees cost several times more than SQLite's own sort."""
        await connection.exec_driver_sql(
            "CREATE TEMPORARY TABLE IF NOT EXISTS dnc_import (e164 TEXT, phone_id TEXT, phone TEXT, source TEXT, "
            "created_at REAL)"
        )
        await connection.exec_driver_sql("DELETE FROM dnc_import")
        while batch := list(islice(tuples, BATCH)):
            await connection.exec_driver_sql("INSERT INTO dnc_import VALUES (?, ?, ?, ?, ?)", batch)
        await connection.exec_driver_sql(
            "INSERT INTO dnc_numbers (e164, phone_id, phone, source, created_at) "
            "SELECT e164, phone_id, phone, source, created_at FROM dnc_import WHERE true ORDER BY e164 "
            "ON CONFLICT (e164) DO NOTHING"
        )
        await connection.exec_driver_sql("DELETE FROM dnc_import")

    @staticmethod
    async def _copy_postgres(connection: AsyncConnection, tuples: Iterator[tuple[str, str, str, str, float]]) -> None:
        await connection.exec_driver_sql(
            "CREATE TEMPORARY TABLE dnc_import (e164 varchar(64), phone_id varchar(64), phone varchar(64), "
            "source varchar(64), created_at double precision) ON COMMIT DROP"
        )
        raw = (await connection.get_raw_connection()).driver_connection  # psycopg's AsyncConnection
        assert raw is not None
        async with raw.cursor() as cursor:
            copy_sql = "COPY dnc_import (e164, phone_id, phone, source, created_at) FROM STDIN"
            async with cursor.copy(copy_sql) as copy:
                for record in tuples:
                    await copy.write_row(record)
        await connection.exec_driver_sql(
            "INSERT INTO dnc_numbers (e164, phone_id, phone, source, created_at) "
            "SELECT DISTINCT ON (e164) e164, phone_id, phone, source, created_at FROM dnc_import "
            "ON CONFLICT (e164) DO NOTHING"
        )

    async def close_listed(self, now: float) -> int:
        return await self._dialer_store.close_do_not_call(now)
