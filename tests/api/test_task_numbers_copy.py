"""A new task's numbers on PostgreSQL go in by COPY (adapters/db/task_repository.py): the rows stored are those the
upsert stores, on both back ends. The same body is posted twice: to a new task (COPY on PostgreSQL) and to a task
that exists already without numbers (the upsert), and the two tasks' rows are compared column by column."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import Api

from autodialer.adapters.db import task_repository
from autodialer.api.validation_tasks import CHUNK

COLUMNS = (
    "phone_id, phone, dial_digits, params_json, params_php, linked_id, call_file, result, out_dial_state,"
    " in_dial_state, state, verbose_call_id, cause, count_try, requeues, time_call_allow, close_time,"
    " next_attempt_at, active_attempt_id, pending_delete"
)


def body(crm_id: str) -> dict[str, Any]:
    """More than one chunk of numbers, with params and call times, a number twice in one chunk and one twice across
    chunks (another spelling, other params: the first spelling stays, the last params win)."""
    numbers: list[Any] = [
        {"number": f"7{n:010d}", "timeCallAllow": "21.08.2024 10:00:00", "params": {"client": f"Иванов {n}"}}
        for n in range(CHUNK + 10)
    ]
    numbers[7] = "70000000003"  # twice in the first chunk
    numbers[CHUNK + 4] = {"number": "+7 000 000-00-05", "params": {"client": "again", "q": 'a"b\\/'}}
    return {"crmId": crm_id, "innerNum": "201", "numbers": numbers}


async def stored(api: Api, task_id: int) -> list[tuple[Any, ...]]:
    """The task's rows in id order: every column but the ids, change times counted from the task's first."""
    return await api.rows(
        f"SELECT {COLUMNS}, change_time_us - (SELECT min(change_time_us) FROM task_numbers WHERE task_id = :t)"
        " FROM task_numbers WHERE task_id = :t ORDER BY id",
        t=task_id,
    )


async def test_a_new_tasks_numbers_are_stored_as_the_upsert_stores_them(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies: list[bool] = []
    copied = task_repository._SqlWriteUnit._copied

    async def counted(self: Any, *args: Any) -> bool:
        copies.append(await copied(self, *args))
        return copies[-1]

    monkeypatch.setattr(task_repository._SqlWriteUnit, "_copied", counted)
    status, new = await api.post("/task", body("new"))
    assert status == 200 and new["result"] is True
    if api.engine.dialect.name == "postgresql":
        assert copies == [True, False]  # the second chunk meets the first's number: upserted
    else:
        assert copies == []
    status, old = await api.post("/task", {"crmId": "old", "innerNum": "201"})
    status, merged = await api.post("/task", body("old"))
    assert status == 200 and merged["data"]["id"] == old["data"]["id"]
    assert len(copies) == (2 if api.engine.dialect.name == "postgresql" else 0)  # no COPY into an existing task

    by_copy, by_upsert = await stored(api, int(new["data"]["id"])), await stored(api, int(old["data"]["id"]))
    assert len(by_copy) == CHUNK + 8  # two numbers were there twice
    assert by_copy == by_upsert
    five = next(r for r in by_copy if r[0] == "0000000005")
    assert five[1] == "70000000005" and "again" in five[4] and five[15] == 0  # first spelling, last params and time
