"""The Idempotency-Key store and service on SQLite and PostgreSQL: reserve, replay, refuse another request, a second
request while the first runs, a request that failed, stale reservations and expiry."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.idempotency_repository import SqlIdempotencyStore
from autodialer.domain.campaigns import Conflict, InvalidField
from autodialer.services.idempotency import IdempotencyService, StoredAnswer, fingerprint


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def now(self) -> float:
        return self.t


ANSWER = StoredAnswer(201, "application/json", "/api/v2/campaigns/1", b'{"id": 1}')
FP = fingerprint("POST", "/api/v2/campaigns", b"{}")


async def test_claim_replay_conflicts_and_expiry(migrated_engine: AsyncEngine) -> None:
    clock = Clock()
    service = IdempotencyService(SqlIdempotencyStore(migrated_engine), clock.now, ttl_s=100, stale_s=10)
    assert await service.claim("api-key:crm", "k", FP) is None
    with pytest.raises(Conflict):  # the first request still runs
        await service.claim("api-key:crm", "k", FP)
    assert await service.claim("api-key:other", "k", FP) is None  # keys are per client
    await service.finish("api-key:crm", "k", ANSWER)
    assert await service.claim("api-key:crm", "k", FP) == ANSWER
    with pytest.raises(InvalidField):
        await service.claim("api-key:crm", "k", fingerprint("POST", "/api/v2/campaigns", b"{ }"))
    clock.t += 101
    assert await service.claim("api-key:crm", "k", FP) is None  # expired: a new request


async def test_failures_free_the_key_and_stale_reservations_are_taken_over(migrated_engine: AsyncEngine) -> None:
    clock = Clock()
    service = IdempotencyService(SqlIdempotencyStore(migrated_engine), clock.now, ttl_s=100, stale_s=10)
    assert await service.claim("o", "k", FP) is None
    await service.finish("o", "k", StoredAnswer(422, "application/problem+json", None, b"{}"))
    assert await service.claim("o", "k", FP) is None  # a refused request did not spend the key
    clock.t += 11  # its process died without an answer
    assert await service.claim("o", "k", FP) is None
    await service.abandon("o", "k")
    assert await service.claim("o", "k", FP) is None
