"""The v1 use cases on fakes: when the dialer is woken, v1's prompt-file rule, readiness's reporting."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from autodialer.domain.mikopbx_tasks import NumberColumns, NumberRow, TaskConflict
from autodialer.services.health import HealthCheck
from autodialer.services.memory_task_store import InMemoryTaskStore
from autodialer.services.mikopbx_polls import (
    MikoPolls,
    PollActionData,
    PollListing,
    PollQuestionData,
    PollTiming,
    PollView,
    SavedPoll,
    UnplayablePrompts,
)
from autodialer.services.mikopbx_tasks import ResultsFeed, TaskService

T0 = 1_724_235_073.0
EXTEN = {"inner_num": "201", "inner_num_type": "exten"}


def service() -> tuple[TaskService, InMemoryTaskStore, list[None]]:
    store, wakeups = InMemoryTaskStore(), list[None]()
    return TaskService(store, lambda: T0, lambda: wakeups.append(None)), store, wakeups


def one_number(phone: str = "79000000001") -> list[NumberColumns]:
    return [NumberColumns.of([NumberRow(0, phone, phone, phone[-10:], None, "", 0)])]


async def test_every_successful_write_wakes_the_dialer_and_nothing_else_does() -> None:
    tasks, _, wakeups = service()
    saved = await tasks.post(task_id=None, crm_id="c", columns=EXTEN, numbers=one_number(), number_count=1)
    assert len(wakeups) == 1
    with pytest.raises(TaskConflict):
        await tasks.post(task_id=None, crm_id="x", columns={"name": "no target"}, numbers=None, number_count=0)
    assert await tasks.put(task_id=0, crm_id="nobody", columns={"state": 2}) is None
    assert not await tasks.delete(saved.task.id + 1)
    assert len(wakeups) == 1
    assert await tasks.put(task_id=saved.task.id, crm_id="", columns={"state": 2}) is not None
    assert await tasks.delete(saved.task.id)
    assert len(wakeups) == 3
    assert await tasks.get(saved.task.id) is None


async def test_reads_page_the_store_and_the_feed_starts_where_asked() -> None:
    tasks, store, _ = service()
    saved = await tasks.post(task_id=None, crm_id="c", columns=EXTEN, numbers=one_number(), number_count=1)
    [[row]] = [page async for page in tasks.results(saved.task.id, 10)]
    assert row.phone == "79000000001" and row.change_time == f"{int(T0)}.000000"
    store.add_answer(saved.task.id, "9000000001", 7, "q1", "1", T0 + 5)
    [[answer]] = [page async for page in tasks.answers(saved.task.id, 10)]
    feed = ResultsFeed(store)
    assert [a.result for a in await feed.poll_answers(int((T0 + 5) * 1e6))] == ["1"]
    assert await feed.poll_answers(int((T0 + 6) * 1e6)) == []
    assert await feed.task_results(int(T0 * 1e6)) == [row]
    assert [t.id for t in await tasks.list(state=0, limit=None, after_id=None)] == [saved.task.id]
    assert answer.polling_id == "7"


class Files:
    def __init__(self, *ours: str) -> None:
        self.ours = set(ours)

    async def locate(self, file: str) -> object | None:
        return file if file in self.ours else None


class Polls:
    def __init__(self) -> None:
        self.saved: list[Sequence[PollQuestionData]] = []

    async def save_poll(
        self,
        *,
        crm_id: str,
        name: str | None,
        questions: Sequence[PollQuestionData],
        now: float,
        timing: PollTiming | None = None,
    ) -> SavedPoll:
        self.saved.append(questions)
        return SavedPoll(1, crm_id or "1", name or "", True, not crm_id)

    async def list_polls(self) -> Sequence[PollListing]:
        return []

    async def get_poll(self, poll_id: int) -> PollView | None:
        return None


async def test_v1_refuses_only_prompts_that_could_never_play() -> None:
    store, wakeups = Polls(), list[None]()
    polls = MikoPolls(store, Files("hello.mp3"), lambda: T0, lambda: wakeups.append(None))
    playable = [
        PollQuestionData("1", None, "hello.mp3", "ru-RU"),
        PollQuestionData("2", "spoken instead", "/etc/passwd", "ru-RU"),  # not ours, but has a text
        PollQuestionData("3", "q", None, "ru-RU", [PollActionData("1", "playback", "bye", "text", None)]),
    ]
    await polls.save(crm_id="", name="ok", questions=playable, timing=PollTiming())
    assert store.saved == [playable] and len(wakeups) == 1
    unplayable = [
        PollQuestionData("1", None, "missing.mp3", "ru-RU"),
        PollQuestionData("2", "q", None, "ru-RU", [PollActionData("1", "playback", "gone.wav", "file", None)]),
    ]
    with pytest.raises(UnplayablePrompts) as refused:
        await polls.save(crm_id="", name="bad", questions=unplayable, timing=PollTiming())
    fields = [field for field, _ in refused.value.problems]
    assert fields == ["questions[0].questionFile", "questions[1].press[0].value"]
    assert len(store.saved) == 1 and len(wakeups) == 1  # nothing stored, nobody woken


class Ping:
    def __init__(self, fault: BaseException | None = None, delay_s: float = 0.0) -> None:
        self.fault, self.delay_s = fault, delay_s

    @property
    def backend(self) -> str:
        return "fake"

    async def ping(self) -> None:
        await asyncio.sleep(self.delay_s)
        if self.fault is not None:
            raise self.fault


async def test_readiness_reports_a_silent_or_failing_database_instead_of_raising() -> None:
    ok = await HealthCheck(Ping()).database()
    assert (ok.backend, ok.ok, ok.error) == ("fake", True, None)
    slow = await HealthCheck(Ping(delay_s=1.0), timeout_s=0.01).database()
    assert (slow.ok, slow.error) == (False, "no answer within 0.01 s")
    broken = await HealthCheck(Ping(OSError("connection refused\nsecond line"))).database()
    assert (broken.ok, broken.error) == (False, "OSError: connection refused")
