"""v2 campaigns over HTTP (SQLite and PostgreSQL): every route, bad input as problem+json naming the field, the
auth gate, and v1 seeing what v2 wrote."""

from __future__ import annotations

import re

from conftest import V2

C = "/api/v2/campaigns"
TARGET = {"kind": "extension", "value": "201"}
PROBLEM = "application/problem+json"
RETRY = "retry_policy.customer_busy"


async def create(v2: V2, **body: object) -> dict[str, object]:
    async with v2.client() as client:
        reply = await client.post(C, json={"target": TARGET, **body})
    assert reply.status_code == 201, reply.text
    return reply.json()


def fields(reply: object) -> list[str]:
    body = reply.json()  # type: ignore[attr-defined]
    assert reply.headers["content-type"] == PROBLEM  # type: ignore[attr-defined]
    assert body["status"] == reply.status_code  # type: ignore[attr-defined]
    return [e["field"] for e in body["errors"]]


async def test_create_answers_the_campaign_with_its_location_and_wakes_the_dialer(v2: V2) -> None:
    async with v2.client() as client:
        reply = await client.post(
            C,
            json={
                "name": "Debt reminders",
                "external_id": "crm-7",
                "target": {"kind": "extension", "value": "2001"},
                "lines": 3,
                "dial_prefix": "9",
                "retry_policy": {"customer_busy": {"delay_s": 60, "max_retries": 0}},
                "pacing": {"mode": "progressive"},
            },
        )
    assert reply.status_code == 201
    body = reply.json()
    assert reply.headers["location"] == f"/api/v2/campaigns/{body['id']}"
    assert body["id"] == 1_000_000_001 and body["external_id"] == "crm-7" and body["state"] == "active"
    assert body["target"] == {"kind": "extension", "value": "2001"} and body["lines"] == 3
    assert body["retry_policy"] == {"customer_busy": {"delay_s": 60, "max_retries": 0}}
    assert body["created_at"].startswith("2024-08-21T10:11:13")
    assert v2.wakeups


async def test_v1_sees_a_v2_campaign_as_a_task(v2: V2) -> None:
    made = await create(v2, name="x", lines=2)
    async with v2.client() as client:
        reply = await client.get(f"/pbxcore/api/module-dialer/v1/task/{made['id']}")
    data = reply.json()["data"]
    wire = (data["innerNum"], data["innerNumType"], data["maxCountChannels"], data["state"])
    assert wire == ("201", "exten", "2", "0")


async def test_bad_create_bodies_name_each_field(v2: V2) -> None:
    cases = [
        ({}, ["target"]),
        ({"target": {"kind": "queue", "value": "1"}}, ["target.kind"]),
        ({"target": {"kind": "extension", "value": "20 1"}}, ["target.value"]),
        ({"target": TARGET, "lines": 0}, ["lines"]),
        ({"target": TARGET, "dial_prefix": "9a"}, ["dial_prefix"]),
        ({"target": TARGET, "colour": "red"}, ["colour"]),
        ({"target": TARGET, "retry_policy": {"customer_busy": {"delay_s": -1}}}, [f"{RETRY}.delay_s"]),
        # found by schemathesis: lax pydantic stored a boolean as 0/1
        ({"target": TARGET, "retry_policy": {"customer_busy": {"max_retries": False}}}, [f"{RETRY}.max_retries"]),
        ({"target": TARGET, "retry_policy": {"customer_busy": {"delay_s": True}}}, [f"{RETRY}.delay_s"]),
        ({"target": TARGET, "lines": True}, ["lines"]),
        ({"target": TARGET, "pacing": {"mode": "turbo"}}, ["pacing.mode"]),
        ({"target": {"kind": "poll", "value": "77"}}, ["target.value"]),  # no such poll
    ]
    async with v2.client() as client:
        for body, expected in cases:
            reply = await client.post(C, json=body)
            assert reply.status_code == 422, body
            assert fields(reply) == expected, body
        broken = await client.post(C, content=b"{not json", headers={"content-type": "application/json"})
        assert broken.status_code == 422 and broken.headers["content-type"] == PROBLEM
        listed = await client.get(C)
    assert listed.json()["items"] == []  # nothing stored


async def test_lines_above_the_settings_ceiling_are_refused(v2: V2) -> None:
    async with v2.client() as client:
        reply = await client.post(C, json={"target": TARGET, "lines": 101})
    assert reply.status_code == 422 and fields(reply) == ["lines"]
    assert "1..100" in reply.json()["detail"]


