"""POST /task with a body ``id`` (spec §3.2: "When ``id`` was given, the new task gets PK=``id``"): an id another
task already holds is refused naming ``id``, with nothing stored. It used to surface as the unique-key race of two
concurrent creations ("crmId: was created by a concurrent request; retry"), which named the wrong field and invited
a client to retry forever."""

from __future__ import annotations

from tests.api.conftest import Api


async def test_a_body_id_of_another_task_is_refused_naming_id(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "first", "numbers": ["100"]})
    status, payload = await api.post(
        "/task", {"innerNum": "201", "crmId": "second", "id": 1000000001, "numbers": ["200"]}
    )
    assert status == 409
    errors = payload["messages"]["error"]
    assert len(errors) == 1 and errors[0].startswith("id: ") and "retry" not in errors[0], errors
    assert await api.rows("SELECT crm_id FROM tasks") == [("first",)]
    assert await api.rows("SELECT phone FROM task_numbers") == [("100",)]
    # The same id with its own crmId (or without one) is the ordinary merge.
    status, payload = await api.post("/task", {"innerNum": "201", "crmId": "first", "id": 1000000001, "name": "merged"})
    assert (status, payload["data"]["id"], payload["data"]["name"]) == (200, 1000000001, "merged")


async def test_a_body_id_of_a_deleted_task_with_a_new_crm_id_is_refused_naming_id(api: Api) -> None:
    await api.post("/task", {"innerNum": "201", "crmId": "gone"})
    await api.call("DELETE", "/task/1000000001")
    status, payload = await api.post("/task", {"innerNum": "201", "crmId": "fresh", "id": 1000000001})
    assert status == 409
    assert payload["messages"]["error"] == ["id: task 1000000001 was deleted; post without id to create a new task"]


async def test_a_task_without_crm_id_takes_its_id_unless_another_task_holds_it(api: Api) -> None:
    """The check and the write are one statement (task_repository.take_id_as_crm_id): the id is taken when free,
    and the new task is refused (nothing stored) when another task's crmId is that id."""
    status, payload = await api.post("/task", {"innerNum": "201", "numbers": ["100"]})
    assert (status, payload["data"]["id"], payload["data"]["crmId"]) == (200, "1000000001", "1000000001")
    await api.post("/task", {"innerNum": "201", "crmId": "1000000003", "numbers": ["200"]})  # id 1000000002
    status, payload = await api.post("/task", {"innerNum": "201", "numbers": ["300"]})
    assert status == 409
    assert payload["messages"]["error"] == [
        "crmId: the new task's id 1000000003 is another task's crmId; send a crmId"
    ], payload
    assert await api.rows("SELECT id, crm_id FROM tasks ORDER BY id") == [
        (1000000001, "1000000001"),
        (1000000002, "1000000003"),
    ]
    assert await api.rows("SELECT phone FROM task_numbers ORDER BY phone") == [("100",), ("200",)]
