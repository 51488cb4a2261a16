"""GET /health (alive, no login) and GET /status (ready to dial, and why not; behind the auth gate)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.engine import create_engine
from autodialer.api.app import create_app
from autodialer.api.context import AppContext
from autodialer.api.status import PbxStatus
from autodialer.bootstrap import build_context
from autodialer.settings import load_settings

UP = PbxStatus(
    ami_address="127.0.0.1:5038",
    ami_username="autodialer",
    ami_state="connected",
    ami_logged_in=True,
    ami_connects=1,
    ami_last_error=None,
    ami_login_refused=False,
    fastagi_address="127.0.0.1:4573",
    fastagi_listening=True,
    fastagi_sessions=2,
    calls_in_flight=3,
)


def client(context: AppContext, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(context), client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://dialer")


def context(tmp_path: Path, engine: AsyncEngine, status: PbxStatus | None) -> AppContext:
    settings = load_settings(environment="test", data_dir=tmp_path, jwt_secret="x" * 32)
    return build_context(settings, engine, time.time, pbx_status=None if status is None else (lambda: status))


async def test_health_answers_anyone_without_a_login(tmp_path: Path, migrated_engine: AsyncEngine) -> None:
    async with client(context(tmp_path, migrated_engine, UP), peer="203.0.113.7") as http:
        reply = await http.get("/health")
        head = await http.head("/health")
        status = await http.get("/status")
    assert reply.status_code == 200 and reply.json()["status"] == "ok"
    assert head.status_code == 200
    assert status.status_code == 401  # the details are for local and logged-in clients


async def test_status_is_ready_when_the_database_answers_and_ami_is_logged_in(
    tmp_path: Path, migrated_engine: AsyncEngine
) -> None:
    async with client(context(tmp_path, migrated_engine, UP)) as http:
        reply = await http.get("/status")
    body = reply.json()
    assert reply.status_code == 200 and body["ready"] is True
    assert body["database"]["ok"] is True
    assert body["ami"] == {
        "ok": True,
        "address": "127.0.0.1:5038",
        "username": "autodialer",
        "state": "connected",
        "loggedIn": True,
        "connects": 1,
        "lastError": None,
        "loginRefused": False,
    }
    assert body["fastagi"]["listening"] is True and body["dialer"] == {"enabled": True, "callsInFlight": 3}


async def test_a_refused_ami_login_makes_the_instance_not_ready_and_says_why(
    tmp_path: Path, migrated_engine: AsyncEngine
) -> None:
    refused = replace(
        UP,
        ami_state="waiting",
        ami_logged_in=False,
        ami_connects=0,
        ami_last_error="AMI login as 'autodialer' refused: Authentication failed; check AUTODIALER_AMI_USERNAME …",
        ami_login_refused=True,
    )
    async with client(context(tmp_path, migrated_engine, refused)) as http:
        reply = await http.get("/status")
    body = reply.json()
    assert reply.status_code == 503 and body["ready"] is False
    assert body["ami"]["ok"] is False and body["ami"]["loginRefused"] is True
    assert "AUTODIALER_AMI_USERNAME" in body["ami"]["lastError"]


async def test_an_api_only_instance_needs_no_pbx(tmp_path: Path, migrated_engine: AsyncEngine) -> None:
    async with client(context(tmp_path, migrated_engine, None)) as http:
        body = (await http.get("/status")).json()
    assert body["ready"] is True and body["ami"] is None and body["dialer"] == {"enabled": False, "callsInFlight": 0}


async def test_an_unreachable_database_is_503_with_the_error(tmp_path: Path) -> None:
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        async with client(context(tmp_path, engine, UP)) as http:
            reply = await http.get("/status")
    finally:
        await engine.dispose()
    body = reply.json()
    assert reply.status_code == 503 and body["database"]["ok"] is False
    assert body["database"]["backend"] == "postgresql" and body["database"]["error"]
