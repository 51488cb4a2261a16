"""What a task must have to be stored, and how a re-POST treats a task that completed itself.

- A task needs a target (``innerNum``): ``{}`` or ``{"name": "x"}`` is refused naming the field, nothing stored. A
  re-POST of an existing task may leave it out (the stored one stays), but no write may empty it.
- MikoPBX closes a task (state 1) once every number is final. New numbers re-posted to such a task reopen it; a
  task the CRM itself closed or paused keeps its state, and a re-posted final number stays final (spec §3.2).
- An unknown id says it was not found, in the original's envelope.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import Api

from autodialer.adapters.db.sql_dialer_store import SqlDialerStore

TARGET_REQUIRED = "innerNum: is required: the extension or queue that answered calls are connected to"


@pytest.mark.parametrize("body", [{}, {"name": "x"}, {"name": "x", "numbers": ["100"]}, {"innerNum": ""}])
async def test_a_task_without_a_target_is_refused_and_nothing_is_stored(api: Api, body: dict[str, Any]) -> None:
    status, payload = await api.post("/task", body)
    assert (status, payload["result"], payload["messages"]) == (400, False, {"error": [TARGET_REQUIRED]})
    assert await api.rows("SELECT id FROM tasks") == []
    assert await api.rows("SELECT id FROM task_numbers") == []
    assert api.wakeups == []


async def test_a_polling_task_without_a_poll_is_refused_naming_the_poll_id(api: Api) -> None:
    status, payload = await api.post("/task", {"name": "x", "innerNumType": "polling"})
    assert status == 400
    assert payload["messages"]["error"] == [
        "innerNum: is required: the id of the poll to run (data.id of POST /polling)"
    ]


async def test_a_repost_may_omit_the_target_but_no_write_may_empty_it(api: Api) -> None:
    assert (await api.post("/task", {"crmId": "c", "innerNum": "201", "numbers": ["100"]}))[0] == 200
    status, payload = await api.post("/task", {"crmId": "c", "name": "renamed", "numbers": ["100", "200"]})
    assert (status, payload["data"]["innerNum"], payload["data"]["name"]) == (200, "201", "renamed")
    status, payload = await api.post("/task", {"crmId": "c", "innerNum": "", "numbers": ["300"]})
    assert (status, payload["messages"]) == (400, {"error": [TARGET_REQUIRED]})
    status, payload = await api.call("PUT", "/task/1000000001", {"innerNum": ""})
    assert (status, payload["messages"]) == (400, {"error": [TARGET_REQUIRED]})
    assert await api.rows("SELECT name, inner_num FROM tasks") == [("renamed", "201")]
    assert await api.rows("SELECT phone FROM task_numbers ORDER BY id") == [("100",), ("200",)]


async def test_unknown_ids_say_they_were_not_found(api: Api) -> None:
    status, payload = await api.get("/task/999")
    assert (status, payload["result"], payload["data"]) == (200, False, [])
    assert payload["messages"] == {"error": ["id: no task 999 (never created, or deleted)"]}
    status, payload = await api.get("/polling/999")
    assert (status, payload["result"], payload["messages"]) == (
        200,
        False,
        {"error": ["id: no poll 999 (never created, or deleted)"]},
    )


async def complete_every_number(api: Api) -> None:
    """Every number final, then the dialer's own close (the path the engine takes)."""
    await api.execute("UPDATE task_numbers SET result = 'SUCCESS', close_time = 1724235080")
    for (task_id,) in await api.rows("SELECT id FROM tasks"):
        await SqlDialerStore(api.engine, page_limit=10000).close_task(task_id, api.clock.now())


async def states(api: Api) -> list[tuple[str, int]]:
    return [(r[0], r[1]) for r in await api.rows("SELECT crm_id, state FROM tasks ORDER BY id")]


async def test_new_numbers_reopen_a_task_that_completed_itself(api: Api) -> None:
    await api.post("/task", {"crmId": "done", "innerNum": "201", "numbers": ["100", "200"]})
    await complete_every_number(api)
    assert await states(api) == [("done", 1)]
    status, payload = await api.post("/task", {"crmId": "done", "numbers": ["100", "200", "300"]})
    assert (status, payload["data"]["state"]) == (200, 0)
    assert await states(api) == [("done", 0)]
    rows = await api.rows("SELECT phone, result FROM task_numbers ORDER BY id")
    assert rows == [("100", "SUCCESS"), ("200", "SUCCESS"), ("300", "")]  # re-posted final numbers stay final
    # Once it completes again, the dialer closes it again, and a later re-POST can reopen it again.
    await complete_every_number(api)
    assert await states(api) == [("done", 1)]


async def test_reposting_only_final_numbers_leaves_a_completed_task_closed(api: Api) -> None:
    await api.post("/task", {"crmId": "done", "innerNum": "201", "numbers": ["100", "200"]})
    await complete_every_number(api)
    status, payload = await api.post("/task", {"crmId": "done", "name": "again", "numbers": ["200"]})
    assert (status, payload["data"]["state"]) == (200, "1")
    assert await states(api) == [("done", 1)]


async def test_a_task_the_crm_closed_or_paused_keeps_its_state_when_numbers_come(api: Api) -> None:
    await api.post("/task", {"crmId": "closed", "innerNum": "201", "state": 1, "numbers": ["100"]})
    await api.post("/task", {"crmId": "paused", "innerNum": "201", "numbers": ["100"]})
    await api.post("/task", {"crmId": "put", "innerNum": "201", "numbers": ["100"]})
    await complete_every_number(api)
    await api.call("PUT", "/task/1000000002", {"state": 2})
    await api.call("PUT", "/task/1000000003", {"state": 1})  # the CRM confirms the close: its decision now
    for crm_id in ("closed", "paused", "put"):
        status, _ = await api.post("/task", {"crmId": crm_id, "numbers": ["100", "555"]})
        assert status == 200
    assert await states(api) == [("closed", 1), ("paused", 2), ("put", 1)]


async def test_a_repost_that_sends_a_state_decides_it(api: Api) -> None:
    await api.post("/task", {"crmId": "done", "innerNum": "201", "numbers": ["100"]})
    await complete_every_number(api)
    await api.post("/task", {"crmId": "done", "state": 1, "numbers": ["100", "300"]})
    assert await states(api) == [("done", 1)]
    await api.post("/task", {"crmId": "done", "state": 0, "numbers": ["100", "300"]})
    assert await states(api) == [("done", 0)]
