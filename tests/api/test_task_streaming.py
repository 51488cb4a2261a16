"""GET /task/{id} is streamed page by page, and its bytes are exactly those of the whole envelope rendered at once."""

from __future__ import annotations

import pytest
from tests.api.conftest import V1, Api

from autodialer.adapters.db.task_repository import SqlTaskRepository
from autodialer.api.envelope import envelope, render_json
from autodialer.api.fast_json import RowsJson
from autodialer.api.mikopbx_v1.rows import ANSWER_KEYS, NUMBER_KEYS, task_row
from autodialer.api.routes import tasks


async def rendered_at_once(api: Api, task_id: int) -> bytes:
    repository = SqlTaskRepository(api.engine, page_limit=10000)
    row = await repository.task(task_id)
    assert row is not None
    numbers = [r async for page in repository.number_pages(task_id, 10**9) for r in page]
    answers = [r async for page in repository.answer_pages(task_id, 10**9) for r in page]
    data = {**task_row(row), "results": RowsJson(NUMBER_KEYS, numbers), "resultsPoling": RowsJson(ANSWER_KEYS, answers)}
    return render_json(envelope(True, data))


@pytest.mark.parametrize("page_rows", [1, 7, 2000])
async def test_the_streamed_task_is_byte_identical_to_the_envelope_rendered_at_once(
    api: Api, monkeypatch: pytest.MonkeyPatch, page_rows: int
) -> None:
    numbers: list[object] = [f"7{n:010d}" for n in range(50)]
    numbers += [{"number": "79522233416", "params": {"speach": "1000 рублей", "q": 'a"b\\/'}}]
    await api.post("/task", {"crmId": "s", "innerNum": "201", "numbers": numbers})
    await api.execute("DELETE FROM task_numbers WHERE phone = '70000000007'")  # a gap in the ids
    await api.execute("UPDATE task_numbers SET pending_delete = true WHERE phone = '70000000009'")  # not shown
    for n in range(23):
        await api.execute(
            "INSERT INTO poll_answers (task_id, question_crm_id, polling_id, phone_id, phone, result, exten,"
            " change_time_us) VALUES (1000000001, 'q', 1, '9522233416', '79522233416', :r, '1', :t)",
            r=f"ответ {n}",
            t=1_724_235_071_000_000 + n,
        )
    monkeypatch.setattr(tasks, "PAGE_ROWS", page_rows)
    response = await api.client.get(V1 + "/task/1000000001")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.content == await rendered_at_once(api, 1000000001)
    data = response.json()["data"]
    assert len(data["results"]) == 49 and len(data["resultsPoling"]) == 23
    assert "70000000009" not in {r["phone"] for r in data["results"]}


async def test_a_task_without_rows_streams_empty_lists(api: Api) -> None:
    await api.post("/task", {"crmId": "e", "innerNum": "201"})
    response = await api.client.get(V1 + "/task/1000000001")
    assert response.content == await rendered_at_once(api, 1000000001)
    assert (response.json()["data"]["results"], response.json()["data"]["resultsPoling"]) == ([], [])
