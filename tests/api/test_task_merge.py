"""Re-POSTing a task: the numbers list is authoritative, except that a missing list keeps the numbers and a number
in a live call is never deleted under it; posted numbers that exist keep their progress but get a new changeTime."""

from __future__ import annotations

import asyncio

from tests.api.conftest import Api


async def numbers(api: Api) -> list[tuple[object, ...]]:
    return await api.rows(
        "SELECT phone, state, result, close_time, params_php, time_call_allow, pending_delete"
        " FROM task_numbers ORDER BY phone"
    )


async def test_list_is_authoritative_and_existing_rows_keep_their_progress(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "m", "numbers": ["100", "200", "300"]})
    await api.execute(
        "UPDATE task_numbers SET state='endCall', result='SUCCESS', close_time=1724235080 WHERE phone='200'"
    )
    before = dict(await api.rows("SELECT phone, change_time_us FROM task_numbers"))
    api.clock.t += 60
    payload = {
        "crmId": "m",
        "numbers": [{"number": "200", "timeCallAllow": "1.9.2024 9:00:00", "params": {"a": "1"}}, "400"],
    }
    status, _ = await api.post("/task", payload)
    assert status == 200
    assert await numbers(api) == [
        ("200", "endCall", "SUCCESS", 1724235080, 'a:1:{s:1:"a";s:1:"1";}', 1725170400, False),
        ("400", "CreateTask", "", 0, "", 0, False),
    ]
    after = dict(await api.rows("SELECT phone, change_time_us FROM task_numbers"))
    assert after["200"] > before["200"]  # delivered again by /results


async def test_missing_numbers_keeps_them_and_does_not_touch_change_times(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "m", "numbers": ["100", "200"]})
    before = await api.rows("SELECT phone, change_time_us FROM task_numbers ORDER BY id")
    await api.post("/task", {"innerNum": "201", "crmId": "m", "name": "renamed", "state": 2})
    assert await api.rows("SELECT phone, change_time_us FROM task_numbers ORDER BY id") == before
    assert await api.rows("SELECT name, state FROM tasks") == [("renamed", 2)]


async def test_number_in_a_live_call_is_only_marked_and_hidden(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "m", "numbers": ["100", "200"]})
    await api.execute("UPDATE task_numbers SET active_attempt_id='c1', state='CreateCallFile' WHERE phone='100'")
    await api.post("/task", {"innerNum": "201", "crmId": "m", "numbers": ["200"]})
    assert [(r[0], r[-1]) for r in await numbers(api)] == [("100", True), ("200", False)]
    _, payload = await api.get("/task/1000000001")
    assert [r["phone"] for r in payload["data"]["results"]] == ["200"]
    # Posted again while still in the call: it is wanted after all.
    await api.post("/task", {"innerNum": "201", "crmId": "m", "numbers": ["100", "200"]})
    assert [(r[0], r[1], r[-1]) for r in await numbers(api)] == [
        ("100", "CreateCallFile", False),
        ("200", "CreateTask", False),
    ]


async def test_empty_list_removes_every_number_not_in_a_call(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "m", "numbers": ["100", "200"]})
    await api.post("/task", {"innerNum": "201", "crmId": "m", "numbers": []})
    assert await numbers(api) == []


async def test_duplicates_and_spellings_of_one_number_are_one_row_last_wins(api: Api) -> None:
    body = {
        "crmId": "m",
        "innerNum": "201",
        "numbers": ["+7 (952) 223-34-46", {"number": "79522233446", "params": {"k": "v"}}, "89522233446"],
    }
    status, _ = await api.post("/task", body)
    assert status == 200
    rows = await api.rows("SELECT phone_id, phone, dial_digits, params_php FROM task_numbers")
    # Same phoneId: the first spelling stays as the row's phone, the last post's params win.
    assert rows == [("9522233446", "+7 (952) 223-34-46", "79522233446", "")]


async def test_change_times_are_unique_and_increasing_in_list_order(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "m", "numbers": [str(100 + n) for n in range(50)]})
    times = [r[0] for r in await api.rows("SELECT change_time_us FROM task_numbers ORDER BY id")]
    assert times == sorted(set(times)) and len(times) == 50
    await api.post("/task", {"innerNum": "201", "crmId": "other", "numbers": ["999"]})
    (later,) = (await api.rows("SELECT change_time_us FROM task_numbers WHERE phone='999'"))[0]
    assert later > times[-1]


async def test_crm_id_lookup_before_id_and_new_task_when_not_found(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "A", "name": "a"})
    await api.post("/task", {"innerNum": "201", "crmId": "B", "name": "b"})
    _, payload = await api.post("/task", {"innerNum": "201", "id": 1000000001, "crmId": "B", "name": "b2"})
    assert payload["data"]["id"] == "1000000002"  # found by crmId: the real id, not the one sent
    assert await api.rows("SELECT id, crm_id, name FROM tasks ORDER BY id") == [
        (1000000001, "A", "a"),
        (1000000002, "B", "b2"),
    ]
    await api.post("/task", {"innerNum": "201", "id": "1000000001", "name": "by id"})
    assert (await api.rows("SELECT name FROM tasks WHERE id=1000000001")) == [("by id",)]


async def test_every_write_wakes_the_dialer(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "w", "numbers": ["100"]})
    await api.call("PUT", "/task/1000000001", {"state": 2})
    await api.call("DELETE", "/task/1000000001")
    assert len(api.wakeups) == 3
    await api.post("/task", {"innerNum": "201", "maxCountChannels": 0})
    await api.call("PUT", "/task/1000000009", {"state": 1})
    assert len(api.wakeups) == 3


async def test_concurrent_posts_of_one_new_crm_id_make_one_task(api: Api) -> None:
    bodies = [{"crmId": "race", "innerNum": "201", "name": f"n{k}", "numbers": [str(100 + k)]} for k in range(6)]
    results = await asyncio.gather(*(api.post("/task", body) for body in bodies))
    assert [status for status, _ in results] == [200] * 6
    assert {payload["data"]["id"] for _, payload in results} == {"1000000001"}
    assert len(await api.rows("SELECT id FROM tasks")) == 1
    assert len(await api.rows("SELECT id FROM task_numbers")) == 1  # each post's list is authoritative
