"""SqlIdempotencyStore: services.idempotency.IdempotencyStore on ``idempotency_keys``.

A claim is one transaction: expired rows go (all of them, by the created_at index), then the key's row is read; a
missing or stale one is (re)written as this request's reservation. Two requests claiming a fresh key at once: the
loser's insert hits the primary key and it reads the winner's row instead (in progress, or another request).
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.tables import idempotency_keys
from autodialer.adapters.db.transactions import write_transaction
from autodialer.services.idempotency import Claim, ClaimResult, StoredAnswer

_t = idempotency_keys.c


class SqlIdempotencyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def claim(
        self, owner: str, key: str, fingerprint: str, now: float, expired_before: float, stale_before: float
    ) -> ClaimResult:
        for _ in range(2):
            try:
                return await self._claim(owner, key, fingerprint, now, expired_before, stale_before)
            except IntegrityError:
                continue  # a concurrent first request inserted it: read theirs
        return ClaimResult(Claim.IN_PROGRESS)

    async def _claim(
        self, owner: str, key: str, fingerprint: str, now: float, expired_before: float, stale_before: float
    ) -> ClaimResult:
        mine = _t.owner == owner, _t.key == key
        async with write_transaction(self._engine) as connection:
            await connection.execute(delete(idempotency_keys).where(_t.created_at < expired_before))
            row = (await connection.execute(select(idempotency_keys).where(*mine))).mappings().first()
            if row is None:
                await connection.execute(
                    insert(idempotency_keys).values(owner=owner, key=key, fingerprint=fingerprint, created_at=now)
                )
                return ClaimResult(Claim.RESERVED)
            if row["fingerprint"] != fingerprint:
                return ClaimResult(Claim.OTHER_REQUEST)
            if row["status"] is not None:
                answer = StoredAnswer(row["status"], row["content_type"] or "", row["location"], bytes(row["body"]))
                return ClaimResult(Claim.REPLAY, answer)
            if row["created_at"] < stale_before:
                await connection.execute(update(idempotency_keys).where(*mine).values(created_at=now))
                return ClaimResult(Claim.RESERVED)
            return ClaimResult(Claim.IN_PROGRESS)

    async def finish(self, owner: str, key: str, answer: StoredAnswer) -> None:
        async with write_transaction(self._engine) as connection:
            await connection.execute(
                update(idempotency_keys)
                .where(_t.owner == owner, _t.key == key)
                .values(
                    status=answer.status, content_type=answer.content_type, location=answer.location, body=answer.body
                )
            )

    async def abandon(self, owner: str, key: str) -> None:
        async with write_transaction(self._engine) as connection:
            await connection.execute(
                delete(idempotency_keys).where(_t.owner == owner, _t.key == key, _t.status.is_(None))
            )
