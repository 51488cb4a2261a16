"""SQL storage of the prompt library (table audio_files): implements ``services.audio_library.AudioRecords``.

``save_audio`` is an upsert on the unique name (ON CONFLICT on both SQLite and PostgreSQL), so two instances saving
the same name at once end with one row, not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.tables import audio_files
from autodialer.adapters.db.transactions import write_transaction
from autodialer.services.audio_library import AudioRecord


class SqlAudioRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert

    async def audio_by_name(self, name: str) -> AudioRecord | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(audio_files).where(audio_files.c.name == name))).first()
        return None if row is None else _record(row)

    async def audio_by_id(self, audio_id: int) -> AudioRecord | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(audio_files).where(audio_files.c.id == audio_id))).first()
        return None if row is None else _record(row)

    async def save_audio(
        self, name: str, stored_name: str, original_ext: str, content_type: str, duration_s: float, now: float
    ) -> AudioRecord:
        values = {
            "stored_name": stored_name,
            "original_ext": original_ext,
            "content_type": content_type,
            "duration_s": duration_s,
            "updated_at": now,
        }
        statement = self._insert(audio_files).values(name=name, created_at=now, **values)
        statement = statement.on_conflict_do_update(index_elements=[audio_files.c.name], set_=values)
        async with write_transaction(self._engine) as connection:
            row = (await connection.execute(statement.returning(*audio_files.c))).one()
        return _record(row)

    async def audio_list(self) -> Sequence[AudioRecord]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(select(audio_files).order_by(audio_files.c.id))).all()
        return [_record(row) for row in rows]

    async def delete_audio(self, name: str) -> AudioRecord | None:
        async with write_transaction(self._engine) as connection:
            row = (
                await connection.execute(
                    delete(audio_files).where(audio_files.c.name == name).returning(*audio_files.c)
                )
            ).first()
        return None if row is None else _record(row)


def _record(row: Row[Any]) -> AudioRecord:
    m = row._mapping
    return AudioRecord(
        id=int(m["id"]),
        name=m["name"],
        stored_name=m["stored_name"],
        original_ext=m["original_ext"],
        content_type=m["content_type"],
        duration_s=m["duration_s"],
    )
