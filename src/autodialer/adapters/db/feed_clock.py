"""Change times for the results feeds, handed out inside the writing transaction.

``allocate`` bumps the feed's row in ``feed_clocks`` and returns the first of ``count`` values
``first, first + step, …``. The UPDATE takes the row lock (SQLite: the database write lock) until commit, so
values are unique, strictly increasing and in commit order: a reader that has seen value ``v`` will only ever see
new rows above ``v``. ``first = max(last + step, now_us)``: the clock follows wall time while writes are sparse
and runs ahead of it only during bursts denser than one value per ``step``.

``step`` (see :func:`step_us`) spaces the values so that no whole second ever holds more than
``rows_per_second`` of them; the feed's page limit is chosen relative to it so that even a client that keeps
only whole seconds (1C's register is ``decimal(32,0)``) always makes progress (results_feed explains why).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

RESULTS = "results"
POLLING_RESULTS = "polling_results"
MIN_PAGE_LIMIT = 4

_ALLOCATE = text(
    "UPDATE feed_clocks SET last_us = "
    "CASE WHEN last_us + :step > :now_us THEN last_us + :step ELSE :now_us END + :tail "
    "WHERE feed = :feed RETURNING last_us"
)


def rows_per_second(page_limit: int) -> int:
    """At most this many feed values share one whole second: fewer than a third of a page."""
    return max(1, (max(page_limit, MIN_PAGE_LIMIT) - 1) // 3)


def step_us(page_limit: int) -> int:
    per_second = rows_per_second(page_limit)
    return -(-1_000_000 // per_second)


async def allocate(connection: AsyncConnection, feed: str, count: int, now: float, step: int) -> int:
    """Reserve ``count`` (≥ 1) change times for ``feed``; returns the first, the others follow at ``step``."""
    tail = (count - 1) * step
    result = await connection.execute(
        _ALLOCATE, {"step": step, "now_us": int(now * 1_000_000), "tail": tail, "feed": feed}
    )
    last = int(result.scalar_one())
    return last - tail
