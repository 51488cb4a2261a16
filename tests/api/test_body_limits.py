"""Bodies are bounded while they arrive (413 with the envelope, per kind of body) and JSON nesting is bounded
everywhere JSON is read (400 with a message, nothing logged as an error): /task, /polling and both login routes,
the latter without any login."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.api.conftest import V1, Api, ApiFactory

DEEP = ("[" * 3000 + "]" * 3000).encode()
TOO_DEEP = ["body: JSON must not be nested deeper than 32 levels"]


def nested(field: str, body: dict[str, Any]) -> bytes:
    """``body`` with ``field`` set to 3,000 nested arrays."""
    text = json.dumps({**body, field: "HOLE"})
    return text.replace('"HOLE"', DEEP.decode()).encode()


ROUTES = [
    ("POST", V1 + "/task", nested("name", {"innerNum": "201"})),
    ("POST", V1 + "/task", nested("numbers", {"innerNum": "201"})),
    ("POST", V1 + "/task", b'{"numbers": [' + DEEP + b"]}"),
    ("PUT", V1 + "/task/1000000001", nested("state", {})),
    ("POST", V1 + "/polling", nested("questions", {"name": "p"})),
    ("POST", V1 + "/polling", DEEP),
    ("POST", "/pbxcore/api/v3/auth:login", nested("login", {"password": "x"})),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES])
async def test_deep_json_is_a_400_naming_the_limit_and_nothing_is_logged(
    api: Api, caplog: pytest.LogCaptureFixture, method: str, path: str, body: bytes
) -> None:
    await api.post("/task", {"crmId": "t", "innerNum": "201"})
    caplog.set_level(logging.INFO)
    response = await api.client.request(method, path, content=body)
    assert response.status_code == 400, response.text
    assert response.json()["result"] is False
    assert response.json()["messages"] == {"error": TOO_DEEP}
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert await api.rows("SELECT crm_id, name FROM tasks") == [("t", "")]
    assert await api.rows("SELECT id FROM polls") == []


@pytest.mark.parametrize("path", ["/admin-cabinet/session/start", "/pbxcore/api/v3/auth:login"])
async def test_login_routes_refuse_deep_json_from_a_stranger(
    make_api: ApiFactory, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    api = await make_api(admin_password="s3cret")
    transport = httpx.ASGITransport(app=api.client._transport.app, client=("203.0.113.9", 40000))  # type: ignore[attr-defined]
    caplog.set_level(logging.INFO)
    async with httpx.AsyncClient(transport=transport, base_url="http://pbx") as stranger:
        response = await stranger.post(path, content=nested("login", {"password": "x"}))
    assert (response.status_code, response.json()["messages"]) == (400, {"error": TOO_DEEP})
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``total`` bytes of a JSON body, sent without a Content-Length (chunked)."""
    yield b'{"innerNum": "201", "name": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_task_body_over_its_limit_is_refused_with_413_while_it_arrives(
    make_api: ApiFactory, declared: bool
) -> None:
    api = await make_api(max_task_body_bytes=100_000)
    received = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal received
        async for chunk in chunks(10_000_000):
            received += len(chunk)
            yield chunk

    if declared:
        body = b'{"innerNum": "201", "name": "' + b"x" * 200_000 + b'"}'
        response = await api.client.post(V1 + "/task", content=body)
    else:
        response = await api.client.post(V1 + "/task", content=counted())
        assert received < 1_000_000  # stopped reading near the limit, not at the end of the body
    assert response.status_code == 413
    payload = response.json()
    assert (payload["result"], payload["data"]) == (False, [])
    assert payload["messages"] == {
        "error": ["body: must be at most 100000 bytes (setting AUTODIALER_MAX_TASK_BODY_BYTES)"]
    }
    assert await api.rows("SELECT id FROM tasks") == []


async def test_other_json_bodies_have_their_own_smaller_limit(make_api: ApiFactory) -> None:
    api = await make_api(max_json_body_bytes=10_000)
    questions = [{"questionId": str(n), "questionText": "x" * 500} for n in range(30)]
    status, payload = await api.post("/polling", {"name": "big", "questions": questions})
    assert status == 413
    assert payload["messages"] == {
        "error": ["body: must be at most 10000 bytes (setting AUTODIALER_MAX_JSON_BODY_BYTES)"]
    }
    status, _ = await api.post("/polling", {"name": "small", "questions": questions[:5]})
    assert status == 200
    # A task body of the same size is within the (larger) task limit.
    status, _ = await api.post(
        "/task", {"innerNum": "201", "name": "x" * 200, "numbers": [str(n) for n in range(2000)]}
    )
    assert status == 200


async def test_a_put_with_a_long_number_list_reads_past_it(api: Api) -> None:
    await api.post("/task", {"crmId": "c", "innerNum": "201", "numbers": ["100"]})
    status, payload = await api.call(
        "PUT", "/task/1000000001", {"numbers": [str(n) for n in range(50_000)], "state": 2}
    )
    assert (status, payload["data"]["state"]) == (200, 2)
    assert await api.rows("SELECT phone FROM task_numbers") == [("100",)]
