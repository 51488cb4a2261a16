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
* a number is never started twice, nor while it is already in a call, nor before it is due;
* a plan never starts more than ``max_starts`` calls (the Originate rate cap).

Tasks take turns (one start per task per round, the task that started a call least recently first), so tasks
sharing an agent pool share it instead of the lowest id taking everything, also across successive plans when the
agent frees up one call at a time; within a task the lowest number id goes first.

A task's line capacity and its target's free agents are counted by ``dial_capacity.lines_free`` and
``agents_free``, the functions eligibility's ``TARGET_BUSY`` hold (the explain endpoint) judges by.

How many calls a task places is its pacing policy's decision (``domain/pacing.py``). Progressive, the default, is
asked at each turn whether the free agents left allow one more call, which then takes one of them as above. A
policy that does not reserve agents (power, predictive) is asked once per plan for a number of calls, which then
take turns like any other; its answered customers go to the queue, so its own ringing calls and waiting customers
(``TaskSlice.ringing_since``/``waiting``) are its business and not ``queue_demand``'s. Such a policy may want to
look again as time passes with no event (``review_at``): that joins the next deadline while it has numbers and lines.

A paced task with ``min_ring_s`` set is also asked, first, which of its ringing calls to end (``calls_to_end``; only
calls that rang max(min_ring_s, 15 s), oldest first, never a progressive task's): the plan lists them in ``ends``
for the engine to hang up as no-answers of ours, and the dial budget is then asked without them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from operator import attrgetter
from types import MappingProxyType

from autodialer.domain.dial_capacity import agents_free, lines_free
from autodialer.domain.pacing import MIN_RING_S, PROGRESSIVE, PacingInput, PacingPolicy, past_minimum


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
    pacing: PacingPolicy = PROGRESSIVE
    ringing_since: tuple[float, ...] = ()  # start times of this task's calls not yet answered (paced tasks)
    waiting: int = 0  # this task's answered customers not yet with an agent (paced tasks)
    ringing_calls: tuple[str, ...] = ()  # the call ids of ``ringing_since``, in the same order (paced tasks)
    min_ring_s: float | None = None  # ringing calls may be ended after this (never under 15 s); None: never


@dataclass(frozen=True, slots=True)
class AgentPool:
    """What the PBX shows of an inner number's agents beyond who is free (what predictive pacing needs)."""

    logged_in: int  # agents that can take calls: free, talking or in wrap-up (not paused, not logged out)
    talking_since: tuple[float, ...] = ()
    wrapping_since: tuple[float, ...] = ()


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
    agent_pools: Mapping[str, AgentPool] = field(default_factory=lambda: _NO_POOLS)  # inner_num -> its agents
    # Calls the PBX link may take now (the Originate rate cap, domain/token_bucket.py); None: no cap. The turns stop
    # there, so the calls a capped round leaves out go to the tasks whose turn comes next.
    max_starts: int | None = None


_NO_POOLS: Mapping[str, AgentPool] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class DialStart:
    task_id: int
    number_id: int
    agent: str | None  # the extension's agent it reserves; None for polls and queue calls


@dataclass(frozen=True, slots=True)
class DialEnd:
    """A ringing call of a paced task to hang up: it rang the minimum and its customer would likely find no agent."""

    task_id: int
    call_id: str
    ring_s: float


@dataclass(frozen=True, slots=True)
class DialPlan:
    starts: tuple[DialStart, ...]
    next_deadline: float | None  # when something becomes due; None: only an event can change the plan
    ends: tuple[DialEnd, ...] = ()


def plan_dials(snapshot: DialSnapshot) -> DialPlan:
    """Decide the calls to start at ``snapshot.now``; see the module docstring for the guarantees."""
    now = snapshot.now
    reserved = set(snapshot.reserved)
    # Agents an extension task wants: a queue uses its other members first, so that both can be served.
    wanted = frozenset().union(
        *(snapshot.free_agents.get(t.inner_num, frozenset()) for t in snapshot.tasks if _direct(t, snapshot))
    )
    picker = _AgentPicker(snapshot.free_agents, reserved, wanted)
    for inner_num in sorted(snapshot.queue_demand):
        for _ in range(snapshot.queue_demand[inner_num]):
            member = picker.pick(inner_num)
            if member is None:
                break
            reserved.add(member)
    taken = set(snapshot.numbers_in_call)
    ends: list[DialEnd] = []
    tasks = [_ending(snapshot, t, reserved, ends) for t in snapshot.tasks]
    queues = {t.task_id: _eligible(t, now, taken) for t in tasks if t.state == TaskState.OPEN}
    capacity = {t.task_id: lines_free(t.max_channels, t.in_progress) for t in tasks}
    budget = {  # calls a non-reserving policy wants now, asked once
        t.task_id: t.pacing.calls_to_start(_pacing_input(snapshot, t, t.in_progress, reserved))
        for t in tasks
        if t.needs_agent and not t.pacing.reserves_agents and queues.get(t.task_id)
    }
    starts: list[DialStart] = []
    turns = sorted(tasks, key=lambda t: (t.last_turn, t.task_id))
    limit = snapshot.max_starts
    progress = limit is None or limit > 0
    while progress:
        progress = False
        for task in turns:
            if limit is not None and len(starts) >= limit:
                break
            pending = queues.get(task.task_id)
            while pending and pending[0] in taken:
                pending.pop(0)  # the same number id listed by two tasks: only one call
            if not pending or capacity[task.task_id] <= 0:
                continue
            agent: str | None = None
            if task.needs_agent and task.pacing.reserves_agents:
                in_use = task.max_channels - capacity[task.task_id]
                if task.pacing.calls_to_start(_pacing_input(snapshot, task, in_use, reserved)) <= 0:
                    continue
                agent = picker.pick(task.inner_num)
                if agent is None:
                    continue
                reserved.add(agent)
                if task.inner_num in snapshot.queue_demand:
                    agent = None  # one member of the queue is spoken for in this round, but nobody is reserved
            elif task.needs_agent:
                if budget.get(task.task_id, 0) <= 0:
                    continue
                budget[task.task_id] -= 1
            number_id = pending.pop(0)
            taken.add(number_id)
            capacity[task.task_id] -= 1
            starts.append(DialStart(task.task_id, number_id, agent))
            progress = True
    deadline = _next_deadline(snapshot)
    for task in tasks:
        if task.task_id in budget and queues.get(task.task_id) and capacity[task.task_id] > 0:
            review = task.pacing.review_at(now)
            if review is not None and review > now:
                deadline = review if deadline is None else min(deadline, review)
        ending = _ending_review(task, now)
        if ending is not None:
            deadline = ending if deadline is None else min(deadline, ending)
    return DialPlan(tuple(starts), deadline, tuple(ends))


def _ending_review(task: TaskSlice, now: float) -> float | None:
    """When a task that may end ringing calls must be asked again with no event: at its policy's review while a
    call it kept is past the minimum, else when the next one reaches it (a campaign with no number left to dial
    still ends its ringing calls on time)."""
    if task.min_ring_s is None or task.pacing.reserves_agents or not task.needs_agent or not task.ringing_since:
        return None
    review = task.pacing.review_at(now)
    if review is None or review <= now:
        return None  # a policy that does not look again by itself (power) ends nothing
    least = max(task.min_ring_s, MIN_RING_S)
    if any(now - since >= least for since in task.ringing_since):
        return review
    return max(review, min(task.ringing_since) + least)


def _ending(snapshot: DialSnapshot, task: TaskSlice, reserved: set[str], ends: list[DialEnd]) -> TaskSlice:
    """``task`` less the ringing calls its policy ends now (added to ``ends``); unchanged if it ends none."""
    if task.min_ring_s is None or task.pacing.reserves_agents or not task.needs_agent or not task.ringing_since:
        return task
    if len(task.ringing_calls) != len(task.ringing_since):
        raise ValueError("ringing_calls must name each call of ringing_since")
    now = snapshot.now
    allowed = set(past_minimum(now, task.ringing_since, task.min_ring_s))  # whatever a policy answers
    view = _pacing_input(snapshot, task, task.in_progress, reserved)
    chosen = allowed.intersection(task.pacing.calls_to_end(view, task.min_ring_s))
    if not chosen:
        return task
    ends.extend(DialEnd(task.task_id, task.ringing_calls[i], now - task.ringing_since[i]) for i in sorted(chosen))
    kept = [i for i in range(len(task.ringing_since)) if i not in chosen]
    return replace(
        task,
        ringing_since=tuple(task.ringing_since[i] for i in kept),
        ringing_calls=tuple(task.ringing_calls[i] for i in kept),
    )


def _pacing_input(snapshot: DialSnapshot, task: TaskSlice, in_use: int, reserved: set[str]) -> PacingInput:
    free = snapshot.free_agents.get(task.inner_num, frozenset())
    # The target's capacity rule eligibility's TARGET_BUSY hold shares (a queue's demand is in ``reserved`` here).
    available = agents_free(free, reserved)
    pool = snapshot.agent_pools.get(task.inner_num)
    return PacingInput(
        now=snapshot.now,
        line_limit=task.max_channels,
        lines_in_use=in_use,
        ringing_since=task.ringing_since,
        waiting=task.waiting,
        logged_in=pool.logged_in if pool is not None else len(free),
        free=available,
        talking_since=pool.talking_since if pool is not None else (),
        wrapping_since=pool.wrapping_since if pool is not None else (),
    )


def _eligible(task: TaskSlice, now: float, taken: set[int]) -> list[int]:
    seen: set[int] = set()
    ids: list[int] = []
    for number in sorted(task.numbers, key=_number_id):
        number_id = number.number_id
        if number.due_at <= now and number_id not in taken and number_id not in seen:
            seen.add(number_id)
            ids.append(number_id)
    return ids


_number_id = attrgetter("number_id")


def _direct(task: TaskSlice, snapshot: DialSnapshot) -> bool:
    return task.needs_agent and task.state == TaskState.OPEN and task.inner_num not in snapshot.queue_demand


class _AgentPicker:
    """Each inner number's free agents in pick order (agents an extension task wants last, then by name, so that
    the choice is reproducible), sorted once per plan and taken front to back, skipping the reserved.

    ``reserved`` only grows while a plan is made, so an agent skipped once is never wanted again: a plan costs one
    sort per inner number, not one per pick (sorting a 2,500-member queue for each of 1,000 callers already waiting
    held the event loop 11 s, long enough for the AMI link to be judged dead)."""

    def __init__(self, free: Mapping[str, frozenset[str]], reserved: set[str], wanted: frozenset[str]) -> None:
        self._free = free
        self._reserved = reserved
        self._wanted = wanted
        self._order: dict[str, list[str]] = {}
        self._next: dict[str, int] = {}

    def pick(self, inner_num: str) -> str | None:
        """The first agent free for ``inner_num`` and not reserved (the caller reserves it), or None."""
        order = self._order.get(inner_num)
        if order is None:
            wanted = self._wanted
            order = sorted(self._free.get(inner_num, frozenset()), key=lambda agent: (agent in wanted, agent))
            self._order[inner_num] = order
        at = self._next.get(inner_num, 0)
        while at < len(order) and order[at] in self._reserved:
            at += 1
        self._next[inner_num] = at
        return order[at] if at < len(order) else None


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
