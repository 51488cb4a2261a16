"""The task store contract (services.mikopbx_tasks' TaskStore and ResultsStore ports): the same tests against the
in-memory store (services.memory_task_store) and the SQL store on SQLite and on PostgreSQL.

What the v1 and v2 writes rely on: ids and crmIds, the merge of a re-POST (columns, numbers replaced, duplicates
merged, a number in a live call spared), the target and poll rules applied inside the write (a refused write leaves
nothing behind), soft delete, reopening a task the dialer closed, reads in order and the results feed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import hypothesis
import hypothesis.strategies as st
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.engine import create_engine, migrate
from autodialer.adapters.db.poll_repository import SqlPollRepository
from autodialer.adapters.db.results_feed import SqlResultsFeed
from autodialer.adapters.db.tables import metadata
from autodialer.adapters.db.task_repository import SqlTaskRepository
from autodialer.domain.mikopbx_tasks import NumberColumns, NumberRow, SavedTask, TaskConflict, TaskRecord
from autodialer.services.memory_task_store import FIRST_TASK_ID, InMemoryTaskStore
from autodialer.services.mikopbx_polls import PollQuestionData
from autodialer.services.mikopbx_tasks import ResultsStore, TaskStore

T0 = 1_724_235_073.0
EXTEN = {"inner_num": "201", "inner_num_type": "exten"}


class Store(TaskStore, ResultsStore, Protocol):
    pass


class Harness(Protocol):
    """The store under test, and what the dialer and the poll API do to its rows."""

    store: Store

    async def add_poll(self) -> int: ...

    async def start_call(self, task_id: int, phone_id: str) -> None: ...

    async def finish(self, task_id: int, phone_id: str, result: str) -> None: ...

    async def close_by_dialer(self, task_id: int) -> None: ...


class MemoryHarness:
    def __init__(self) -> None:
        self.memory = InMemoryTaskStore()
        self.store: Store = self.memory
        self._polls = 0

    async def add_poll(self) -> int:
        self._polls += 1
        self.memory.add_poll(self._polls)
        return self._polls

    async def start_call(self, task_id: int, phone_id: str) -> None:
        self.memory.start_call(task_id, phone_id)

    async def finish(self, task_id: int, phone_id: str, result: str) -> None:
        self.memory.numbers[self.memory._number(task_id, phone_id).id].result = result

    async def close_by_dialer(self, task_id: int) -> None:
        self.memory.close_by_dialer(task_id)


class SqlHarness:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.tasks = SqlTaskRepository(engine, page_limit=10_000)
        self.feed = SqlResultsFeed(engine, page_limit=10_000)
        self.store: Store = self

    def __getattr__(self, name: str) -> Any:  # the ports, split over the two SQL classes
        if name in {"task_results_since", "poll_results_since"}:
            return getattr(self.feed, name)
        return getattr(self.tasks, name)

    async def add_poll(self) -> int:
        saved = await SqlPollRepository(self.engine).save_poll(
            crm_id="", name="p", questions=[PollQuestionData("1", "hello", None, "ru-RU")], now=T0
        )
        return saved.poll_id

    async def _execute(self, sql: str, **params: Any) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(text(sql), params)

    async def start_call(self, task_id: int, phone_id: str) -> None:
        await self._execute(
            "UPDATE task_numbers SET active_attempt_id = 'call-1' WHERE task_id = :t AND phone_id = :p",
            t=task_id,
            p=phone_id,
        )

    async def finish(self, task_id: int, phone_id: str, result: str) -> None:
        await self._execute(
            "UPDATE task_numbers SET result = :r WHERE task_id = :t AND phone_id = :p", r=result, t=task_id, p=phone_id
        )

    async def close_by_dialer(self, task_id: int) -> None:
        await self._execute("UPDATE tasks SET state = 1, closed_by_dialer = true WHERE id = :t", t=task_id)


async def _empty_postgres(engine: AsyncEngine) -> None:
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        await connection.execute(
            text("INSERT INTO feed_clocks (feed, last_us) VALUES ('results', 0), ('polling_results', 0)")
        )


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """ "memory", or the URL of the database the SQL store runs on (conftest's pg_url: one database per run)."""
    if request.param == "memory":
        return "memory"
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def h(store_url: str) -> AsyncIterator[Harness]:
    if store_url == "memory":
        yield MemoryHarness()
        return
    engine = create_engine(store_url)
    if store_url.startswith("sqlite"):
        await migrate(engine)
    else:
        await _empty_postgres(engine)
    try:
        yield SqlHarness(engine)
    finally:
        await engine.dispose()


def numbers(*phones: str, params: str = "") -> list[NumberColumns]:
    rows = [NumberRow(i, p, p, p[-10:], None, params, 0) for i, p in enumerate(phones)]
    return [NumberColumns.of(rows)]


async def post(
    h: Harness,
    crm_id: str = "",
    *,
    task_id: int | None = None,
    columns: dict[str, Any] | None = None,
    phones: Sequence[str] | None = None,
    chunks: Iterable[NumberColumns] | None = None,
    now: float = T0,
) -> SavedTask:
    if chunks is None and phones is not None:
        chunks = numbers(*phones)
    count = 0 if phones is None else len(phones)
    if chunks is not None and phones is None:
        chunks = list(chunks)
        count = sum(len(c.phones) for c in chunks)
    return await h.store.save_task(
        task_id=task_id,
        crm_id=crm_id,
        columns=EXTEN if columns is None else columns,
        numbers=chunks,
        number_count=count,
        now=now,
    )


async def rows(h: Harness, task_id: int, page_size: int = 1000) -> list[Any]:
    return [row async for page in h.store.number_pages(task_id, page_size) for row in page]


async def test_a_new_task_gets_the_next_id_and_its_id_as_crm_id(h: Harness) -> None:
    first = await post(h)
    second = await post(h, "crm-2", columns={**EXTEN, "name": "Second"})
    assert first.created and second.created
    assert first.task.id == FIRST_TASK_ID and first.task.crm_id == str(FIRST_TASK_ID)
    assert second.task == TaskRecord(FIRST_TASK_ID + 1, "crm-2", "Second", "201", "exten", 1, 0, "", False)
    assert await h.store.task(second.task.id) == second.task


async def test_a_repost_by_crm_id_merges_columns_and_replaces_the_numbers(h: Harness) -> None:
    created = await post(h, "c", columns={**EXTEN, "name": "A", "max_count_channels": 3}, phones=["79000000001"])
    await h.finish(created.task.id, "9000000001", "SUCCESS")
    again = await post(h, "c", columns={"name": "B"}, phones=["79000000001", "79000000002"], now=T0 + 1)
    assert not again.created and again.task.id == created.task.id
    assert (again.task.name, again.task.inner_num, again.task.max_count_channels) == ("B", "201", 3)
    listed = await rows(h, created.task.id)
    assert [(r.phone, r.result) for r in listed] == [("79000000001", "SUCCESS"), ("79000000002", "")]
    await post(h, "c", columns={}, phones=["79000000002"], now=T0 + 2)
    assert [r.phone for r in await rows(h, created.task.id)] == ["79000000002"]
    kept = await post(h, "c", columns={}, now=T0 + 3)  # no numbers in the body: they stay
    assert [r.phone for r in await rows(h, kept.task.id)] == ["79000000002"]


async def test_duplicates_keep_the_first_spelling_and_the_last_params(h: Harness) -> None:
    dupes = [
        NumberRow(0, "+79000000001", "79000000001", "9000000001", None, "first", 0),
        NumberRow(1, "89000000001", "89000000001", "9000000001", None, "last", 5),
    ]
    saved = await post(h, "d", chunks=[NumberColumns.of(dupes)])
    [row] = await rows(h, saved.task.id)
    assert (row.phone, row.params, row.time_call_allow) == ("+79000000001", "last", "5")


async def test_a_number_in_a_live_call_is_spared_until_posted_again(h: Harness) -> None:
    saved = await post(h, "live", phones=["79000000001", "79000000002"])
    [calling, _] = await rows(h, saved.task.id)
    await h.start_call(saved.task.id, "9000000001")
    await post(h, "live", columns={}, phones=["79000000002"], now=T0 + 1)
    assert [r.phone for r in await rows(h, saved.task.id)] == ["79000000002"]
    await post(h, "live", columns={}, phones=["79000000001", "79000000002"], now=T0 + 2)
    back = await rows(h, saved.task.id)
    assert sorted(r.phone for r in back) == ["79000000001", "79000000002"]
    assert calling.id in {r.id for r in back}  # the same row, spared, not a new one


async def test_a_task_without_a_target_is_refused_and_nothing_is_stored(h: Harness) -> None:
    with pytest.raises(TaskConflict) as refused:
        await post(h, "t", columns={"name": "x"}, phones=["79000000001"])
    assert refused.value.field == "innerNum"
    assert await h.store.list_tasks(state=None, limit=None, after_id=None) == []
    saved = await post(h, "t")
    with pytest.raises(TaskConflict):
        await h.store.change_task(task_id=0, crm_id="t", columns={"inner_num": ""}, now=T0)
    assert await h.store.task(saved.task.id) == saved.task  # the refused change left the task as it was


async def test_a_polling_task_must_name_an_existing_poll(h: Harness) -> None:
    for inner in ("5", "five"):
        with pytest.raises(TaskConflict) as refused:
            await post(h, "p", columns={"inner_num": inner, "inner_num_type": "polling"})
        assert refused.value.field == "innerNum" and repr(inner) in refused.value.rule
    assert await h.store.list_tasks(state=None, limit=None, after_id=None) == []
    poll = await h.add_poll()
    saved = await post(h, "p", columns={"inner_num": str(poll), "inner_num_type": "polling"})
    assert saved.task.inner_num == str(poll)


async def test_a_deleted_task_vanishes_releases_its_crm_id_and_its_id_stays_taken(h: Harness) -> None:
    saved = await post(h, "gone", phones=["79000000001"])
    assert await h.store.delete_task(saved.task.id, T0 + 1)
    assert not await h.store.delete_task(saved.task.id, T0 + 2)
    assert await h.store.task(saved.task.id) is None
    assert await h.store.list_tasks(state=None, limit=None, after_id=None) == []
    assert await rows(h, saved.task.id) == []
    assert await h.store.change_task(task_id=saved.task.id, crm_id="", columns={"name": "x"}, now=T0) is None
    with pytest.raises(TaskConflict) as refused:
        await post(h, task_id=saved.task.id)
    assert refused.value.field == "id"
    again = await post(h, "gone")
    assert again.created and again.task.id != saved.task.id


async def test_an_explicit_id_held_by_another_crm_id_is_refused(h: Harness) -> None:
    saved = await post(h, "owner")
    with pytest.raises(TaskConflict) as refused:
        await post(h, "other", task_id=saved.task.id)
    assert refused.value.field == "id" and "another crmId" in refused.value.rule
    forced = await post(h, "new", task_id=FIRST_TASK_ID + 50)
    assert forced.task.id == FIRST_TASK_ID + 50
    assert (await post(h, "after")).task.id == FIRST_TASK_ID + 51


async def test_change_finds_by_crm_id_first_and_a_sent_state_is_the_crms(h: Harness) -> None:
    a, b = await post(h, "a"), await post(h, "b")
    changed = await h.store.change_task(task_id=a.task.id, crm_id="b", columns={"state": 2}, now=T0)
    assert changed is not None and changed.id == b.task.id and changed.state == 2
    assert await h.store.change_task(task_id=0, crm_id="nobody", columns={"state": 2}, now=T0) is None


async def test_a_task_the_dialer_closed_reopens_only_for_numbers_to_dial(h: Harness) -> None:
    saved = await post(h, "r", phones=["79000000001"])
    await h.finish(saved.task.id, "9000000001", "SUCCESS")
    await h.close_by_dialer(saved.task.id)
    still = await post(h, "r", columns={}, phones=["79000000001"], now=T0 + 1)
    assert (still.task.state, still.task.closed_by_dialer) == (1, True)
    reopened = await post(h, "r", columns={}, phones=["79000000001", "79000000002"], now=T0 + 2)
    assert (reopened.task.state, reopened.task.closed_by_dialer) == (0, False)
    await h.close_by_dialer(saved.task.id)
    kept = await post(h, "r", columns={"state": 1}, phones=["79000000003"], now=T0 + 3)
    assert kept.task.state == 1  # the CRM's own close stays


async def test_listing_filters_by_state_and_pages_by_id(h: Harness) -> None:
    ids = [(await post(h, f"l{i}", columns={**EXTEN, "state": i % 2})).task.id for i in range(5)]
    listed = await h.store.list_tasks(state=None, limit=None, after_id=None)
    assert [t.id for t in listed] == ids
    assert [t.id for t in await h.store.list_tasks(state=1, limit=None, after_id=None)] == ids[1::2]
    assert [t.id for t in await h.store.list_tasks(state=None, limit=2, after_id=ids[1])] == ids[2:4]


@pytest.mark.parametrize("page_size", [1, 3, 1000])
async def test_numbers_are_read_in_id_order_a_page_at_a_time(h: Harness, page_size: int) -> None:
    phones = [f"7900000000{i}" for i in range(7)]
    saved = await post(h, "pages", phones=phones)
    pages = [page async for page in h.store.number_pages(saved.task.id, page_size)]
    assert all(len(page) <= page_size for page in pages)
    read = [row for page in pages for row in page]
    assert [r.phone for r in read] == phones
    assert [int(r.id) for r in read] == sorted(int(r.id) for r in read)
    assert {(r.task_id, r.state, r.result, r.count_try, r.close_time) for r in read} == {
        (str(saved.task.id), "CreateTask", "", None, "0")
    }


async def test_the_feed_serves_rows_changed_since_in_change_order(h: Harness) -> None:
    first = await post(h, "f1", phones=["79000000001", "79000000002"])
    await post(h, "f2", phones=["79000000003"], now=T0 + 10)
    everything = await h.store.task_results_since(0)
    times = [r.change_time for r in everything]
    assert [r.phone for r in everything] == ["79000000001", "79000000002", "79000000003"]
    assert times == sorted(times, key=float) and len(set(times)) == 3
    assert all(len(t.partition(".")[2]) == 6 for t in times)
    later = await h.store.task_results_since(int(float(times[2]) * 1_000_000))
    assert [r.phone for r in later] == ["79000000003"]
    await post(h, "f1", columns={}, phones=["79000000002"], now=T0 + 20)  # re-posted: changed again, moves last
    assert [r.phone for r in await h.store.task_results_since(int(float(times[2]) * 1_000_000))] == [
        "79000000003",
        "79000000002",
    ]
    assert first.task.id != 0


# ---- the in-memory store and the SQL store agree on any sequence of writes (Hypothesis, against SQLite)

SPELLINGS = [("+7900000000", "7900000000"), ("8900000000", "8900000000")]  # two spellings, one phoneId
Post = tuple[str, list[tuple[int, int, str]] | None, int | None]  # ("post", [(phone, spelling, params)], state)
Op = tuple[str, int]  # ("finish" | "call" | "close", phone)


def _post_op() -> st.SearchStrategy[Post]:
    item = st.tuples(st.integers(0, 2), st.integers(0, 1), st.sampled_from(["", "a", "b"]))
    return st.tuples(st.just("post"), st.none() | st.lists(item, max_size=4), st.none() | st.integers(0, 2))


OPERATIONS = st.lists(
    _post_op() | st.tuples(st.sampled_from(["finish", "call", "close"]), st.integers(0, 2)), min_size=1, max_size=10
)


def _chunk(items: list[tuple[int, int, str]]) -> list[NumberColumns]:
    rows = []
    for position, (phone, spelling, params) in enumerate(items):
        head, digits = SPELLINGS[spelling]
        rows.append(NumberRow(position, f"{head}{phone}", f"{digits}{phone}", f"900000000{phone}", None, params, phone))
    return [NumberColumns.of(rows)]


async def _apply(h: Harness, crm: str, op: Post | Op, now: float) -> tuple[Any, ...]:
    """One operation on ``h``'s task ``crm``; returns what a client then reads, ids left out: the stores number
    differently once runs share a database, and SQLite reuses the id of a deleted last row (a row spared rather than
    re-created shows by its kept result)."""
    task = next((t for t in await h.store.list_tasks(state=None, limit=None, after_id=None) if t.crm_id == crm), None)
    if op[0] == "post":
        _, items, state = op  # type: ignore[misc]
        columns: dict[str, Any] = {**EXTEN} if state is None else {**EXTEN, "state": state}
        chunks = None if items is None else _chunk(items)
        count = 0 if items is None else len(items)
        saved = await h.store.save_task(
            task_id=None, crm_id=crm, columns=columns, numbers=chunks, number_count=count, now=now
        )
        task = saved.task
    elif task is not None:
        present = {r.phone_id for r in await rows(h, task.id)}
        phone_id = f"900000000{op[1]}"
        if op[0] == "close":
            await h.close_by_dialer(task.id)
        elif phone_id in present and op[0] == "finish":
            await h.finish(task.id, phone_id, "SUCCESS")
        elif phone_id in present:
            await h.start_call(task.id, phone_id)
        task = await h.store.task(task.id)
    if task is None:
        return ()
    read = [(r.phone, r.phone_id, r.params, r.result, r.time_call_allow) for r in await rows(h, task.id)]
    return (task.state, task.closed_by_dialer, task.inner_num, tuple(read))


@hypothesis.settings(max_examples=100, deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow])
@hypothesis.given(operations=OPERATIONS)
def test_the_memory_store_and_the_sql_store_agree_on_any_writes(
    operations: list[Post | Op], sql_engine_url: str
) -> None:
    async def run() -> None:
        engine = create_engine(sql_engine_url)
        try:
            sql, memory = SqlHarness(engine), MemoryHarness()
            crm = f"h{uuid.uuid4().hex}"
            for step, op in enumerate(operations):
                now = T0 + step
                assert await _apply(memory, crm, op, now) == await _apply(sql, crm, op, now), operations[: step + 1]
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="module")
def sql_engine_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('agree') / 'store.sqlite3'}"

    async def migrated() -> None:
        engine = create_engine(url)
        await migrate(engine)
        await engine.dispose()

    asyncio.run(migrated())
    return url
