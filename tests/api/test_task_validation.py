"""Bad task input, field by field: a 4xx with the envelope, a message naming the field and the rule, nothing stored.
Also SQL in ids and crmIds, and CR/LF in every string field (nothing may split an AMI or AGI line)."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import Api

GOOD: dict[str, Any] = {
    "crmId": "c1",
    "name": "n",
    "state": 0,
    "innerNum": "201",
    "innerNumType": "exten",
    "maxCountChannels": 2,
    "dialPrefix": "9",
    "numbers": ["79522233446", {"number": "79522233416", "timeCallAllow": "21.08.2024 10:00:00", "params": {"a": "b"}}],
}


def with_field(path: str, value: Any) -> dict[str, Any]:
    body = {**GOOD, "numbers": [GOOD["numbers"][0], dict(GOOD["numbers"][1])]}
    if path.startswith("numbers[1]."):
        key = path.removeprefix("numbers[1].")
        if key.startswith("params."):
            body["numbers"][1]["params"] = {key.removeprefix("params."): value}
        else:
            body["numbers"][1][key] = value
    elif path == "numbers[0]":
        body["numbers"][0] = value
    else:
        body[path] = value
    return body


BAD = [
    ("id", 0, "id: must be an integer in 1.."),
    ("id", "12a", "id: must be an integer in 1.."),
    ("id", True, "id: must be an integer"),
    ("crmId", ["x"], "crmId: must be a string or an integer"),
    ("crmId", "x" * 256, "crmId: must be at most 255 characters"),
    ("name", {"a": 1}, "name: must be a string"),
    ("name", "n" * 256, "name: must be at most 255 characters"),
    ("state", 3, "state: must be an integer in 0..2"),
    ("state", "open", "state: must be an integer in 0..2"),
    ("state", 1.5, "state: must be an integer in 0..2"),
    ("innerNum", "201@internal", "innerNum: must be an extension"),
    ("innerNum", "", "innerNum: is required"),
    ("innerNumType", "queue", "innerNumType: must be one of 'exten', 'polling'"),
    ("maxCountChannels", 0, "maxCountChannels: must be an integer in 1..100"),
    ("maxCountChannels", 101, "maxCountChannels: must be an integer in 1..100"),
    ("maxCountChannels", False, "maxCountChannels: must be an integer in 1..100"),
    ("dialPrefix", "9,1", "dialPrefix: must match"),
    ("dialPrefix", "9" * 33, "dialPrefix: must be at most 32 characters"),
    ("numbers", "79522233446", "numbers: must be a list"),
    ("numbers[0]", "abc", "numbers[0]: may contain only digits"),
    ("numbers[0]", "+-()", "numbers[0]: must contain digits"),
    ("numbers[0]", "1" * 21, "numbers[0]: must have at most 20 digits"),
    ("numbers[0]", None, "numbers[0]: must be a phone number string or an object"),
    ("numbers[0]", True, "numbers[0]: must be a phone number string or an object"),
    ("numbers[1].number", None, "numbers[1].number: must be a phone number string"),
    ("numbers[1].timeCallAllow", "2024-08-21 10:00:00", "numbers[1].timeCallAllow: must be a date 'd.m.Y H:i:s'"),
    ("numbers[1].timeCallAllow", "31.02.2024 10:00:00", "numbers[1].timeCallAllow: is not a valid date"),
    ("numbers[1].timeCallAllow", "21.08.2024 10:0:00", "numbers[1].timeCallAllow: must be a date"),
    ("numbers[1].params", "x", "numbers[1].params: must be an object"),
    ("numbers[1].params.k", {"nested": 1}, "numbers[1].params.k: must be a string, number, boolean or null"),
    ("numbers[1].params.k", "v" * 1001, "numbers[1].params.k: must be at most 1000 characters"),
    ("retryPolicy", {"busy": {"delayMinutes": -1}}, "retryPolicy.busy.delayMinutes: must be an integer in 0..10080"),
    ("retryPolicy", {"busy": {"maxAttempts": 0}}, "retryPolicy.busy.maxAttempts: must be an integer in 1..20"),
    ("retryPolicy", {"fax": {"maxAttempts": 2}}, "retryPolicy.fax: unknown outcome"),
    ("retryPolicy", {"busy": {"tries": 2}}, "retryPolicy.busy: must be an object with delayMinutes"),
    ("retryPolicy", [1], "retryPolicy: must be an object"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD, ids=[f"{b[0]}={b[1]!r}"[:60] for b in BAD])
async def test_bad_field_is_refused_by_name_and_nothing_is_stored(
    api: Api, field: str, value: Any, message: str
) -> None:
    status, payload = await api.post("/task", with_field(field, value))
    assert 400 <= status < 500
    assert payload["result"] is False and payload["data"] == []
    errors = payload["messages"]["error"]
    assert any(e.startswith(message) for e in errors), errors
    assert await api.rows("SELECT id FROM tasks") == []
    assert await api.rows("SELECT id FROM task_numbers") == []
    assert api.wakeups == []


async def test_good_body_is_accepted(api: Api) -> None:
    status, payload = await api.post(
        "/task", with_field("retryPolicy", {"busy": {"delayMinutes": 5, "maxAttempts": 3}})
    )
    assert (status, payload["result"]) == (200, True)
    assert payload["data"]["retryPolicy"] == {"busy": {"delayMinutes": 5, "maxAttempts": 3}}
    assert await api.rows("SELECT retry_policy FROM tasks") in (
        [({"customer_busy": {"delay_s": 300, "max_retries": 2}},)],
        [('{"customer_busy": {"delay_s": 300, "max_retries": 2}}',)],
    )


STRING_FIELDS = [
    "crmId",
    "name",
    "innerNum",
    "dialPrefix",
    "numbers[0]",
    "numbers[1].number",
    "numbers[1].timeCallAllow",
    "numbers[1].params.k",
]


@pytest.mark.parametrize("field", STRING_FIELDS)
async def test_control_characters_are_refused_in_every_string_field(api: Api, field: str) -> None:
    for bad in ["\r\n", "\n", "\r", "\x00", "\x1b", "\x7f", "\u0085", "\u2028"]:
        status, payload = await api.post("/task", with_field(field, f"201{bad}Action: Originate"))
        assert status == 400, (bad, payload)
        assert any(e.startswith(field) for e in payload["messages"]["error"]), payload
    assert await api.rows("SELECT id FROM tasks") == []


async def test_a_bad_number_deep_in_a_long_list_rolls_back_the_whole_post(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "big", "numbers": ["100"]})
    numbers = [str(10_000 + n) for n in range(12_000)]
    numbers[11_500] = "12;DROP"
    status, payload = await api.post(
        "/task", {"innerNum": "201", "crmId": "big", "name": "changed", "numbers": numbers}
    )
    assert status == 400
    assert payload["messages"]["error"] == [
        "numbers[11500]: may contain only digits, '+', spaces, dashes, dots and brackets"
    ]
    assert await api.rows("SELECT name FROM tasks") == [("",)]
    assert await api.rows("SELECT phone FROM task_numbers") == [("100",)]


async def test_polling_task_must_name_an_existing_poll(api: Api) -> None:
    status, payload = await api.post("/task", {"innerNumType": "polling", "innerNum": "5", "numbers": ["100"]})
    assert status == 400 and payload["messages"]["error"][0].startswith("innerNum: must name an existing poll")
    await api.post("/task", {"crmId": "e", "innerNum": "201"})
    status, _ = await api.post(
        "/task", {"innerNum": "201", "crmId": "e", "innerNumType": "polling"}
    )  # 201 is no poll either
    assert status == 400
    assert await api.rows("SELECT inner_num_type FROM tasks") == [("exten",)]


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"[1,2]", b"NaN", b'{"state": NaN}', b"\xff\xfe", b'"text"', b"null"],
)
async def test_malformed_bodies_are_refused(api: Api, body: bytes) -> None:
    status, payload = await api.call("POST", "/task", raw=body)
    assert status == 400 and payload["result"] is False
    assert payload["messages"]["error"][0].startswith("body:")


async def test_sql_in_ids_and_crm_ids_is_inert(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "keep", "numbers": ["100"]})
    for path in ["/task/1000000001%20OR%201=1", "/task/0%20OR%20id%3E0", "/task/1000000001;DELETE%20FROM%20tasks"]:
        status, payload = await api.call("DELETE", path)
        assert status == 400 and payload["result"] is False
        assert (await api.get(path))[0] == 400
    crm = "x' OR '1'='1"
    _, payload = await api.post("/task", {"innerNum": "201", "crmId": crm, "numbers": ["200"]})
    assert payload["data"]["id"] == "1000000002"
    status, payload = await api.call("PUT", "/task/1", {"crmId": "' OR 1=1 --", "state": 1})
    assert payload["data"] == {"error": "TaskNotFound"}
    assert await api.rows("SELECT crm_id, state FROM tasks ORDER BY id") == [("keep", 0), (crm, 0)]
    assert len(await api.rows("SELECT id FROM task_numbers")) == 2


async def test_oversized_body_is_refused_before_it_is_read_whole(api: Api) -> None:
    response = await api.client.post(
        "/pbxcore/api/module-dialer/v1/task", content=b"{}", headers={"Content-Length": str(2**40)}
    )
    assert response.status_code == 413 and response.json()["messages"]["error"][0].startswith("body:")
