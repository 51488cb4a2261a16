"""Idempotency-Key on v2 POSTs: a retried request gets the first answer instead of running twice.

Per the IETF draft (httpapi-idempotency-key-header): the key is the client's, scoped here to who sent it (the auth
principal), and bound to a fingerprint of the request (method, path, body). The first request with a key reserves
it and runs; when it succeeds (2xx) its answer is stored and any repeat with the same fingerprint within ``ttl_s``
gets that answer replayed. A repeat with another body is refused (422), a repeat while the first still runs is 409.
A request that fails (4xx, 5xx, crash) frees the key, so the client may fix it and retry under the same key. A
reservation whose request never finished (the process died) is taken over after ``stale_s``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from autodialer.domain.campaigns import Conflict, InvalidField

MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    content_type: str
    location: str | None
    body: bytes


class Claim(Enum):
    RESERVED = "reserved"  # run the request, then finish() or abandon()
    REPLAY = "replay"
    OTHER_REQUEST = "other-request"  # the key was used with another fingerprint
    IN_PROGRESS = "in-progress"


@dataclass(frozen=True, slots=True)
class ClaimResult:
    claim: Claim
    answer: StoredAnswer | None = None


class IdempotencyStore(Protocol):
    async def claim(
        self, owner: str, key: str, fingerprint: str, now: float, expired_before: float, stale_before: float
    ) -> ClaimResult:
        """Reserve (owner, key) unless a live entry holds it; entries created before ``expired_before`` are gone,
        a reservation without an answer created before ``stale_before`` is taken over."""
        ...

    async def finish(self, owner: str, key: str, answer: StoredAnswer) -> None: ...

    async def abandon(self, owner: str, key: str) -> None: ...


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{method.upper()} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise InvalidField(f"must be 1..{MAX_KEY_LENGTH} printable ASCII characters", "Idempotency-Key")
    return key


class IdempotencyService:
    def __init__(
        self, store: IdempotencyStore, now: Callable[[], float], *, ttl_s: float = 86_400, stale_s: float = 300
    ) -> None:
        self._store = store
        self._now = now
        self._ttl_s = ttl_s
        self._stale_s = stale_s

    async def claim(self, owner: str, key: str, fingerprint: str) -> StoredAnswer | None:
        """None: the caller runs the request and then calls finish or abandon; else the answer to replay. Raises
        InvalidField (the key was used for another request) or Conflict (the first request still runs)."""
        check_key(key)
        now = self._now()
        result = await self._store.claim(owner, key, fingerprint, now, now - self._ttl_s, now - self._stale_s)
        if result.claim is Claim.REPLAY:
            return result.answer
        if result.claim is Claim.OTHER_REQUEST:
            raise InvalidField("was already used for another request (method, path or body differ)", "Idempotency-Key")
        if result.claim is Claim.IN_PROGRESS:
            raise Conflict("a request with this key is still running; retry later", "Idempotency-Key")
        return None

    async def finish(self, owner: str, key: str, answer: StoredAnswer) -> None:
        if 200 <= answer.status < 300:
            await self._store.finish(owner, key, answer)
        else:
            await self._store.abandon(owner, key)

    async def abandon(self, owner: str, key: str) -> None:
        await self._store.abandon(owner, key)
