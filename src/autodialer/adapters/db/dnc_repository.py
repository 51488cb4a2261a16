"""The global do-not-call list in ``dnc_numbers`` (E.164 keys, migration 0009): bulk import for DncLists."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

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
        source = source[:64]
        dialect_insert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        statement = dialect_insert(dnc_numbers).on_conflict_do_nothing()
        source_rows = iter(rows)
        count = select(func.count()).select_from(dnc_numbers)
        async with write_transaction(self._engine) as connection:
            before = int((await connection.execute(count)).scalar_one())
            while batch := list(islice(source_rows, BATCH)):
                params = [
                    {
                        "e164": r.e164,
                        "phone_id": phone_id_of(r.e164),
                        "phone": r.e164,
                        "source": source,
                        "created_at": now,
                    }
                    for r in batch
                ]
                await connection.execute(statement, params)
            # asyncpg's executemany gives no row count: the table's growth is what this import added
            return int((await connection.execute(count)).scalar_one()) - before

    async def close_listed(self, now: float) -> int:
        return await self._dialer_store.close_do_not_call(now)
