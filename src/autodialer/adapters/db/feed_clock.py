"""Change times for the results feeds, handed out inside the writing transaction.

``allocate`` bumps the feed's row in ``feed_clocks`` and returns the first of ``count`` values
``first, first + step, …``. The UPDATE takes the row lock (SQLite: the database write lock) until commit, so
values are unique, strictly increasing and in commit order: a reader that has seen value ``v`` will only ever see
new rows above ``v``. ``first = max(last + step, now_us)``: the clock follows wall time while writes are sparse
and runs ahead of it only during bursts denser than one value per ``step``.

``step`` (see :func:`step_us`) spaces the values so that no whole second ever holds more than
``rows_per_second`` of them; the feed's page limit is chosen relative to it so that even a client that keeps
only whole seconds (1C's register is ``decimal(32,0)``) always makes progress (results_feed explains why).

A big write whose rows nobody else can see before it commits (the numbers of a task created in the same
transaction) need not hold the lock while it writes them: ``reserve`` hands it values ahead of the clock without
the lock (``first = max(last + step, now_us + min(count · step, RESERVE_AHEAD_MAX_US))``, read, not bumped), and
``settle``, its last statement before commit, takes the lock and moves the clock past them, on one condition: every
value handed out meanwhile (all committed by then: each holder kept the lock to its commit) is still at least a
``step`` below ``first``. Then the rows, visible at once at the commit, lie above every value committed before and
below every value allocated after: the same order as if ``allocate`` had been called at the end. Otherwise (the
write outlived its head start: the clock follows wall time, so only a write slower than its reservation, or a burst
of other changes, gets there) ``settle`` allocates ``count`` values as ``allocate`` does and the writer must shift
its rows onto them, a constant shift under the lock. While the write runs, other writers allocate below ``first`` as
usual and are not held up; a feed reader cannot see the uncommitted rows, only the others' committed ones, which
all end below ``first``.
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


# How far ahead of now ``reserve`` starts: one step per value (so a write has as long as the feed needs to serve
# its rows at the spacing), at most 120 s (a million numbers take ~15–60 s to write on PostgreSQL here).
RESERVE_AHEAD_MAX_US = 120_000_000

_READ = text("SELECT last_us FROM feed_clocks WHERE feed = :feed")

_SETTLE = text(
    "UPDATE feed_clocks SET last_us = CASE WHEN last_us + :step <= :first THEN :first "
    "WHEN last_us + :step > :now_us THEN last_us + :step ELSE :now_us END + :tail "
    "WHERE feed = :feed RETURNING last_us"
)


async def reserve(connection: AsyncConnection, feed: str, count: int, now: float, step: int) -> int:
    """The first of ``count`` (≥ 1) change times ahead of the clock, taken without its lock, for rows that stay
    invisible to other transactions until this one commits; ``settle`` must follow before commit."""
    last = int((await connection.execute(_READ, {"feed": feed})).scalar_one())
    ahead = min(count * step, RESERVE_AHEAD_MAX_US)
    return max(last + step, int(now * 1_000_000) + ahead)


async def settle(connection: AsyncConnection, feed: str, first: int, count: int, now: float, step: int) -> int:
    """Take the clock (its lock until commit) for ``reserve``'s ``count`` values from ``first``: answers ``first``
    when they are still ahead of every value handed out, else the first of ``count`` newly allocated ones (the
    caller moves its rows there before commit)."""
    tail = (count - 1) * step
    params = {"step": step, "first": first, "now_us": int(now * 1_000_000), "tail": tail, "feed": feed}
    last = int((await connection.execute(_SETTLE, params)).scalar_one())
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
