"""POST/PUT/GET/DELETE /task through HTTP: the spec's and the seed's examples as golden JSON, key order included."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.api.conftest import V1, Api

SPEC_TASK = {
    "crmId": "000000123",
    "name": "Debtors",
    "state": 0,
    "innerNum": "201",
    "innerNumType": "exten",
    "maxCountChannels": 2,
    "dialPrefix": "",
    "numbers": [
        "79522233446",
        {"number": "79522233416", "timeCallAllow": "21.08.2024 10:00:00", "params": {"speach": "1000 рублей"}},
    ],
}


def ordered(value: Any) -> str:
    """Key order matters on the wire: compare the JSON text, not the dicts."""
    return json.dumps(value, ensure_ascii=False)


def envelope(data: Any, result: bool = True) -> dict[str, Any]:
    return {"result": result, "data": data, "messages": [], "function": "", "processor": "", "pid": 0}


def without_pid(payload: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(payload["pid"], int) and payload["pid"] > 0
    return {**payload, "pid": 0}


async def test_post_task_golden_spec_example_and_exact_php_formatting(api: Api) -> None:
    response = await api.client.post(V1 + "/task", content=json.dumps(SPEC_TASK))  # no Content-Type, like 1C
    expected = """{
    "result": true,
    "data": {
        "id": "1000000001",
        "crmId": "000000123",
        "name": "Debtors",
        "innerNum": "201",
        "innerNumType": "exten",
        "maxCountChannels": 2,
        "state": 0,
        "dialPrefix": ""
    },
    "messages": [],
    "function": "",
    "processor": "",
    "pid": PID
}"""
    assert response.status_code == 200
    assert re.sub(r'"pid": \d+', '"pid": PID', response.text) == expected
    assert api.wakeups


async def test_seed_example_polling_task_without_crm_id(api: Api) -> None:
    for n in range(9):  # the seed's task uses poll 9
        await api.post("/polling", {"name": f"p{n}", "questions": [{"questionText": "Hi"}]})
    seed = {
        "name": "New polling task",
        "state": 0,
        "innerNum": "9",
        "innerNumType": "polling",
        "maxCountChannels": 1,
        "dialPrefix": "999",
        "numbers": [{"number": "79522233446"}, {"number": "79522233416"}],
    }
    status, payload = await api.post("/task", seed)
    assert status == 200
    data = {
        "id": "1000000001",
        "crmId": "1000000001",
        "name": "New polling task",
        "innerNum": "9",
        "innerNumType": "polling",
        "maxCountChannels": 1,
        "state": 0,
        "dialPrefix": "999",
    }
    assert ordered(without_pid(payload)) == ordered(envelope(data))
    rows = await api.rows("SELECT phone, params_php, time_call_allow FROM task_numbers ORDER BY id")
    assert rows == [("79522233446", 's:0:"";', 0), ("79522233416", 's:0:"";', 0)]


async def test_post_without_optional_fields_answers_null_like_phalcon(api: Api) -> None:
    status, payload = await api.post("/task", {"innerNum": "201", "name": "bare", "numbers": ["100"]})
    assert status == 200
    data = {
        "id": "1000000001",
        "crmId": "1000000001",
        "name": "bare",
        "innerNum": "201",
        "innerNumType": "exten",
        "maxCountChannels": None,
        "state": 0,
        "dialPrefix": None,
    }
    assert ordered(payload["data"]) == ordered(data)


async def test_crm_id_sent_as_a_number_is_echoed_as_a_number_and_stored_as_text(api: Api) -> None:
    _, payload = await api.post("/task", {"innerNum": "201", "crmId": 77, "name": "n"})
    assert payload["data"]["crmId"] == 77
    _, again = await api.post("/task", {"innerNum": "201", "crmId": "77", "name": "renamed"})
    assert again["data"]["id"] == payload["data"]["id"]
    assert await api.rows("SELECT crm_id, name FROM tasks") == [("77", "renamed")]


async def test_ids_count_from_1000000001_and_body_id_forces_the_key(api: Api) -> None:
    first = (await api.post("/task", {"innerNum": "201", "name": "a"}))[1]["data"]
    forced = (await api.post("/task", {"innerNum": "201", "id": "1000000050", "name": "b"}))[1]["data"]
    after = (await api.post("/task", {"innerNum": "201", "name": "c"}))[1]["data"]
    assert (first["id"], forced["id"], forced["crmId"]) == ("1000000001", "1000000050", "1000000050")
    assert int(after["id"]) > 1000000050


async def test_get_task_golden_with_results_and_results_poling(api: Api) -> None:
    await api.post("/polling", {"crmId": "9", "name": "p", "questions": [{"questionId": "0", "questionText": "Q"}]})
    _, created = await api.post(
        "/task",
        {
            "name": "New pollingtask",
            "innerNum": "1",
            "innerNumType": "polling",
            "dialPrefix": "999",
            "maxCountChannels": 1,
            "state": 1,
            "numbers": ["79522233446"],
        },
    )
    task_id = int(created["data"]["id"])
    await api.execute(
        "UPDATE task_numbers SET linked_id='mikopbx-1724235065.54', call_file='dialer-41-79522233446-9.call',"
        " result='SUCCESS_POLLING', state='EVENT_POLLING_END', verbose_call_id='[C-0000001b]',"
        " change_time_us=1724235073000000, close_time=1724235073"
    )
    await api.execute(
        "INSERT INTO poll_answers (task_id, question_crm_id, polling_id, phone_id, phone, result, exten,"
        " change_time_us) VALUES (:t, '0', 1, '9522233446', '79522233446', '1', '1', 1724235071053600)",
        t=task_id,
    )
    status, payload = await api.get(f"/task/{task_id}")
    assert status == 200
    data = {
        "id": str(task_id),
        "crmId": str(task_id),
        "name": "New pollingtask",
        "innerNum": "1",
        "innerNumType": "polling",
        "maxCountChannels": "1",
        "state": "1",
        "dialPrefix": "999",
        "results": [
            {
                "id": "1",
                "taskId": str(task_id),
                "phoneId": "9522233446",
                "phone": "79522233446",
                "linkedId": "mikopbx-1724235065.54",
                "callFile": "dialer-41-79522233446-9.call",
                "result": "SUCCESS_POLLING",
                "outDialState": None,
                "inDialState": None,
                "state": "EVENT_POLLING_END",
                "verboseCallId": "[C-0000001b]",
                "cause": None,
                "params": "",
                "changeTime": "1724235073.000000",
                "countTry": None,
                "timeCallAllow": "0",
                "closeTime": "1724235073",
            }
        ],
        "resultsPoling": [
            {
                "id": "1",
                "taskId": str(task_id),
                "questionCrmId": "0",
                "pollingId": "1",
                "phoneId": "9522233446",
                "phone": "79522233446",
                "result": "1",
                "exten": "1",
                "changeTime": "1724235071.053600",
            }
        ],
    }
    assert ordered(without_pid(payload)) == ordered(envelope(data))


async def test_unknown_and_malformed_task_ids(api: Api) -> None:
    status, payload = await api.get("/task/1000000999")
    not_found = {
        **envelope([], result=False),
        "messages": {"error": ["id: no task 1000000999 (never created, or deleted)"]},
    }
    assert (status, ordered(without_pid(payload))) == (200, ordered(not_found))
    status, payload = await api.get("/task/abc")
    assert status == 400 and payload["result"] is False
    assert payload["messages"] == {"error": ["id: must be an integer in 1..9007199254740991"]}


async def test_put_changes_state_and_echoes_only_sent_fields_in_their_types(api: Api) -> None:
    await api.post("/task", {k: v for k, v in SPEC_TASK.items() if k != "numbers"})
    status, payload = await api.call("PUT", "/task/1000000001", {"state": 1})
    data = {
        "id": "1000000001",
        "crmId": "000000123",
        "name": "Debtors",
        "innerNum": "201",
        "innerNumType": "exten",
        "maxCountChannels": "2",
        "state": 1,
        "dialPrefix": "",
    }
    assert status == 200
    assert ordered(without_pid(payload)) == ordered(envelope(data))
    assert await api.rows("SELECT state FROM tasks") == [(1,)]


async def test_put_unknown_task_is_task_not_found_and_crm_id_in_body_wins(api: Api) -> None:
    status, payload = await api.call("PUT", "/task/1000000005", {"state": 2})
    assert (status, payload["result"], payload["data"]) == (200, False, {"error": "TaskNotFound"})
    await api.post("/task", {"innerNum": "201", "crmId": "C-1", "name": "x"})
    status, payload = await api.call("PUT", "/task/999", {"crmId": "C-1", "state": 2})
    assert payload["result"] is True and payload["data"]["id"] == "1000000001" and payload["data"]["state"] == 2


async def test_put_ignores_numbers(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "a", "numbers": ["100", "200"]})
    await api.call("PUT", "/task/1000000001", {"numbers": ["300"], "name": "n"})
    assert await api.rows("SELECT phone FROM task_numbers ORDER BY id") == [("100",), ("200",)]


async def test_list_tasks_filters_and_keyset_offset(api: Api) -> None:
    for n in range(5):
        await api.post("/task", {"innerNum": "201", "name": f"t{n}", "state": n % 2})
    _, payload = await api.get("/task")
    assert [t["id"] for t in payload["data"]["results"]] == [str(1000000001 + n) for n in range(5)]
    assert payload["data"]["results"][0] == {
        "id": "1000000001",
        "crmId": "1000000001",
        "name": "t0",
        "innerNum": "201",
        "innerNumType": "exten",
        "maxCountChannels": "1",
        "state": "0",
        "dialPrefix": "",
    }
    _, payload = await api.get("/task?state=0&limit=2&offset=1000000001")
    assert [t["id"] for t in payload["data"]["results"]] == ["1000000003", "1000000005"]
    _, payload = await api.get("/task?state=&limit=&offset=")
    assert len(payload["data"]["results"]) == 5
    status, payload = await api.get("/task?offset=1;DROP TABLE tasks")
    assert status == 400 and payload["messages"]["error"][0].startswith("offset:")


async def test_delete_task_soft_deletes_and_keeps_live_rows_until_their_call_ends(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "D", "numbers": ["100", "200"]})
    await api.execute("UPDATE task_numbers SET active_attempt_id='call-1' WHERE phone='200'")
    wakeups = len(api.wakeups)
    assert (await api.call("DELETE", "/task/1000000001"))[1]["result"] is True
    assert len(api.wakeups) == wakeups + 1
    assert (await api.get("/task/1000000001"))[1]["result"] is False
    assert await api.rows("SELECT phone, pending_delete FROM task_numbers") == [("200", True)]
    assert (await api.get("/task"))[1]["data"]["results"] == []
    # The crmId is free again: a new task, not the deleted one.
    _, payload = await api.post("/task", {"innerNum": "201", "crmId": "D", "numbers": ["100"]})
    assert payload["data"]["id"] == "1000000002"
    # Unknown ids: true, as the original.
    assert (await api.call("DELETE", "/task/1000000777"))[1]["result"] is True


async def test_post_with_the_id_of_a_deleted_task_is_a_conflict(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "name": "x"})
    await api.call("DELETE", "/task/1000000001")
    status, payload = await api.post("/task", {"innerNum": "201", "id": 1000000001, "name": "again"})
    assert status == 409 and payload["messages"]["error"][0].startswith("id:")


async def test_body_is_json_whatever_the_content_type(api: Api) -> None:
    for index, content_type in enumerate([None, "application/x-www-form-urlencoded", "text/plain", "application/json"]):
        headers = {} if content_type is None else {"Content-Type": content_type}
        body = json.dumps({"crmId": f"ct{index}", "innerNum": "201", "numbers": ["100"]})
        response = await api.client.post(V1 + "/task", content=body, headers=headers)
        assert response.json()["result"] is True, content_type
    assert len(await api.rows("SELECT id FROM tasks")) == 4


async def test_delete_and_task_not_found_golden_envelopes(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "name": "x"})
    status, payload = await api.call("DELETE", "/task/1000000001")
    assert (status, ordered(without_pid(payload))) == (200, ordered(envelope([])))
    status, payload = await api.call("PUT", "/task/1000000001", {"state": 1})
    assert (status, ordered(without_pid(payload))) == (200, ordered(envelope({"error": "TaskNotFound"}, False)))
