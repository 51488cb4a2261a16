"""Authentication through HTTP against a migrated database: cookie sessions, Bearer JWTs and API keys, exempt
addresses, failed-login throttling and MikoPBX's 401/404 bodies."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.auth_repository import SqlAuthRepository
from autodialer.adapters.db.tables import admin_credentials, sessions
from autodialer.api.app import create_app
from autodialer.bootstrap import build_context
from autodialer.services.auth_service import AuthPolicy, AuthService, throttle_key
from autodialer.settings import load_settings

PROTECTED = "/pbxcore/api/module-dialer/v1/task"
START = "/admin-cabinet/session/start"
AJAX = {"X-Requested-With": "XMLHttpRequest", "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
T0 = 1_724_235_065.0
MODULE_ROUTES = [  # spec §3: all 13
    ("POST", "polling"), ("GET", "polling"), ("GET", "polling/1"), ("GET", "task"), ("POST", "task"),
    ("GET", "task/1000000001"), ("PUT", "task/1000000001"), ("DELETE", "task/1000000001"), ("GET", "results/0"),
    ("GET", "polling-results/0"), ("POST", "audio"), ("GET", "audio"), ("DELETE", "audio/1.mp3"),
]  # fmt: skip


@dataclass
class FakeClock:
    t: float = T0

    def now(self) -> float:
        return self.t


@dataclass
class Harness:
    app: FastAPI
    clock: FakeClock
    engine: AsyncEngine
    auth: AuthService

    def client(self, host: str = "127.0.0.2") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(host, 50123))
        return httpx.AsyncClient(transport=transport, base_url="http://pbx")


def build_app(
    engine: AsyncEngine, tmp_path: Path, clock: FakeClock, **overrides: object
) -> tuple[FastAPI, AuthService]:
    settings = load_settings(
        environment="test",
        data_dir=tmp_path,
        admin_password="s3cret",
        jwt_secret="x" * 40,
        **overrides,
    )
    context = build_context(settings, engine, clock.now)
    app = create_app(context)
    return app, app.state.auth_service


@pytest.fixture
async def harness(migrated_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Harness]:
    clock = FakeClock()
    app, auth = build_app(migrated_engine, tmp_path, clock, login_failures_per_window=3)
    yield Harness(app, clock, migrated_engine, auth)


async def session_login(client: httpx.AsyncClient, body: str) -> httpx.Response:
    return await client.post(START, content=body.encode(), headers=AJAX)


async def test_session_start_success_reply_is_byte_exact_and_sets_phpsessid(harness: Harness) -> None:
    async with harness.client() as client:
        reply = await session_login(client, "login=admin&password=s3cret")
    assert reply.status_code == 200
    assert reply.content == b'{"success":true,"reload":"\\/admin-cabinet\\/extensions\\/index","message":[]}'
    assert re.fullmatch(r"PHPSESSID=[0-9a-f]{32}; path=/", reply.headers["set-cookie"])


async def test_1c_echoes_the_whole_set_cookie_value_and_sends_unencoded_form(harness: Harness) -> None:
    await harness.auth.set_admin_password("p+w&d=1%")
    async with harness.client() as client:
        reply = await session_login(client, "&login=admin&password=p+w&d=1%&")
        assert json.loads(reply.content)["success"] is True
        cookie = reply.headers["set-cookie"]
        client.cookies.clear()
        api = await client.get(PROTECTED, headers={"Cookie": cookie})
    assert api.status_code == 200
    assert api.json()["result"] is True


async def test_url_encoded_password_is_decoded_like_php(harness: Harness) -> None:
    await harness.auth.set_admin_password("a b&c")
    async with harness.client() as client:
        reply = await session_login(client, "login=admin&password=a+b%26c")
    assert json.loads(reply.content)["success"] is True


async def test_wrong_password_gives_200_failure_and_a_cookie_that_authenticates_nothing(harness: Harness) -> None:
    async with harness.client() as client:
        reply = await session_login(client, "login=admin&password=nope")
        assert reply.status_code == 200
        body = json.loads(reply.content)
        assert body["success"] is False and body["reload"] is False
        assert "Attempts left: 2" in body["message"]["error"][0]
        cookie = reply.headers["set-cookie"]
        assert re.fullmatch(r"PHPSESSID=[0-9a-f]{32}; path=/", cookie)
        client.cookies.clear()
        api = await client.get(PROTECTED, headers={"Cookie": cookie})
    assert api.status_code == 401


async def test_unauthenticated_request_gets_the_mikopbx_2024_body(harness: Harness) -> None:
    async with harness.client() as client:
        reply = await client.get(PROTECTED)
    assert reply.status_code == 401
    body = reply.json()
    assert list(body) == ["jsonapi", "errors", "meta"]
    assert body["jsonapi"] == {"version": "1.0"}
    assert body["errors"] == ["The user isn't authenticated."]
    timestamp = body["meta"]["timestamp"]
    assert timestamp == "2024-08-21T13:11:05+03:00"  # T0 in Europe/Moscow, PHP date('c')
    content = '{"errors":["The user isn\'t authenticated."]}'
    assert body["meta"]["hash"] == hashlib.sha1((timestamp + content).encode()).hexdigest()
    assert reply.headers["e-tag"] == hashlib.sha1(content.encode()).hexdigest()


@pytest.mark.parametrize(
    "headers",
    [
        {"Cookie": "PHPSESSID=" + "0" * 32},
        {"Authorization": "Bearer abc.def.ghi"},
        {"Authorization": "Bearer adk_000000000000_nope"},
        {"Authorization": "Basic YTpi"},
    ],
)
async def test_bad_credentials_are_401(harness: Harness, headers: dict[str, str]) -> None:
    async with harness.client() as client:
        reply = await client.get(PROTECTED, headers=headers)
    assert reply.status_code == 401


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
async def test_exempt_addresses_skip_auth(harness: Harness, host: str) -> None:
    async with harness.client(host) as client:
        reply = await client.get(PROTECTED)
    assert reply.status_code == 200


async def test_exempt_list_is_configurable(migrated_engine: AsyncEngine, tmp_path: Path) -> None:
    clock = FakeClock()
    app, _ = build_app(migrated_engine, tmp_path, clock, auth_exempt_addresses=["10.1.0.0/16"])
    for host, status in [("10.1.2.3", 200), ("127.0.0.1", 401), ("10.2.0.1", 401)]:
        transport = httpx.ASGITransport(app=app, client=(host, 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://pbx") as client:
            assert (await client.get(PROTECTED)).status_code == status, host


async def test_every_route_needs_credentials_from_a_non_exempt_address(harness: Harness) -> None:
    routes = [(method, f"/pbxcore/api/module-dialer/v1/{path}") for method, path in MODULE_ROUTES]
    key = (await harness.auth.create_api_key("crm")).key
    async with harness.client() as client:
        cookie = (await session_login(client, "login=admin&password=s3cret")).headers["set-cookie"]
        client.cookies.clear()
        for method, path in routes:
            assert (await client.request(method, path)).status_code == 401, (method, path)
            for headers in ({"Cookie": cookie}, {"Authorization": f"Bearer {key}"}):
                reply = await client.request(method, path, headers=headers)
                assert reply.status_code != 401 and "result" in reply.json(), (method, path)


async def test_unknown_route_is_401_without_credentials_and_mikopbx_404_with(harness: Harness) -> None:
    async with harness.client() as client:
        assert (await client.get("/pbxcore/api/nothing")).status_code == 401
    async with harness.client("127.0.0.1") as client:
        reply = await client.get("/pbxcore/api/nothing")
        wrong_method = await client.patch(PROTECTED)
    assert reply.status_code == 404
    assert reply.json()["errors"] == ["404 (Not Found)"]
    assert list(reply.json()) == ["jsonapi", "errors", "meta"]
    assert wrong_method.status_code == 404


async def test_only_failed_logins_are_throttled(harness: Harness) -> None:
    async with harness.client() as client:
        for _ in range(4):  # more successes than the limit of 3 failures
            assert json.loads((await session_login(client, "login=admin&password=s3cret")).content)["success"]
        for _ in range(3):
            await session_login(client, "login=admin&password=bad")
        throttled = await session_login(client, "login=admin&password=s3cret")
        body = json.loads(throttled.content)
        assert body["success"] is True and body["reload"] == "/admin-cabinet/session/index"
        assert "Too many login attempts" in body["message"]["error"][0]
        client.cookies.clear()
        assert (await client.get(PROTECTED, headers={"Cookie": throttled.headers["set-cookie"]})).status_code == 401
    async with harness.client("127.0.0.3") as other:  # throttling is per address
        assert json.loads((await session_login(other, "login=admin&password=s3cret")).content)["success"]
    harness.clock.t += 301
    async with harness.client() as client:
        assert json.loads((await session_login(client, "login=admin&password=s3cret")).content)["success"]


async def test_session_expires_after_its_lifetime(harness: Harness) -> None:
    async with harness.client() as client:
        await session_login(client, "login=admin&password=s3cret")
        assert (await client.get(PROTECTED)).status_code == 200
        harness.clock.t += 3601
        assert (await client.get(PROTECTED)).status_code == 401


async def test_secrets_are_stored_hashed(harness: Harness) -> None:
    async with harness.client() as client:
        reply = await session_login(client, "login=admin&password=s3cret")
    session_id = reply.headers["set-cookie"].split(";")[0].split("=")[1]
    async with harness.engine.connect() as connection:
        stored_password = (await connection.execute(select(admin_credentials.c.password_hash))).scalar_one()
        stored_sessions = (await connection.execute(select(sessions.c.id_hash))).scalars().all()
    assert stored_password.startswith("scrypt$") and "s3cret" not in stored_password
    assert session_id not in "".join(stored_sessions)
    assert len(stored_sessions) == 1


async def test_sessions_are_shared_by_instances(harness: Harness, tmp_path: Path) -> None:
    other_app, _ = build_app(harness.engine, tmp_path, harness.clock)
    async with harness.client() as client:
        cookie = (await session_login(client, "login=admin&password=s3cret")).headers["set-cookie"]
    transport = httpx.ASGITransport(app=other_app, client=("127.0.0.2", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://pbx") as client:
        assert (await client.get(PROTECTED, headers={"Cookie": cookie})).status_code == 200


async def test_v3_login_json_and_form_give_a_working_bearer_token(harness: Harness) -> None:
    async with harness.client() as client:
        by_json = await client.post("/pbxcore/api/v3/auth:login", json={"login": "admin", "password": "s3cret"})
        by_form = await client.post("/pbxcore/api/v3/auth:login", data={"login": "admin", "password": "s3cret"})
        for reply in (by_json, by_form):
            assert reply.status_code == 200
            body = reply.json()
            assert list(body) == ["result", "data", "messages", "function", "processor", "pid"]
            data = body["data"]
            assert list(data) == ["accessToken", "tokenType", "expiresIn", "login"]
            assert (data["tokenType"], data["expiresIn"], data["login"]) == ("Bearer", 900, "admin")
            client.cookies.clear()
            bearer = {"Authorization": f"Bearer {data['accessToken']}"}
            assert (await client.get(PROTECTED, headers=bearer)).status_code == 200
        harness.clock.t += 901
        assert (await client.get(PROTECTED, headers=bearer)).status_code == 401


async def test_v3_login_refuses_a_wrong_password_and_a_forged_token(harness: Harness) -> None:
    async with harness.client() as client:
        wrong = await client.post("/pbxcore/api/v3/auth:login", json={"login": "admin", "password": "x"})
        assert wrong.status_code == 401 and wrong.json()["result"] is False
        good = await client.post("/pbxcore/api/v3/auth:login", json={"login": "admin", "password": "s3cret"})
        token = good.json()["data"]["accessToken"]
        header, payload, signature = token.split(".")
        forged = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
        client.cookies.clear()
        assert (await client.get(PROTECTED, headers={"Authorization": f"Bearer {forged}"})).status_code == 401


async def test_v3_refresh_and_logout(harness: Harness) -> None:
    async with harness.client() as client:
        await client.post("/pbxcore/api/v3/auth:login", json={"login": "admin", "password": "s3cret"})
        assert "refreshToken" in client.cookies
        harness.clock.t += 1000  # the access token has expired; the refresh token has not
        refreshed = await client.post("/pbxcore/api/v3/auth:refresh")
        assert refreshed.status_code == 200
        token = refreshed.json()["data"]["accessToken"]
        assert (await client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"})).status_code == 200
        refresh_cookie = client.cookies["refreshToken"]
        assert (await client.post("/pbxcore/api/v3/auth:logout")).status_code == 200
        client.cookies.set("refreshToken", refresh_cookie, path="/pbxcore/api/v3")
        assert (await client.post("/pbxcore/api/v3/auth:refresh")).status_code == 401


async def test_api_keys_authenticate_until_revoked(harness: Harness) -> None:
    created = await harness.auth.create_api_key("crm")
    listed = await harness.auth.api_keys()
    assert [k.name for k in listed] == ["crm"] and created.key not in listed[0].key_hash
    bearer = {"Authorization": f"Bearer {created.key}"}
    wrong_secret = {"Authorization": f"Bearer {created.key[:-3]}xyz"}
    async with harness.client() as client:
        assert (await client.get(PROTECTED, headers=bearer)).status_code == 200
        assert (await client.get(PROTECTED, headers=wrong_secret)).status_code == 401
        assert await harness.auth.revoke_api_key(created.record.prefix)
        assert (await client.get(PROTECTED, headers=bearer)).status_code == 401
    assert not await harness.auth.revoke_api_key(created.record.prefix)


async def test_an_unknown_login_fails_even_with_the_admin_password(harness: Harness) -> None:
    async with harness.client() as client:
        reply = await session_login(client, "login=root&password=s3cret")
        assert json.loads(reply.content)["success"] is False
        client.cookies.clear()
        assert (await client.get(PROTECTED, headers={"Cookie": reply.headers["set-cookie"]})).status_code == 401


async def test_a_huge_login_body_is_not_buffered(harness: Harness) -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b"login=admin&password=s3cret&pad="
        for _ in range(10_000):  # 640 MB if anyone read it all
            sent += 1
            yield b"x" * 65536

    async with harness.client() as client:
        reply = await client.post(START, content=endless(), headers=AJAX)
    assert reply.status_code == 200
    assert sent < 10  # the handler stopped reading after 16 KiB


async def test_websockets_are_guarded_too(harness: Harness) -> None:
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/anything",
        "raw_path": b"/anything",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.2", 1),
        "server": ("pbx", 80),
        "scheme": "ws",
        "subprotocols": [],
        "asgi": {"version": "3.0"},
    }
    await harness.app(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]


async def test_an_ipv6_client_cannot_dodge_throttling_by_rotating_through_its_64(harness: Harness) -> None:
    for host in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"):
        async with harness.client(host) as client:
            await session_login(client, "login=admin&password=bad")
    async with harness.client("2001:db8:1:2::99") as same_64:
        body = json.loads((await session_login(same_64, "login=admin&password=s3cret")).content)
        assert "Too many login attempts" in body["message"]["error"][0]
    async with harness.client("2001:db8:1:3::1") as next_64:
        assert json.loads((await session_login(next_64, "login=admin&password=s3cret")).content)["success"]


def test_throttle_keys() -> None:
    assert throttle_key("203.0.113.7") == "203.0.113.7"
    assert throttle_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert throttle_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert throttle_key("fe80::1%eth0") == "fe80::/64"
    assert throttle_key("testclient") == "testclient"


async def test_session_end_logs_out_and_sends_the_browser_to_the_login_page(harness: Harness) -> None:
    async with harness.client() as client:
        cookie = (await session_login(client, "login=admin&password=s3cret")).headers["set-cookie"]
        client.cookies.clear()
        assert (await client.get(PROTECTED, headers={"Cookie": cookie})).status_code == 200
        ended = await client.get("/admin-cabinet/session/end", headers={"Cookie": cookie})
        assert (ended.status_code, ended.headers["location"]) == (302, "/admin-cabinet/session/index")
        assert "Max-Age=0" in ended.headers["set-cookie"]
        client.cookies.clear()
        assert (await client.get(PROTECTED, headers={"Cookie": cookie})).status_code == 401
        # Without a session (or twice) it is the same redirect, not an error.
        assert (await client.get("/admin-cabinet/session/end")).status_code == 302


async def logged_in_every_way(harness: Harness) -> tuple[dict[str, str], dict[str, str], str]:
    """A PHPSESSID cookie, a Bearer access token and a refresh token, all live."""
    async with harness.client() as client:
        cookie = (await session_login(client, "login=admin&password=s3cret")).headers["set-cookie"]
        reply = await client.post("/pbxcore/api/v3/auth:login", json={"login": "admin", "password": "s3cret"})
        refresh = client.cookies["refreshToken"]
    return {"Cookie": cookie}, {"Authorization": f"Bearer {reply.json()['data']['accessToken']}"}, refresh


async def still_work(harness: Harness, cookie: dict[str, str], bearer: dict[str, str], refresh: str) -> list[bool]:
    async with harness.client() as client:
        by_cookie = (await client.get(PROTECTED, headers=cookie)).status_code == 200
        by_bearer = (await client.get(PROTECTED, headers=bearer)).status_code == 200
        client.cookies.set("refreshToken", refresh, path="/pbxcore/api/v3")
        by_refresh = (await client.post("/pbxcore/api/v3/auth:refresh")).status_code == 200
    return [by_cookie, by_bearer, by_refresh]


def other_instance(harness: Harness) -> AuthService:
    """What `autodialer admin` or another service instance holds: its own AuthService on the same database."""
    policy = AuthPolicy("admin", "", 3600, 900, 10, 300)
    return AuthService(SqlAuthRepository(harness.engine), policy, harness.clock.now)


async def test_a_password_change_ends_every_session_token_and_refresh_token(harness: Harness) -> None:
    cookie, bearer, refresh = await logged_in_every_way(harness)
    assert await still_work(harness, cookie, bearer, refresh) == [True, True, True]
    await other_instance(harness).set_admin_password("n3w-s3cret")
    assert await still_work(harness, cookie, bearer, refresh) == [False, False, False]
    async with harness.client() as client:  # the new password logs in as usual
        reply = await client.post("/pbxcore/api/v3/auth:login", json={"login": "admin", "password": "n3w-s3cret"})
        token = {"Authorization": f"Bearer {reply.json()['data']['accessToken']}"}
        assert (await client.get(PROTECTED, headers=token)).status_code == 200


async def test_revoking_sessions_ends_them_all_and_keeps_the_password_and_api_keys(harness: Harness) -> None:
    key = await harness.auth.create_api_key("crm")
    cookie, bearer, refresh = await logged_in_every_way(harness)
    assert await other_instance(harness).end_sessions() == 2  # the PHPSESSID session and the refresh token
    assert await still_work(harness, cookie, bearer, refresh) == [False, False, False]
    async with harness.client() as client:
        assert (await client.get(PROTECTED, headers={"Authorization": f"Bearer {key.key}"})).status_code == 200
    cookie, bearer, refresh = await logged_in_every_way(harness)  # same password, new sessions
    assert await still_work(harness, cookie, bearer, refresh) == [True, True, True]