async def test_an_external_id_in_use_is_a_conflict_not_a_merge(v2: V2) -> None:
    await create(v2, external_id="crm-1", name="first")
    async with v2.client() as client:
        reply = await client.post(C, json={"target": TARGET, "external_id": "crm-1", "name": "second"})
        first = await client.get(f"{C}/1000000001")
    assert reply.status_code == 409 and fields(reply) == ["external_id"]
    assert first.json()["name"] == "first"


async def test_read_missing_and_malformed_ids(v2: V2) -> None:
    made = await create(v2)
    async with v2.client() as client:
        assert (await client.get(f"{C}/{made['id']}")).json() == made
        missing = await client.get(f"{C}/5")
        assert missing.status_code == 404 and fields(missing) == ["campaign_id"]
        for bad in ("abc", "0", str(2**60)):
            reply = await client.get(f"{C}/{bad}")
            assert reply.status_code == 422 and fields(reply) == ["campaign_id"], bad


async def test_list_pages_with_a_cursor_and_filters_by_state(v2: V2) -> None:
    ids = [(await create(v2, name=f"c{i}"))["id"] for i in range(5)]
    async with v2.client() as client:
        await client.post(f"{C}/{ids[1]}/pause")
        seen: list[object] = []
        cursor = None
        while True:
            params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (await client.get(C, params=params)).json()
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        paused = (await client.get(C, params={"state": "paused"})).json()["items"]
        bad_cursor = await client.get(C, params={"cursor": "bm9wZQ"})
        bad_limit = await client.get(C, params={"limit": 1001})
    assert seen == ids
    assert [c["id"] for c in paused] == [ids[1]]
    assert bad_cursor.status_code == 422 and fields(bad_cursor) == ["cursor"]
    assert bad_limit.status_code == 422 and fields(bad_limit) == ["limit"]


async def test_patch_changes_only_what_is_sent_and_null_retry_policy_clears_it(v2: V2) -> None:
    made = await create(v2, name="a", retry_policy={"agent_busy": {"max_retries": 1}})
    url = f"{C}/{made['id']}"
    async with v2.client() as client:
        changed = (await client.patch(url, json={"lines": 4})).json()
        assert changed["lines"] == 4 and changed["name"] == "a" and changed["retry_policy"] is not None
        cleared = (await client.patch(url, json={"retry_policy": None})).json()
        assert cleared["retry_policy"] is None
        bad = await client.patch(url, json={"target": {"kind": "poll", "value": "9"}})
        assert bad.status_code == 422 and fields(bad) == ["target.value"]
        missing = await client.patch(f"{C}/42", json={"name": "x"})
        assert missing.status_code == 404


async def test_pause_resume_and_delete(v2: V2) -> None:
    made = await create(v2)
    url = f"{C}/{made['id']}"
    async with v2.client() as client:
        assert (await client.post(f"{url}/pause")).json()["state"] == "paused"
        v2.wakeups.clear()
        assert (await client.post(f"{url}/resume")).json()["state"] == "active"
        assert v2.wakeups
        deleted = await client.delete(url)
        assert deleted.status_code == 204 and deleted.content == b""
        assert (await client.get(url)).status_code == 404
        assert (await client.delete(url)).status_code == 404
        assert (await client.post(f"{url}/pause")).status_code == 404


async def test_unknown_route_and_method_are_problems(v2: V2) -> None:
    async with v2.client() as client:
        unknown = await client.get("/api/v2/nothing")
        wrong = await client.put(C)
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    assert wrong.status_code == 405 and wrong.headers["content-type"] == PROBLEM


async def test_the_auth_gate_guards_v2_with_problem_json(v2: V2) -> None:
    auth = v2.app.state.auth_service
    key = await auth.create_api_key("crm")
    async with v2.client(host="203.0.113.9") as client:
        refused = await client.get(C)
        docs = await client.get("/api/docs")
        bad_key = await client.get(C, headers={"Authorization": "Bearer nope"})
        allowed = await client.get(C, headers={"Authorization": f"Bearer {key.key}"})
    assert refused.status_code == 401 and refused.headers["content-type"] == PROBLEM
    assert refused.json()["error_id"] == "not-authenticated"
    assert docs.status_code == 401 and bad_key.status_code == 401
    assert allowed.status_code == 200


async def test_openapi_31_and_a_docs_page_without_outside_assets(v2: V2) -> None:
    async with v2.client() as client:
        spec = (await client.get("/api/v2/openapi.json")).json()
        page = await client.get("/api/docs")
    assert spec["openapi"].startswith("3.1")
    assert "/campaigns/{campaign_id}/numbers/{number_id}/explain" in spec["paths"]
    assert page.status_code == 200 and "/api/v2/openapi.json" in page.text
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)  # no CDN


