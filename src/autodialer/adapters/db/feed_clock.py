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


_STORE = text("UPDATE feed_clocks SET last_us = :last WHERE feed = :feed")


class BatchClock:
    """Change times for one write transaction that allocates many times (the dialer's units of work).

    The first allocation of a feed bumps its stored row as ``allocate`` does, which takes the row's lock (SQLite: the
    write lock is already held) until commit; later allocations of that feed are then computed here, by the same
    rule, and ``flush`` stores the last value once before commit. No other writer can allocate in between, so the
    values stay unique, increasing and in commit order, and a batch of N changes costs one clock read instead of N.
    """

    def __init__(self, step: int) -> None:
        self._step = step
        self._last: dict[str, int] = {}  # feed -> the last value handed out in this transaction
        self._stored: dict[str, int] = {}  # feed -> the value the feed_clocks row holds now

    async def allocate(self, connection: AsyncConnection, feed: str, count: int, now: float) -> int:
        last = self._last.get(feed)
        if last is None:
            first = await allocate(connection, feed, count, now, self._step)
            self._stored[feed] = first + (count - 1) * self._step
        else:
            first = max(last + self._step, int(now * 1_000_000))
        self._last[feed] = first + (count - 1) * self._step
        return first

    async def flush(self, connection: AsyncConnection) -> None:
        """Store the clocks this transaction advanced locally; call it last, inside the transaction."""
        for feed, last in self._last.items():
            if last != self._stored[feed]:
                await connection.execute(_STORE, {"last": last, "feed": feed})
                self._stored[feed] = last
