"""Who can take a call for each target of the open tasks, and how many calls already need a member of each queue.

An extension is one agent, reserved by the call that dials it. A queue is a capacity (services.ports.QueueLoad):
the members able to take a call, less the calls that already need one of them: callers in the queue that are not
ours, and our calls to it that no member took yet (still ringing the customer, in the connect step, waiting or
ringing in the queue). A call a member took no longer needs one: that member is busy instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from autodialer.domain.mikopbx_results import ANSWER
from autodialer.services.dialer_store import Attempt, DialTask
from autodialer.services.ports import AvailabilityView, QueueLoad


def dial_targets(
    tasks: Sequence[DialTask],
    availability: AvailabilityView,
    in_flight: Iterable[Attempt],
    paced: Callable[[Attempt], bool] = lambda attempt: False,
) -> tuple[dict[str, frozenset[str]], dict[str, int]]:
    """(inner number -> agents able to take a call, queue inner number -> calls already needing a member).

    ``paced`` calls (power, predictive: nobody reserved) are their campaign policy's own business (its ringing
    calls and waiting customers, ``pacing_book``): they are ours, but not counted as demand here."""
    return target_loads((t.inner_num for t in tasks if not t.is_poll), availability, in_flight, paced)


def target_loads(
    targets: Iterable[str],
    availability: AvailabilityView,
    in_flight: Iterable[Attempt],
    paced: Callable[[Attempt], bool] = lambda attempt: False,
) -> tuple[dict[str, frozenset[str]], dict[str, int]]:
    """``dial_targets`` for these inner numbers (explain asks it for one campaign's target: the same counts)."""
    free: dict[str, frozenset[str]] = {}
    loads: dict[str, QueueLoad] = {}
    for inner_num in targets:
        if inner_num in free:
            continue
        load = availability.queue_load(inner_num)
        if load is None:
            free[inner_num] = availability.free_agents(inner_num)
        else:
            free[inner_num], loads[inner_num] = load.able, load
    if not loads:
        return free, {}
    ours: set[str] = set()
    waiting = dict.fromkeys(loads, 0)
    for attempt in in_flight:
        ours.add(attempt.call_id)
        load = loads.get(attempt.inner_num)
        if load is not None and not paced(attempt) and needs_a_member(attempt, load):
            waiting[attempt.inner_num] += 1
    return free, {inner: waiting[inner] + len(load.callers - ours) for inner, load in loads.items()}


def needs_a_member(attempt: Attempt, queue: QueueLoad) -> bool:
    """A call to a queue that no member took yet, and that still may reach it."""
    if attempt.mode != "connect" or attempt.settled:
        return False
    return attempt.m_dial_status != ANSWER and attempt.call_id not in queue.served
