"""Login throttling holds under real concurrency: a burst of guesses, sent at once to one instance or spread over two
sharing the database (SQLite file, PostgreSQL), gets at most ``login_failures_per_window`` passwords checked; once
the window is full the right password is refused too."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.auth_repository import SqlAuthRepository
from autodialer.adapters.db.engine import create_engine
from autodialer.adapters.jwt_tokens import Hs256Tokens
from autodialer.api.app import create_app
from autodialer.bootstrap import build_context
from autodialer.services.auth_service import AuthPolicy, AuthService, ScryptCost
from autodialer.settings import load_settings

LOGIN = "/pbxcore/api/v3/auth:login"
START = "/admin-cabinet/session/start"
LIMIT = 10
CHEAP = ScryptCost(n=2**8, r=4, p=1)  # still a real scrypt in a worker thread, so guesses truly overlap


def instance(engine: AsyncEngine, tmp_path: Path) -> FastAPI:
    """One service instance on ``engine``: the real app, its login service with a cheaper scrypt cost."""
    settings = load_settings(
        environment="test", data_dir=tmp_path, jwt_secret="x" * 40, login_failures_per_window=LIMIT
    )
    app = create_app(build_context(settings, engine, time.time))
    policy = AuthPolicy(
        admin_login="admin",
        seed_password="s3cret",
        session_lifetime_s=3600,
        jwt_lifetime_s=900,
        failures_per_window=LIMIT,
        failure_window_s=300,
        scrypt_cost=CHEAP,
    )
    app.state.auth_service = AuthService(SqlAuthRepository(engine), policy, time.time, Hs256Tokens("x" * 40))
    return app


async def burst(apps: list[FastAPI], guesses: int, right_at: int) -> Counter[str]:
    """``guesses`` logins from one stranger at once, spread over ``apps``; guess ``right_at`` has the password."""
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 40000)), base_url="http://pbx")
        for app in apps
    ]
    start = asyncio.Event()

    async def guess(n: int) -> str:
        await start.wait()
        password = "s3cret" if n == right_at else f"guess{n}"
        if n % 2:
            response = await clients[n % len(clients)].post(LOGIN, json={"login": "admin", "password": password})
            return {200: "checked", 401: "checked", 429: "throttled"}[response.status_code]
        response = await clients[n % len(clients)].post(START, content=f"login=admin&password={password}".encode())
        message = response.json()["message"]
        return "throttled" if message and "Too many" in message["error"][0] else "checked"

    tasks = [asyncio.create_task(guess(n)) for n in range(guesses)]
    await asyncio.sleep(0)
    start.set()
    outcomes = Counter(await asyncio.gather(*tasks))
    for client in clients:
        await client.aclose()
    return outcomes


async def right_password_now(app: FastAPI) -> int:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://pbx") as client:
        return (await client.post(LOGIN, json={"login": "admin", "password": "s3cret"})).status_code


async def test_a_burst_on_one_instance_gets_at_most_the_limit_checked(
    migrated_engine: AsyncEngine, tmp_path: Path
) -> None:
    app = instance(migrated_engine, tmp_path)
    outcomes = await burst([app], 300, right_at=250)
    assert outcomes["checked"] <= LIMIT, outcomes
    assert outcomes["checked"] + outcomes["throttled"] == 300
    assert await right_password_now(app) == 429  # the window is full: even the right password is not checked


async def test_a_burst_spread_over_two_instances_gets_at_most_the_limit_checked(
    db_url: str, migrated_engine: AsyncEngine, tmp_path: Path
) -> None:
    other_engine = create_engine(db_url)  # the second instance: its own engine and pool on the same database
    try:
        apps = [instance(migrated_engine, tmp_path), instance(other_engine, tmp_path)]
        outcomes = await burst(apps, 200, right_at=150)
        assert outcomes["checked"] <= LIMIT, outcomes
        assert await right_password_now(apps[1]) == 429
    finally:
        await other_engine.dispose()


async def test_a_right_password_is_not_counted_against_the_limit(migrated_engine: AsyncEngine, tmp_path: Path) -> None:
    app = instance(migrated_engine, tmp_path)
    for _ in range(LIMIT + 5):
        assert await right_password_now(app) == 200
