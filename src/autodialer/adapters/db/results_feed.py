"""The incremental feeds ``/results/{changeTime}`` and ``/polling-results/{changeTime}``: rows changed since a time.

MikoPBX selects ``changeTime >= :t ORDER BY changeTime LIMIT 10000`` on whole seconds; when more rows than the limit
share one second, a client that re-asks from the largest changeTime it saw gets the same page forever. We keep
``>=``, the ordering and the limit, but the change time is ``change_time_us`` (feed_clock: unique, increasing, in
commit order) served with six decimals, and pages are ordered by ``(change_time_us, id)``.

Clients that keep the exact value (the documented usage) re-ask ``>= M``: they get the row at ``M`` again (dedupe
by ``(taskId, phoneId)`` as before) and then only newer rows. Since values are unique, a page of ``limit ≥ 2`` rows
always advances, and since values are in commit order no row can appear below ``M`` later: nothing is missed.

Clients that keep whole seconds (1C stores task changeTime in ``decimal(32,0)`` and rounds half up; others truncate
or round up). Rounding up is the danger: a client that saw ``…073.6`` and stores ``074`` would skip rows committed
later in ``[073.6, 074)``. So a query value without a fractional part is taken to mean "some time within a second
of this": the feed serves ``>= N - 1 s`` (domain.mikopbx_tasks.feed_start). That re-sends at most two
seconds of rows, which clients already de-duplicate. Progress: feed_clock spaces values so that one whole second
holds fewer than a third of a page; ``N - 1``, ``N`` and ``N + 1`` together hold less than a page, so a full page
always ends at a second ≥ ``N + 2`` and the client's next ``N`` is larger. Hence with the rounding clients too the
feed neither loops nor loses rows (page limits below 4 are raised to 4 so the argument holds). The price: while
more than ``limit/3`` rows per second are written (a large re-POST), change times run ahead of the wall clock by
``rows / (limit/3)`` seconds (a million numbers at the default 10000: ~5 minutes); they stay increasing. A new
task's numbers on PostgreSQL start up to two minutes further ahead (feed_clock.reserve: the head start that lets
the import write them without holding the clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.adapters.db.feed_clock import MIN_PAGE_LIMIT
from autodialer.adapters.db.tables import poll_answers, task_numbers
from autodialer.adapters.db.task_repository import ANSWER_WIRE_COLUMNS, NUMBER_WIRE_COLUMNS
from autodialer.domain.mikopbx_tasks import PollAnswerRow, TaskResultRow


class SqlResultsFeed:
    """services.results_feed.ResultsStore on the shared schema."""

    def __init__(self, engine: AsyncEngine, *, page_limit: int) -> None:
        self._engine = engine
        self.page_limit = max(page_limit, MIN_PAGE_LIMIT)

    async def task_results_since(self, change_time_us: int) -> Sequence[TaskResultRow]:
        """task_numbers rows with change_time_us >= the given value, one page."""
        rows = await self._page(task_numbers, NUMBER_WIRE_COLUMNS, change_time_us)
        return list(map(TaskResultRow._make, rows))

    async def poll_results_since(self, change_time_us: int) -> Sequence[PollAnswerRow]:
        """poll_answers rows with change_time_us >= the given value, one page."""
        rows = await self._page(poll_answers, ANSWER_WIRE_COLUMNS, change_time_us)
        return list(map(PollAnswerRow._make, rows))

    async def _page(self, table: Table, columns: Sequence[Any], change_time_us: int) -> Sequence[Sequence[Any]]:
        query = (
            select(*columns)
            .where(table.c.change_time_us >= change_time_us)
            .order_by(table.c.change_time_us, table.c.id)
            .limit(self.page_limit)
        )
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).all()
