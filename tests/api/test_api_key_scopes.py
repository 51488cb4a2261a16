"""API keys scoped read or write (issue 12), through HTTP against a migrated database (SQLite and PostgreSQL): the
one auth gate lets a read key GET v1 and v2 and refuses every other method with 403 (v2: problem+json, v1: the
2024.1 body of its 401) before anything is stored; a write key, a session, a JWT and an exempt address may do both."""

from __future__ import annotations

from typing import Any

import pytest

from autodialer.domain.api_scopes import ApiScope
from autodialer.services.auth_service import AuthService
from conftest import V2

V1 = "/pbxcore/api/module-dialer/v1"
C = "/api/v2/campaigns"
TARGET = {"kind": "extension", "value": "201"}
PROBLEM = "application/problem+json"
POLL = {
    "name": "p",
    "questions": [{"questionId": "1", "questionText": "Press 1.", "press": [{"key": "1", "action": "playback"}]}],
}
OUTSIDE = "203.0.113.9"  # not exempt: the key decides
STORED = [
    "tasks",
    "task_numbers",
    "polls",
    "poll_questions",
    "audio_files",
    "dnc_numbers",
    "dnc_campaign_numbers",
    "idempotency_keys",
]


def auth_of(v2: V2) -> AuthService:
    service: AuthService = v2.app.state.auth_service
    return service


async def bearer(v2: V2, scope: ApiScope, name: str = "crm") -> dict[str, str]:
    created = await auth_of(v2).create_api_key(name, scope)
    assert created.record.scope is scope
    return {"Authorization": f"Bearer {created.key}"}


async def everything_stored(v2: V2) -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, list[tuple[Any, ...]]] = {}
    async with v2.engine.connect() as connection:
        for table in STORED:
            rows = await connection.exec_driver_sql(f"SELECT * FROM {table}")
            tables[table] = sorted((tuple(r) for r in rows.all()), key=repr)
    return tables


async def seed(v2: V2) -> tuple[int, str]:
    """A campaign with a number (through v2) and a poll (through v1), from the exempt address."""
    async with v2.client() as client:
        made = await client.post(C, json={"target": TARGET, "name": "seed"})
        campaign_id = made.json()["id"]
        added = await client.post(f"{C}/{campaign_id}/numbers", json={"numbers": [{"phone": "79522233446"}]})
        assert (made.status_code, added.status_code) == (201, 200), added.text
        poll = await client.post(f"{V1}/polling", json=POLL)
        assert poll.json()["result"] is True, poll.text
    number_id = (await client_json(v2, f"{C}/{campaign_id}/numbers"))["items"][0]["id"]
    return campaign_id, str(number_id)


async def client_json(v2: V2, path: str) -> Any:
    async with v2.client() as client:
        return (await client.get(path)).json()


