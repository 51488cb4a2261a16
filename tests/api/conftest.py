"""An HTTP client on the real app and a migrated database (SQLite and PostgreSQL via ``migrated_engine``).

Requests come from 127.0.0.1, which MikoPBX (and we) exempt from authentication, so these tests need no login.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.transactions import write_transaction
from autodialer.api.app import create_app
from autodialer.bootstrap import build_context
from autodialer.settings import load_settings

V1 = "/pbxcore/api/module-dialer/v1"
T0 = 1_724_235_073.0  # 2024-08-21 13:11:13 MSK, the docs' era


@dataclass
class FakeClock:
    t: float = T0

    def now(self) -> float:
        return self.t


@dataclass
class Api:
    client: httpx.AsyncClient
    engine: AsyncEngine
    clock: FakeClock
    wakeups: list[None] = field(default_factory=list)

    async def call(self, method: str, path: str, body: Any = None, raw: bytes | None = None) -> tuple[int, Any]:
        content = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        response = await self.client.request(method, V1 + path, content=content)
        return response.status_code, response.json()

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        return await self.call("POST", path, body)

    async def get(self, path: str) -> tuple[int, Any]:
        return await self.call("GET", path)

    async def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        async with self.engine.connect() as connection:
            return [tuple(r) for r in (await connection.execute(text(sql), params)).all()]

    async def execute(self, sql: str, **params: Any) -> None:
        async with write_transaction(self.engine) as connection:
            await connection.execute(text(sql), params)


ApiFactory = Callable[..., Awaitable[Api]]


@pytest.fixture
async def make_api(migrated_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[ApiFactory]:
    clients: list[httpx.AsyncClient] = []

    async def build(**overrides: Any) -> Api:
        settings = load_settings(environment="test", data_dir=tmp_path, pbx_timezone="Europe/Moscow", **overrides)
        clock = FakeClock()
        api = Api(client=None, engine=migrated_engine, clock=clock)  # type: ignore[arg-type]
        context = build_context(settings, migrated_engine, clock.now, on_tasks_changed=lambda: api.wakeups.append(None))
        transport = httpx.ASGITransport(app=create_app(context), client=("127.0.0.1", 123))
        api.client = httpx.AsyncClient(transport=transport, base_url="http://pbx")
        clients.append(api.client)
        return api

    yield build
    for client in clients:
        await client.aclose()


@pytest.fixture
async def api(make_api: ApiFactory) -> Api:
    return await make_api()


def data_without_pid(payload: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(payload.pop("pid"), int)
    return payload


@dataclass
class V2:
    """An HTTP client on the app with the v2 API (as bootstrap builds it), from an exempt address by default."""

    app: Any
    engine: AsyncEngine
    clock: FakeClock
    wakeups: list[None]

    def client(self, host: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(host, 50123))
        return httpx.AsyncClient(transport=transport, base_url="http://pbx")

    async def execute(self, sql: str, **params: Any) -> None:
        async with write_transaction(self.engine) as connection:
            await connection.execute(text(sql), params)

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as connection:
            return (await connection.execute(text(sql), params)).scalar()


@pytest.fixture
async def v2(migrated_engine: AsyncEngine, tmp_path: Path) -> V2:
    settings = load_settings(
        environment="test", data_dir=tmp_path, pbx_timezone="Europe/Moscow", jwt_secret="x" * 40, admin_password="pw"
    )
    clock = FakeClock()
    wakeups: list[None] = []
    context = build_context(settings, migrated_engine, clock.now, on_tasks_changed=lambda: wakeups.append(None))
    return V2(create_app(context), migrated_engine, clock, wakeups)
