"""A POST that creates a task does not hold the results feed clock while it writes the numbers (PostgreSQL;
adapters/db/feed_clock.py ``reserve``/``settle``): a change the dialer commits meanwhile allocates its change time
at once, and the feed still hands out every row in commit order, with the clock caught up or not.

The dialer's side runs on a second connection of its own while the POST's transaction is open, between its two
chunks of numbers; it asks for the clock's row lock with NOWAIT, so a POST that holds it fails the test at once
(no timing involved). On SQLite the POST holds the database's write lock for its transaction, as every writer does;
there (and on PostgreSQL) the new task's numbers come after the changes before it and before those after it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from tests.api.conftest import T0, Api

from autodialer.adapters.db import feed_clock, task_repository
from autodialer.api.validation_tasks import CHUNK

postgresql_only = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)

STEP = feed_clock.step_us(10_000)  # the app's default page limit


def during_import(monkeypatch: pytest.MonkeyPatch, action: Callable[[], Awaitable[None]]) -> list[int]:
    """Run ``action`` once, after the POST's first chunk of numbers is written and before the next; answers the
    change times of that first chunk as written (provisional or final)."""
    upsert = task_repository._SqlWriteUnit.upsert_numbers
    written: list[int] = []

    async def upsert_then_act(self: Any, task_id: int, rows: Any, change_times: list[int]) -> None:
        await upsert(self, task_id, rows, change_times)
        if not written:
            written.extend(change_times)
            await action()

    monkeypatch.setattr(task_repository._SqlWriteUnit, "upsert_numbers", upsert_then_act)
    return written


async def dialer_change(api: Api, task_id: int, now: float) -> int:
    """What the dialer does for a call result: allocate a change time (on PostgreSQL refusing to wait for the
    clock's lock) and write it to a number, committed."""
    async with api.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("SELECT 1 FROM feed_clocks WHERE feed = 'results' FOR UPDATE NOWAIT"))
        at = await feed_clock.allocate(connection, feed_clock.RESULTS, 1, now, STEP)
        await connection.execute(
            text("UPDATE task_numbers SET change_time_us = :at WHERE task_id = :t"), {"at": at, "t": task_id}
        )
    return at


def body(crm_id: str) -> dict[str, Any]:
    return {"crmId": crm_id, "innerNum": "201", "numbers": [f"7{n:010d}" for n in range(CHUNK + 10)]}


async def change_times(api: Api, task_id: int) -> list[int]:
    rows = await api.rows("SELECT change_time_us FROM task_numbers WHERE task_id = :t ORDER BY id", t=task_id)
    return [int(r[0]) for r in rows]


async def feed_tasks(api: Api, since_us: int) -> list[int]:
    """The task ids of the results feed from ``since_us`` on, in the feed's order."""
    status, page = await api.get(f"/results/{since_us / 1e6:.6f}")
    assert status == 200
    return [int(row["taskId"]) for row in page["data"]["results"]]


async def post_beside_a_dialer_change(api: Api, monkeypatch: pytest.MonkeyPatch, now: float) -> tuple[int, int, int]:
    """A task of one number, then a POST of a new task with a dialer change to that number in the middle;
    answers (the one-number task, the new task, the dialer's change time)."""
    status, other = await api.post("/task", {"crmId": "other", "innerNum": "202", "numbers": ["79990000001"]})
    assert status == 200
    other_id = int(other["data"]["id"])
    seen: list[int] = []

    async def act() -> None:
        seen.append(await dialer_change(api, other_id, now))
        assert await feed_tasks(api, seen[0]) == [other_id]  # the import's numbers are not visible yet

    monkeypatch.setattr(api.clock, "t", T0)
    written = during_import(monkeypatch, act)
    status, new = await api.post("/task", body("big"))
    assert status == 200 and new["result"] is True and written and seen
    return other_id, int(new["data"]["id"]), seen[0]


@postgresql_only
async def test_a_dialer_change_during_a_new_tasks_import_neither_waits_nor_falls_behind_it(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_id, new_id, at = await post_beside_a_dialer_change(api, monkeypatch, T0 + 1)
    times = await change_times(api, new_id)
    assert len(times) == CHUNK + 10
    assert times[0] > at  # committed after the dialer's change, so after it in the feed
    assert times == [times[0] + k * STEP for k in range(len(times))]
    tasks = await feed_tasks(api, at)
    assert tasks[0] == other_id and set(tasks[1:]) == {new_id}
    (clock,) = await api.rows("SELECT last_us FROM feed_clocks WHERE feed = 'results'")
    assert clock[0] == times[-1]  # the clock moved past them: the next change comes after
    assert await dialer_change(api, other_id, T0 + 2) > times[-1]


@postgresql_only
async def test_a_clock_that_caught_up_with_the_reservation_moves_the_new_tasks_numbers_after_it(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dialer's change time is far ahead of what the import reserved (as after a long import): the import's
    numbers are shifted, all by the same amount, to after it."""
    other_id, new_id, at = await post_beside_a_dialer_change(api, monkeypatch, T0 + 3600)
    times = await change_times(api, new_id)
    assert times[0] >= at + STEP
    assert times == [times[0] + k * STEP for k in range(len(times))]
    tasks = await feed_tasks(api, at)
    assert tasks[0] == other_id and set(tasks[1:]) == {new_id}
    assert await dialer_change(api, other_id, T0 + 3600) > times[-1]


@postgresql_only
async def test_numbers_merged_into_an_existing_task_keep_the_clock_until_commit(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A merge cannot reserve (module docstring of task_repository): the clock's lock is held, so NOWAIT fails."""
    status, _ = await api.post("/task", {"crmId": "big", "innerNum": "201"})
    assert status == 200
    refused: list[str] = []

    async def act() -> None:
        try:
            async with api.engine.begin() as connection:
                await connection.execute(text("SELECT 1 FROM feed_clocks WHERE feed = 'results' FOR UPDATE NOWAIT"))
        except OperationalError as e:
            refused.append(type(e.orig).__name__)

    during_import(monkeypatch, act)
    status, merged = await api.post("/task", body("big"))
    assert status == 200 and merged["result"] is True
    assert refused == ["LockNotAvailable"]


@postgresql_only
async def test_two_new_tasks_imported_at_once_end_in_commit_order(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both reserve the same values (same size, same clock, same now); the one committing second is moved after the
    first."""
    later: list[int] = []

    async def other_post() -> None:
        status, other = await api.post("/task", body("other"))
        assert status == 200
        later.append(int(other["data"]["id"]))

    during_import(monkeypatch, other_post)
    status, big = await api.post("/task", body("big"))
    assert status == 200 and later
    first_committed, second = await change_times(api, later[0]), await change_times(api, int(big["data"]["id"]))
    assert first_committed == [first_committed[0] + k * STEP for k in range(len(first_committed))]
    assert second[0] >= first_committed[-1] + STEP
    assert second == [second[0] + k * STEP for k in range(len(second))]


async def test_a_new_tasks_numbers_lie_between_the_changes_before_and_after_it(api: Api) -> None:
    status, other = await api.post("/task", {"crmId": "other", "innerNum": "202", "numbers": ["79990000001"]})
    assert status == 200
    other_id = int(other["data"]["id"])
    before = await dialer_change(api, other_id, T0 + 1)
    status, new = await api.post("/task", body("big"))
    assert status == 200
    times = await change_times(api, int(new["data"]["id"]))
    assert times[0] > before and times == [times[0] + k * STEP for k in range(len(times))]
    assert await dialer_change(api, other_id, T0 + 1) > times[-1]
