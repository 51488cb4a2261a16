"""PHP semantics of the original ModuleAutoDialer that reach the wire (mikopbx/ModuleAutoDialer bin/ConnectorDB.php,
Models/Tasks.php; spec §3.2):

- ``getTasks`` applies ``limit``/``offset`` only when ``!empty(...)`` (``"0"`` is empty in PHP) and ``state`` only
  when ``trim($state) !== ''``;
- ``changeTask`` merges a body with ``$data[$key] ?? $oldValue``: a JSON null is the same as an absent key (the stored
  value stays and is echoed), for POST and PUT; ``addPolling`` does the same for ``name``;
- ``changeTask`` then runs ``if (empty($task->state)) $task->state = Tasks::STATE_OPEN`` with ``STATE_OPEN = 0`` (an
  int), so whenever the task ends up open the POST/PUT answer carries ``"state": 0`` as a number, even for ``"0"`` or
  when the body did not send ``state`` (the stored ``"0"`` is empty too).
"""

from __future__ import annotations

from tests.api.conftest import Api


async def test_list_limit_and_offset_zero_mean_no_limit_and_blank_state_no_filter(api: Api) -> None:
    for n in range(3):
        await api.post("/task", {"innerNum": "201", "name": f"t{n}", "state": n % 2})
    for query in ("?limit=0", "?offset=0", "?limit=0&offset=0", "?state=%20", "?state=&limit=0"):
        status, payload = await api.get("/task" + query)
        assert status == 200, (query, payload)
        assert [t["id"] for t in payload["data"]["results"]] == ["1000000001", "1000000002", "1000000003"], query
    _, payload = await api.get("/task?state=0&limit=0")
    assert [t["id"] for t in payload["data"]["results"]] == ["1000000001", "1000000003"]


async def test_null_fields_on_a_repost_keep_the_stored_values(api: Api) -> None:
    await api.post(
        "/task", {"crmId": "n", "name": "x", "innerNum": "201", "dialPrefix": "9", "maxCountChannels": 3, "state": 2}
    )
    body = {
        "crmId": "n",
        "name": None,
        "innerNum": None,
        "innerNumType": None,
        "dialPrefix": None,
        "maxCountChannels": None,
        "state": None,
    }
    status, payload = await api.post("/task", body)
    assert status == 200, payload
    assert payload["data"] == {
        "id": "1000000001",
        "crmId": "n",
        "name": "x",
        "innerNum": "201",
        "innerNumType": "exten",
        "maxCountChannels": "3",
        "state": "2",
        "dialPrefix": "9",
    }
    assert await api.rows("SELECT name, inner_num, dial_prefix, max_count_channels, state FROM tasks") == [
        ("x", "201", "9", 3, 2)
    ]


async def test_null_fields_on_a_new_task_are_as_if_absent(api: Api) -> None:
    body = {"crmId": None, "id": None, "name": "a", "maxCountChannels": None, "innerNumType": None, "numbers": None}
    body["innerNum"] = "201"
    status, payload = await api.post("/task", body)
    assert status == 200, payload
    assert payload["data"] == {
        "id": "1000000001",
        "crmId": "1000000001",
        "name": "a",
        "innerNum": "201",
        "innerNumType": "exten",
        "maxCountChannels": None,
        "state": 0,
        "dialPrefix": None,
    }
    assert await api.rows("SELECT max_count_channels, inner_num_type FROM tasks") == [(1, "exten")]


async def test_put_with_nulls_changes_nothing_it_nulls(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "p", "name": "keep", "state": 1})
    status, payload = await api.call("PUT", "/task/1000000001", {"name": None, "state": 2})
    assert status == 200
    assert (payload["data"]["name"], payload["data"]["state"]) == ("keep", 2)
    assert await api.rows("SELECT name, state FROM tasks") == [("keep", 2)]


async def test_an_open_task_is_echoed_with_state_zero_as_a_number(api: Api) -> None:
    _, payload = await api.post("/task", {"innerNum": "201", "crmId": "s", "state": "0"})
    assert payload["data"]["state"] == 0  # "0" is empty(): forced to Tasks::STATE_OPEN (int 0)
    _, payload = await api.post("/task", {"innerNum": "201", "crmId": "s", "name": "no state sent"})
    assert payload["data"]["state"] == 0  # the stored "0" is empty() as well
    _, payload = await api.call("PUT", "/task/1000000001", {"name": "again"})
    assert payload["data"]["state"] == 0
    _, payload = await api.call("PUT", "/task/1000000001", {"state": "2"})
    assert payload["data"]["state"] == "2"  # not empty: echoed as sent
    _, payload = await api.call("PUT", "/task/1000000001", {"name": "paused"})
    assert payload["data"]["state"] == "2"  # stored, a string
    _, payload = await api.get("/task/1000000001")
    assert payload["data"]["state"] == "2"


async def test_polling_name_null_keeps_and_echoes_the_stored_name(api: Api) -> None:
    await api.post("/polling", {"crmId": "p", "name": "Survey", "questions": [{"questionText": "q"}]})
    status, payload = await api.post("/polling", {"crmId": "p", "name": None, "questions": [{"questionText": "q"}]})
    assert status == 200
    assert payload["data"] == {"id": "1", "crmId": "p", "name": "Survey"}
    _, listed = await api.get("/polling")
    assert listed["data"]["results"][0]["name"] == "Survey"
