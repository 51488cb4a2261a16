"""Why an open task started no call in a planning round, in words an operator understands.

``plan_dials`` decides; this explains a task it left alone, from the same snapshot: paused, every channel in use,
nothing due yet (and when the next number is), or no free agent for its extension or queue (counted by
``dial_capacity``'s rules, as the plan and eligibility count them). None means the task
could have dialled but another task had its turn (turn-taking) or its number went to another task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from autodialer.domain.dial_capacity import agents_free, lines_free
from autodialer.domain.dialing import DialSnapshot, TaskSlice, TaskState


class WaitKind(StrEnum):
    PAUSED = "paused"
    CHANNELS_FULL = "channels-full"
    NOTHING_DUE = "nothing-due"
    NO_FREE_AGENT = "no-free-agent"


@dataclass(frozen=True, slots=True)
class Wait:
    kind: WaitKind
    text: str


def why_waiting(task: TaskSlice, snapshot: DialSnapshot) -> Wait | None:
    """The reason ``task`` starts nothing at ``snapshot.now``; None when it could (and did, or lost its turn)."""
    if task.state == TaskState.PAUSED:
        return Wait(WaitKind.PAUSED, "paused (state 2)")
    if lines_free(task.max_channels, task.in_progress) <= 0:
        return Wait(
            WaitKind.CHANNELS_FULL, f"maxCountChannels {task.max_channels} reached ({task.in_progress} in progress)"
        )
    due = [n for n in task.numbers if n.due_at <= snapshot.now and n.number_id not in snapshot.numbers_in_call]
    if not due:
        later = min((n.due_at for n in task.numbers if n.due_at > snapshot.now), default=None)
        when = f"; next number due at {clock_text(later)}" if later is not None else ""
        return Wait(WaitKind.NOTHING_DUE, f"no number due now (waiting for retries, call times or calls to end){when}")
    if task.needs_agent:
        free = snapshot.free_agents.get(task.inner_num, frozenset())
        if not free:
            return Wait(WaitKind.NO_FREE_AGENT, f"{len(due)} due, but nobody at {task.inner_num} is free")
        if not free - snapshot.reserved:
            return Wait(WaitKind.NO_FREE_AGENT, f"{len(due)} due, but the free agents of {task.inner_num} are taken")
        demand = snapshot.queue_demand.get(task.inner_num, 0)
        if task.pacing.reserves_agents and agents_free(free, snapshot.reserved, demand) <= 0:
            text = f"{len(due)} due, but the free members of {task.inner_num} are needed by {demand} calls waiting"
            return Wait(WaitKind.NO_FREE_AGENT, text)
    return None


def clock_text(epoch: float) -> str:
    """An epoch time for a log line: local time with its offset, to the second."""
    return datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")
