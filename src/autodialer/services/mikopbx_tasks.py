"""The MikoPBX v1 use cases on tasks: POST (create or merge), PUT, soft DELETE, read a task with its results and
poll answers, list tasks, and the two incremental results feeds.

Storage is the :class:`TaskStore` port (one unit of work per write; it applies domain.mikopbx_tasks' rules, the
target and "the poll must exist" checks, reopening a task the dialer closed, inside that unit) and the
:class:`ResultsStore` port; both return domain records. ``TaskConflict`` passes to the edge, which translates it
once. Every successful write calls ``on_change`` (the dialer's wake-up).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from autodialer.domain.mikopbx_tasks import NumberColumns, PollAnswerRow, SavedTask, TaskRecord, TaskResultRow


class TaskStore(Protocol):
    async def save_task(
        self,
        *,
        task_id: int | None,
        crm_id: str,
        columns: Mapping[str, Any],
        numbers: Iterable[NumberColumns] | None,
        number_count: int,
        now: float,
    ) -> SavedTask:
        """Create, or merge into the task found by crm_id (else id); ``numbers`` None keeps the stored ones, a
        list replaces them (a number in a live call goes when its call ends)."""
        ...

    async def change_task(
        self, *, task_id: int, crm_id: str, columns: Mapping[str, Any], now: float
    ) -> TaskRecord | None: ...

    async def delete_task(self, task_id: int, now: float) -> bool: ...

    async def task(self, task_id: int) -> TaskRecord | None: ...

    def number_pages(self, task_id: int, page_size: int) -> AsyncIterator[Sequence[TaskResultRow]]:
        """The task's numbers in id order, a page at a time, no connection held between pages."""
        ...

    def answer_pages(self, task_id: int, page_size: int) -> AsyncIterator[Sequence[PollAnswerRow]]: ...

    async def list_tasks(
        self, *, state: int | None, limit: int | None, after_id: int | None
    ) -> Sequence[TaskRecord]: ...


class ResultsStore(Protocol):
    async def task_results_since(self, change_time_us: int) -> Sequence[TaskResultRow]:
        """Number rows with a change time >= the given one, ordered by (change time, id), one page."""
        ...

    async def poll_results_since(self, change_time_us: int) -> Sequence[PollAnswerRow]: ...


class TaskService:
    def __init__(
        self, store: TaskStore, now: Callable[[], float], on_change: Callable[[], None] = lambda: None
    ) -> None:
        self._store = store
        self._now = now
        self.on_change = on_change

    async def post(
        self,
        *,
        task_id: int | None,
        crm_id: str,
        columns: Mapping[str, Any],
        numbers: Iterable[NumberColumns] | None,
        number_count: int,
    ) -> SavedTask:
        saved = await self._store.save_task(
            task_id=task_id,
            crm_id=crm_id,
            columns=columns,
            numbers=numbers,
            number_count=number_count,
            now=self._now(),
        )
        self.on_change()
        return saved

    async def put(self, *, task_id: int, crm_id: str, columns: Mapping[str, Any]) -> TaskRecord | None:
        """Change the task found by crm_id (when given; ``task_id`` is then ignored) or id; None if none."""
        task = await self._store.change_task(task_id=task_id, crm_id=crm_id, columns=columns, now=self._now())
        if task is not None:
            self.on_change()
        return task

    async def delete(self, task_id: int) -> bool:
        """Soft-delete; False when there was no such live task."""
        deleted = await self._store.delete_task(task_id, self._now())
        if deleted:
            self.on_change()
        return deleted

    async def get(self, task_id: int) -> TaskRecord | None:
        return await self._store.task(task_id)

    def results(self, task_id: int, page_size: int) -> AsyncIterator[Sequence[TaskResultRow]]:
        return self._store.number_pages(task_id, page_size)

    def answers(self, task_id: int, page_size: int) -> AsyncIterator[Sequence[PollAnswerRow]]:
        return self._store.answer_pages(task_id, page_size)

    async def list(self, *, state: int | None, limit: int | None, after_id: int | None) -> Sequence[TaskRecord]:
        return await self._store.list_tasks(state=state, limit=limit, after_id=after_id)


class ResultsFeed:
    """The incremental feeds: rows changed since a change time (domain.mikopbx_tasks.feed_start), one page."""

    def __init__(self, store: ResultsStore) -> None:
        self._store = store

    async def task_results(self, start_us: int) -> Sequence[TaskResultRow]:
        return await self._store.task_results_since(start_us)

    async def poll_answers(self, start_us: int) -> Sequence[PollAnswerRow]:
        return await self._store.poll_results_since(start_us)