async def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(v2: V2) -> None:
    body = {"target": TARGET, "name": "once"}
    key = {"Idempotency-Key": "create-once-1"}
    async with v2.client() as client:
        first = await client.post(C, json=body, headers=key)
        again = await client.post(C, json=body, headers=key)
        other = await client.post(C, json={**body, "name": "twice"}, headers=key)
        other_path = await client.post(f"{C}/{first.json()['id']}/pause", headers=key)
        listed = (await client.get(C)).json()["items"]
        bad_key = await client.post(C, json=body, headers={"Idempotency-Key": "k" * 256})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    assert again.headers["idempotency-replayed"] == "true"
    assert other.status_code == 422 and fields(other) == ["Idempotency-Key"]
    assert other_path.status_code == 422
    assert [c["name"] for c in listed] == ["once"]
    assert bad_key.status_code == 422 and fields(bad_key) == ["Idempotency-Key"]


async def test_openapi_documents_the_idempotency_key_on_every_post(v2: V2) -> None:
    async with v2.client() as client:
        spec = (await client.get("/api/v2/openapi.json")).json()
    posts = [item["post"] for item in spec["paths"].values() if "post" in item]
    assert len(posts) >= 9  # campaigns, pause, resume, numbers (JSON, CSV), polls, audio, the do-not-call lists
    key = {"$ref": "#/components/parameters/IdempotencyKey"}
    assert all(key in post["parameters"] and "409" in post["responses"] for post in posts)
    header = spec["components"]["parameters"]["IdempotencyKey"]
    assert header["in"] == "header" and header["name"] == "Idempotency-Key" and header["schema"]["maxLength"] == 255


async def test_a_failed_request_frees_its_key_and_keys_are_per_client(v2: V2) -> None:
    key = {"Idempotency-Key": "k-2"}
    async with v2.client() as client:
        refused = await client.post(C, json={"target": TARGET, "lines": 0}, headers=key)
        fixed = await client.post(C, json={"target": TARGET, "lines": 2}, headers=key)
    auth = v2.app.state.auth_service
    token = (await auth.create_api_key("other")).key
    async with v2.client(host="203.0.113.9") as client:
        elsewhere = await client.post(
            C, json={"target": TARGET, "lines": 2}, headers={**key, "Authorization": f"Bearer {token}"}
        )
    assert refused.status_code == 422 and fixed.status_code == 201
    assert elsewhere.status_code == 201 and "idempotency-replayed" not in elsewhere.headers
    assert elsewhere.json()["id"] != fixed.json()["id"]


async def test_a_body_over_the_limit_is_refused_before_it_is_read(v2: V2) -> None:
    async with v2.client() as client:
        big = b'{"name": "' + b"x" * (5 * 1024 * 1024) + b'"}'
        reply = await client.post(C, content=big, headers={"content-type": "application/json"})
    assert reply.status_code == 413 and fields(reply) == ["body"]
    assert "AUTODIALER_MAX_JSON_BODY_BYTES" in reply.json()["detail"]


async def test_every_v2_operation_is_behind_the_gate(v2: V2) -> None:
    async with v2.client() as local:
        paths = (await local.get("/api/v2/openapi.json")).json()["paths"]
    operations = [(method.upper(), path) for path, methods in paths.items() for method in methods]
    assert len(operations) >= 12
    async with v2.client(host="198.51.100.7") as client:
        for method, path in operations:
            url = "/api/v2" + path.replace("{campaign_id}", "1000000001").replace("{number_id}", "1")
            reply = await client.request(method, url, json={})
            assert reply.status_code == 401, (method, path)
            assert reply.headers["content-type"] == PROBLEM
        spec_refused = await client.get("/api/v2/openapi.json")
    assert spec_refused.status_code == 401


async def test_a_session_cookie_opens_v2_as_it_opens_v1(v2: V2) -> None:
    async with v2.client(host="198.51.100.7") as client:
        login = await client.post(
            "/admin-cabinet/session/start",
            content=b"login=admin&password=pw",
            headers={"X-Requested-With": "XMLHttpRequest", "Content-Type": "application/x-www-form-urlencoded"},
        )
        assert login.json()["success"] is True
        # A state-changing request made with the cookie must echo the session's CSRF token (api/console/csrf.py).
        refused = await client.post(C, json={"target": TARGET})
        assert refused.status_code == 403 and refused.json()["error_id"] == "csrf-token-missing"
        token = (await client.get("/console/me")).json()["csrf_token"]
        created = await client.post(C, json={"target": TARGET}, headers={"X-CSRF-Token": token})
    assert created.status_code == 201
