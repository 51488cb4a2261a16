"""SQL storage for authentication: admin password hash, API keys, sessions/refresh tokens, failed logins.

Implements ``services.auth_service.AuthStores`` over the tables admin_credentials, api_keys, sessions and
login_failures. Every statement is a short transaction of its own, so several instances share state through the
database (a session created by one is seen by all).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.tables import admin_credentials, api_keys, login_failures, sessions
from autodialer.adapters.db.transactions import write_transaction
from autodialer.domain.api_scopes import ApiScope, parse_scope
from autodialer.services.auth_service import ApiKeyRecord


class SqlAuthRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # --- admin_credentials

    async def password_hash(self, login: str) -> str | None:
        async with self._engine.connect() as connection:
            row = await connection.execute(
                select(admin_credentials.c.password_hash).where(admin_credentials.c.login == login)
            )
            return row.scalar_one_or_none()

    async def set_password_hash(self, login: str, password_hash: str, now: float) -> None:
        async with write_transaction(self._engine) as connection:
            changed = await connection.execute(
                update(admin_credentials)
                .where(admin_credentials.c.login == login)
                .values(password_hash=password_hash, updated_at=now)
            )
            if changed.rowcount == 0:
                await connection.execute(
                    insert(admin_credentials).values(login=login, password_hash=password_hash, updated_at=now)
                )

    async def add_password_hash_if_absent(self, login: str, password_hash: str, now: float) -> bool:
        try:
            async with write_transaction(self._engine) as connection:
                await connection.execute(
                    insert(admin_credentials).values(login=login, password_hash=password_hash, updated_at=now)
                )
        except IntegrityError:
            return False
        return True

    # --- api_keys

    async def add_api_key(self, name: str, prefix: str, key_hash: str, scope: ApiScope, now: float) -> ApiKeyRecord:
        async with write_transaction(self._engine) as connection:
            result = await connection.execute(
                insert(api_keys)
                .values(name=name, prefix=prefix, key_hash=key_hash, created_at=now, scope=scope.value)
                .returning(api_keys.c.id)
            )
            key_id = result.scalar_one()
        return ApiKeyRecord(key_id, name, prefix, key_hash, now, None, None, scope)

    async def api_key_by_prefix(self, prefix: str) -> ApiKeyRecord | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(api_keys).where(api_keys.c.prefix == prefix))).first()
        return None if row is None else _api_key(row)

    async def api_keys(self) -> Sequence[ApiKeyRecord]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(select(api_keys).order_by(api_keys.c.id))).all()
        return [_api_key(row) for row in rows]

    async def revoke_api_key(self, prefix: str, now: float) -> bool:
        async with write_transaction(self._engine) as connection:
            result = await connection.execute(
                update(api_keys)
                .where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return bool(result.rowcount)

    async def touch_api_key(self, key_id: int, now: float) -> None:
        async with write_transaction(self._engine) as connection:
            await connection.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))

    # --- sessions

    async def add_session(self, id_hash: str, login: str, now: float, expires_at: float) -> None:
        async with write_transaction(self._engine) as connection:
            await connection.execute(
                insert(sessions).values(id_hash=id_hash, login=login, created_at=now, expires_at=expires_at)
            )

    async def session_login(self, id_hash: str, now: float) -> str | None:
        async with self._engine.connect() as connection:
            row = await connection.execute(
                select(sessions.c.login).where(sessions.c.id_hash == id_hash, sessions.c.expires_at > now)
            )
            return row.scalar_one_or_none()

    async def delete_session(self, id_hash: str) -> None:
        async with write_transaction(self._engine) as connection:
            await connection.execute(delete(sessions).where(sessions.c.id_hash == id_hash))

    async def delete_expired_sessions(self, now: float) -> None:
        async with write_transaction(self._engine) as connection:
            await connection.execute(delete(sessions).where(sessions.c.expires_at <= now))

    async def token_generation(self, login: str) -> int | None:
        async with self._engine.connect() as connection:
            row = await connection.execute(
                select(admin_credentials.c.token_generation).where(admin_credentials.c.login == login)
            )
            return row.scalar_one_or_none()

    async def end_sessions(self, login: str) -> int:
        async with write_transaction(self._engine) as connection:
            await connection.execute(
                update(admin_credentials)
                .where(admin_credentials.c.login == login)
                .values(token_generation=admin_credentials.c.token_generation + 1)
            )
            ended = await connection.execute(delete(sessions).where(sessions.c.login == login))
            return int(ended.rowcount)

    # --- login_failures

    async def reserve_attempt(self, address: str, at: float, since: float, limit: int) -> tuple[int, int] | None:
        """Count and record in one transaction that holds a lock no other reservation for ``address`` can share:
        SQLite's write lock (BEGIN IMMEDIATE), on PostgreSQL a transaction-scoped advisory lock on the address (the
        count then runs after the previous holder committed, on every instance alike). On SQLite a burst of
        reservations queues in this process (write_transaction), not in SQLite's busy handler."""
        async with write_transaction(self._engine) as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"login:{address}"}
                )
            recorded = await connection.execute(
                select(func.count())
                .select_from(login_failures)
                .where(login_failures.c.address == address, login_failures.c.at > since)
            )
            before = int(recorded.scalar_one())
            if before >= limit:
                return None
            added = await connection.execute(
                insert(login_failures).values(address=address, at=at).returning(login_failures.c.id)
            )
            return int(added.scalar_one()), before

    async def release_attempt(self, attempt_id: int) -> None:
        async with write_transaction(self._engine) as connection:
            await connection.execute(delete(login_failures).where(login_failures.c.id == attempt_id))

    async def delete_failures_before(self, at: float) -> None:
        async with write_transaction(self._engine) as connection:
            await connection.execute(delete(login_failures).where(login_failures.c.at <= at))


def _api_key(row: Row[Any]) -> ApiKeyRecord:
    mapping = row._mapping
    return ApiKeyRecord(
        id=int(mapping["id"]),
        name=mapping["name"],
        prefix=mapping["prefix"],
        key_hash=mapping["key_hash"],
        created_at=mapping["created_at"],
        last_used_at=mapping["last_used_at"],
        revoked_at=mapping["revoked_at"],
        scope=_stored_scope(mapping["scope"]),
    )


def _stored_scope(value: str) -> ApiScope:
    """The stored scope; a value only a hand edit can leave (no code writes one) counts as ``read``, the lesser
    right, rather than failing every request of that key."""
    try:
        return parse_scope(value)
    except ValueError:
        return ApiScope.READ
