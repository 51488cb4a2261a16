"""Migration 0009 re-keys the stored do-not-call list by E.164 and loses no listing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from autodialer.adapters.db.engine import create_engine, migrate

T0 = 1_780_000_000.0


async def test_stored_listings_get_their_e164_key_and_lose_nothing(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        await migrate(engine, "0008")
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO dnc_numbers (phone_id, phone, source, created_at) VALUES (:i, :p, :s, :t)"),
                [
                    {"i": "9522233446", "p": "8 952 223-34-46", "s": "poll:201", "t": T0},
                    {"i": "101", "p": "101", "s": "api", "t": T0 + 1},
                    {"i": "4953334455", "p": "+7 495 333-44-55", "s": "api", "t": T0 + 2},
                ],
            )
        await migrate(engine)
        async with engine.connect() as connection:
            query = text("SELECT e164, phone_id, phone, source, created_at FROM dnc_numbers ORDER BY created_at")
            rows = [tuple(r) for r in (await connection.execute(query)).all()]
        assert rows == [
            ("+79522233446", "9522233446", "8 952 223-34-46", "poll:201", T0),
            ("101", "101", "101", "api", T0 + 1),  # an internal number keeps its digits as its key
            ("+74953334455", "4953334455", "+7 495 333-44-55", "api", T0 + 2),
        ]
    finally:
        await engine.dispose()
