"""Which calls to start now, and when to look again: the dialer's pure decision.

Input is a snapshot (open tasks with their due numbers, calls in progress, free agents per inner number, agents
already reserved, the demand already on each queue, numbers already in a call); output is the calls to start, each
with the agent it reserves, and the next deadline (the earliest future due time) so the engine sleeps until then or
until an event, never on a timer.

An extension is one agent, reserved by the call (``DialStart.agent``). A queue is a capacity: its free agents are
the members that can take a call, and its demand (callers already waiting or ringing members, our calls on their
way there) uses them up first; a new queue call needs one more member left over, but reserves no one (whom it
reaches is the queue strategy's choice), so ``DialStart.agent`` is None for it.

Invariants (tested with Hypothesis):
* a task never has more than ``max_channels`` calls (in progress + started);
* an agent is never reserved twice (tasks that share a target never over-dial it), a queue never gets more calls
  than its free members minus its demand and the agents reserved directly, and a task that needs an agent starts
  nothing without one;
* paused (2) and closed (1) tasks start nothing;
* a number is never started twice, nor while it is already in a call, nor before it is due.

Tasks take turns (one start per task per round, the task that started a call least recently first), so tasks
sharing an agent pool share it instead of the lowest id taking everything, also across successive plans when the
agent frees up one call at a time; within a task the lowest number id goes first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum


class TaskState(IntEnum):
    OPEN = 0
    CLOSED = 1
    PAUSED = 2


@dataclass(frozen=True, slots=True)
class DueNumber:
    number_id: int
    due_at: float  # max(timeCallAllow, next_attempt_at)


@dataclass(frozen=True, slots=True)
class TaskSlice:
    task_id: int
    state: int
    inner_num: str
    needs_agent: bool  # innerNumType "exten" (extension or queue); polls need no agent
    max_channels: int
    in_progress: int  # calls of this task not yet ended
    numbers: Sequence[DueNumber]  # open numbers, lowest id first; may include ones not due yet
    last_turn: int = 0  # the engine's sequence number of this task's latest start (0: never); lowest goes first


@dataclass(frozen=True, slots=True)
class DialSnapshot:
    now: float
    tasks: Sequence[TaskSlice]
    free_agents: Mapping[str, frozenset[str]]  # inner_num -> agents the PBX says can take a call now
    reserved: frozenset[str]  # agents held by calls in progress (to extensions)
    numbers_in_call: frozenset[int]
    next_due_at: float | None = None  # earliest due time > now among numbers not in ``tasks[*].numbers``
    # Queue inner numbers -> calls already needing one of its members (waiting or ringing in it, or ours not yet
    # there). An inner number listed here is a queue; free_agents then holds the members that can take a call.
    queue_demand: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DialStart:
    task_id: int
    number_id: int
    agent: str | None  # the extension's agent it reserves; None for polls and queue calls


@dataclass(frozen=True, slots=True)
class DialPlan:
    starts: tuple[DialStart, ...]
    next_deadline: float | None  # when something becomes due; None: only an event can change the plan


def plan_dials(snapshot: DialSnapshot) -> DialPlan:
    """Decide the calls to start at ``snapshot.now``; see the module docstring for the guarantees."""
    now = snapshot.now
    reserved = set(snapshot.reserved)
    # Agents an extension task wants: a queue uses its other members first, so that both can be served.
    wanted = frozenset().union(
        *(snapshot.free_agents.get(t.inner_num, frozenset()) for t in snapshot.tasks if _direct(t, snapshot))
    )
    for inner_num in sorted(snapshot.queue_demand):
        free = snapshot.free_agents.get(inner_num, frozenset())
        for _ in range(snapshot.queue_demand[inner_num]):
            member = _pick_agent(free, reserved, wanted)
            if member is None:
                break
            reserved.add(member)
    taken = set(snapshot.numbers_in_call)
    queues = {t.task_id: _eligible(t, now, taken) for t in snapshot.tasks if t.state == TaskState.OPEN}
    capacity = {t.task_id: max(0, t.max_channels - t.in_progress) for t in snapshot.tasks}
    starts: list[DialStart] = []
    turns = sorted(snapshot.tasks, key=lambda t: (t.last_turn, t.task_id))
    progress = True
    while progress:
        progress = False
        for task in turns:
            pending = queues.get(task.task_id)
            while pending and pending[0] in taken:
                pending.pop(0)  # the same number id listed by two tasks: only one call
            if not pending or capacity[task.task_id] <= 0:
                continue
            agent: str | None = None
            if task.needs_agent:
                agent = _pick_agent(snapshot.free_agents.get(task.inner_num, frozenset()), reserved, wanted)
                if agent is None:
                    continue
                reserved.add(agent)
                if task.inner_num in snapshot.queue_demand:
                    agent = None  # one member of the queue is spoken for in this round, but nobody is reserved
            number_id = pending.pop(0)
            taken.add(number_id)
            capacity[task.task_id] -= 1
            starts.append(DialStart(task.task_id, number_id, agent))
            progress = True
    return DialPlan(tuple(starts), _next_deadline(snapshot))


def _eligible(task: TaskSlice, now: float, taken: set[int]) -> list[int]:
    seen: set[int] = set()
    ids: list[int] = []
    for number in sorted(task.numbers, key=lambda n: n.number_id):
        if number.due_at <= now and number.number_id not in taken and number.number_id not in seen:
            seen.add(number.number_id)
            ids.append(number.number_id)
    return ids


def _direct(task: TaskSlice, snapshot: DialSnapshot) -> bool:
    return task.needs_agent and task.state == TaskState.OPEN and task.inner_num not in snapshot.queue_demand


def _pick_agent(free: frozenset[str], reserved: set[str], wanted: frozenset[str] = frozenset()) -> str | None:
    # Sorted so that the choice is reproducible (tests, logs); agents an extension task wants go last.
    available = sorted(free - reserved, key=lambda agent: (agent in wanted, agent))
    return available[0] if available else None


def _next_deadline(snapshot: DialSnapshot) -> float | None:
    now = snapshot.now
    future = [
        n.due_at
        for t in snapshot.tasks
        if t.state == TaskState.OPEN
        for n in t.numbers
        if n.due_at > now and n.number_id not in snapshot.numbers_in_call
    ]
    if snapshot.next_due_at is not None and snapshot.next_due_at > now:
        future.append(snapshot.next_due_at)
    return min(future, default=None)