def writes(campaign_id: int, number_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """A request of every unsafe kind the API serves, v1 and v2, each valid enough that a write key's would change
    something."""
    task = {"innerNum": "201", "name": "read keys make none", "numbers": ["100"]}
    return [
        ("POST", f"{V1}/task", {"json": task}),
        ("PUT", f"{V1}/task/{campaign_id}", {"json": {"state": 1}}),
        ("DELETE", f"{V1}/task/{campaign_id}", {}),
        ("POST", f"{V1}/polling", {"json": {**POLL, "name": "q"}}),
        ("POST", f"{V1}/audio", {"files": {"file": ("1.wav", b"RIFF", "audio/wav")}}),
        ("DELETE", f"{V1}/audio/1.wav", {}),
        ("POST", C, {"json": {"target": TARGET, "name": "no"}}),
        ("PATCH", f"{C}/{campaign_id}", {"json": {"name": "renamed"}}),
        ("POST", f"{C}/{campaign_id}/pause", {}),
        ("DELETE", f"{C}/{campaign_id}", {}),
        ("POST", f"{C}/{campaign_id}/numbers", {"json": {"numbers": [{"phone": "79522233447"}]}}),
        ("POST", "/api/v2/dnc", {"json": {"phone": "79522233446"}}),
        ("POST", f"{C}/{campaign_id}/dnc", {"json": {"phone": "79522233446"}}),
        ("DELETE", "/api/v2/dnc/79522233446", {}),
        ("POST", "/api/v2/polls", {"json": {"name": "x"}}),
        ("PUT", "/api/v2/polls/1", {"json": {"name": "x"}}),
        ("DELETE", f"/api/v2/audio/{number_id}", {}),
        ("POST", "/console/logout", {}),
    ]


async def test_a_read_key_reads_v1_and_v2(v2: V2) -> None:
    campaign_id, number_id = await seed(v2)
    key = await bearer(v2, ApiScope.READ)
    reads = [
        f"{V1}/task",
        f"{V1}/task/{campaign_id}",
        f"{V1}/polling",
        f"{V1}/results/0",
        f"{V1}/polling-results/0",
        f"{V1}/audio",
        C,
        f"{C}/{campaign_id}",
        f"{C}/{campaign_id}/numbers",
        f"{C}/{campaign_id}/numbers/{number_id}/explain",
        f"{C}/{campaign_id}/stats",
        "/api/v2/dnc",
        "/api/v2/polls",
        "/api/v2/live",
        "/api/v2/openapi.json",
        "/console/me",
    ]
    async with v2.client(OUTSIDE) as client:
        for path in reads:
            reply = await client.get(path, headers=key)
            assert reply.status_code == 200, (path, reply.text)
        head = await client.head(C, headers=key)
        options = await client.options(C, headers=key)
        me = (await client.get("/console/me", headers=key)).json()
    assert head.status_code != 403 and options.status_code != 403  # no such routes (405), but not the scope's refusal
    assert me["kind"] == "api-key" and me["login"] == "crm"
    v1_task = (await client_json(v2, f"{V1}/task/{campaign_id}"))["data"]
    assert v1_task["name"] == "seed"


async def test_a_read_key_is_refused_every_write_and_nothing_stored_changes(v2: V2) -> None:
    campaign_id, number_id = await seed(v2)
    key = await bearer(v2, ApiScope.READ)
    before, wakeups = await everything_stored(v2), len(v2.wakeups)
    async with v2.client(OUTSIDE) as client:
        for method, path, body in writes(campaign_id, number_id):
            reply = await client.request(method, path, headers={**key, "Idempotency-Key": "k1"}, **body)
            assert reply.status_code == 403, (method, path, reply.text)
            reason = f"this API key is scoped read: {method} needs a write key"
            if path.startswith(V1):  # the 2024.1 body the v1 gate answers its 401 with
                assert reply.headers["content-type"] == "application/json"
                assert list(reply.json()) == ["jsonapi", "errors", "meta"], path
                assert reply.json()["errors"] == [reason]
                assert "e-tag" in reply.headers
            else:
                assert reply.headers["content-type"] == PROBLEM, path
                problem = reply.json()
                assert (problem["status"], problem["error_id"], problem["detail"]) == (403, "api-key-read-only", reason)
    assert await everything_stored(v2) == before
    assert len(v2.wakeups) == wakeups  # the dialer was not told of any change


async def test_an_unknown_path_is_refused_by_scope_before_routing(v2: V2) -> None:
    key = await bearer(v2, ApiScope.READ)
    async with v2.client(OUTSIDE) as client:
        v1 = await client.post(f"{V1}/nothing", headers=key)
        v2_reply = await client.post("/api/v2/nothing", headers=key)
        read = await client.get("/api/v2/nothing", headers=key)
    assert v1.status_code == v2_reply.status_code == 403
    assert read.status_code == 404


async def test_a_write_key_reads_and_writes_v1_and_v2(v2: V2) -> None:
    campaign_id, _ = await seed(v2)
    key = await bearer(v2, ApiScope.WRITE)
    async with v2.client(OUTSIDE) as client:
        assert (await client.get(C, headers=key)).status_code == 200
        assert (await client.get(f"{V1}/task", headers=key)).status_code == 200
        made = await client.post(C, json={"target": TARGET, "name": "by key"}, headers=key)
        renamed = await client.patch(f"{C}/{campaign_id}", json={"name": "renamed"}, headers=key)
        paused = await client.post(f"{C}/{campaign_id}/pause", headers=key)
        task = await client.post(f"{V1}/task", json={"innerNum": "201", "name": "v1 by key"}, headers=key)
        put = await client.put(f"{V1}/task/{campaign_id}", json={"state": 1}, headers=key)
        deleted = await client.delete(f"{V1}/task/{made.json()['id']}", headers=key)
    assert (made.status_code, renamed.status_code, paused.status_code) == (201, 200, 200), renamed.text
    assert (task.json()["result"], put.json()["result"], deleted.json()["result"]) == (True, True, True)
    names = {c["name"] for c in (await client_json(v2, C))["items"]}
    assert names == {"renamed", "v1 by key"}


async def test_sessions_tokens_and_exempt_addresses_keep_full_rights(v2: V2) -> None:
    async with v2.client(OUTSIDE) as client:
        login = await client.post("/pbxcore/api/v3/auth:login", json={"login": "admin", "password": "pw"})
        token = {"Authorization": f"Bearer {login.json()['data']['accessToken']}"}
        by_jwt = await client.post(C, json={"target": TARGET, "name": "jwt"}, headers=token)
        client.cookies.clear()
        started = await client.post("/console/login", json={"login": "admin", "password": "pw"})
        csrf = {"X-CSRF-Token": (await client.get("/console/me")).json()["csrf_token"]}
        by_session = await client.post(C, json={"target": TARGET, "name": "session"}, headers=csrf)
    async with v2.client() as client:
        by_address = await client.post(C, json={"target": TARGET, "name": "local"})
    assert started.status_code in (200, 204), started.text
    assert (by_jwt.status_code, by_session.status_code, by_address.status_code) == (201, 201, 201)


async def test_a_read_key_with_a_write_session_cookie_is_still_read(v2: V2) -> None:
    """The Bearer credential decides when it is valid (as before scopes); a cookie sent along adds nothing."""
    key = await bearer(v2, ApiScope.READ)
    async with v2.client(OUTSIDE) as client:
        await client.post("/console/login", json={"login": "admin", "password": "pw"})
        csrf = {"X-CSRF-Token": (await client.get("/console/me")).json()["csrf_token"]}
        reply = await client.post(C, json={"target": TARGET}, headers={**key, **csrf})
    assert reply.status_code == 403 and reply.json()["error_id"] == "api-key-read-only"


async def test_the_openapi_document_names_the_403_on_every_unsafe_operation_only(v2: V2) -> None:
    async with v2.client() as client:
        spec = (await client.get("/api/v2/openapi.json")).json()
    assert "`read`" in spec["info"]["description"] and "api-key-read-only" in spec["info"]["description"]
    operations = [(m.upper(), op) for item in spec["paths"].values() for m, op in item.items()]
    unsafe = [op for m, op in operations if m not in ("GET", "HEAD", "OPTIONS")]
    assert len(unsafe) >= 15
    for op in unsafe:
        forbidden = op["responses"]["403"]
        assert "api-key-read-only" in forbidden["description"]
        assert forbidden["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert all("403" not in op["responses"] for m, op in operations if m == "GET")


async def test_the_refusal_is_logged_with_the_key_name_not_as_a_wrong_password(
    v2: V2, caplog: pytest.LogCaptureFixture
) -> None:
    key = await bearer(v2, ApiScope.READ, name="reports")
    async with v2.client(OUTSIDE) as client:
        await client.delete(f"{C}/1", headers=key)
    messages = [r.getMessage() for r in caplog.records]
    assert any("'reports'" in m and "DELETE needs a write key" in m for m in messages)
    assert not any("Wrong password" in m for m in messages)  # fail2ban's mikopbx-www jail must not ban the CRM
