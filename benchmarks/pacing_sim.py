"""A virtual-time, discrete-event call centre that the production pacing code dials into.

The world: ``agents`` agents are logged in for ``hours``. A call placed at t answers with the probability of that
hour after a ring-to-answer time, or fails after a failure time. An answered customer takes a free agent at once
(progressive: the agent its call reserved); with none free it waits up to ``abandon_after_s`` for the first agent
to become free, else it is abandoned (it hears the safe-harbor message and the line is released). The agent talks,
then wraps up, then is free again. Talk is counted up to the end of the day.

The dialer side is the production code: after every instant with events (and at the deadline the plan asked for)
the simulation builds a ``DialSnapshot`` as the engine does and calls ``dialing.plan_dials`` with the campaign's
pacing policy in its ``TaskSlice``; the policy is told only what a dialer hears (its calls' answers, failures,
connections and abandonments, and talk/wrap-up durations from the agents' states), never the scenario. The ringing
calls the plan ends (``DialPlan.ends``: rang ``min_ring_s``, 15 s by default, None: never) are hung up at once as
the engine does: their answer or failure never happens and the policy hears ``CallCutOff``.

The run checks itself: an agent never holds two calls, the line limit is never exceeded, no call is placed with no
agent logged in, and every answered call ends up connected or abandoned exactly once.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from pacing_scenario import Scenario

from autodialer.domain.dialing import AgentPool, DialSnapshot, DueNumber, TaskSlice, TaskState, plan_dials
from autodialer.domain.pacing import (
    MIN_RING_S,
    CallAbandoned,
    CallAnswered,
    CallConnected,
    CallCutOff,
    CallFailed,
    PacingFact,
    PacingPolicy,
    TalkEnded,
    WrapEnded,
)

DAY_START = 9 * 3600.0  # the campaign day starts at 09:00 of day 0 (the policy's day counters never roll)
QUEUE = "2200"
TASK_ID = 1

ANSWER, FAIL, ABANDON, TALK_END, WRAP_END, REVIEW = range(6)


@dataclass(slots=True)
class Call:
    started: float
    agent: str | None  # reserved (progressive) or, once connected, the agent it talks to
    answered_at: float | None = None
    settled: bool = False  # connected or abandoned


@dataclass(slots=True)
class Outcome:
    talk_s: float = 0.0
    calls: int = 0
    answered: int = 0
    connected: int = 0
    abandoned: int = 0
    plans: int = 0
    ended: int = 0  # ringing calls the policy ended after min_ring_s
    max_lines: int = 0
    agent_hours: float = 0.0
    waits: list[float] = field(default_factory=list)

    @property
    def talk_min_per_agent_hour(self) -> float:
        return self.talk_s / 60.0 / self.agent_hours if self.agent_hours else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0


class CallCentre:
    def __init__(self, scenario: Scenario, policy: PacingPolicy, min_ring_s: float | None = None) -> None:
        self.s = scenario
        self.policy = policy
        self.min_ring_s = min_ring_s
        self._ended: set[int] = set()  # calls ended while ringing whose answer or failure is still in the heap
        self.end = DAY_START + scenario.hours * 3600.0
        # One random stream per quantity: both policies' n-th call meets the same customer.
        seed = scenario.seed
        self._answers = random.Random(f"{seed}:answer")
        self._rings = random.Random(f"{seed}:ring")
        self._failures = random.Random(f"{seed}:failure")
        self._talks = random.Random(f"{seed}:talk")
        self._wraps = random.Random(f"{seed}:wrap")
        self.agents = [f"A{i:03d}" for i in range(scenario.agents)]
        self.free: dict[str, None] = dict.fromkeys(self.agents)  # insertion order: the longest idle first
        self.reserved: set[str] = set()
        self.talking: dict[str, float] = {}  # agent -> connected at
        self._talking_call: dict[str, int] = {}  # agent -> call id
        self.wrapping: dict[str, float] = {}
        self.calls: dict[int, Call] = {}
        self.ringing: dict[int, float] = {}
        self.waiting: dict[int, float] = {}  # call id -> answered at, oldest first
        self._heap: list[tuple[float, int, int, int | str]] = []
        self._seq = 0
        self._next_number = 1
        self._numbers_from = 1
        self._numbers: list[DueNumber] = []
        self._review_at: float | None = None
        self.out = Outcome(agent_hours=scenario.agents * scenario.hours)

    # ---- the loop

    def run(self) -> Outcome:
        now = DAY_START
        self._plan(now)
        while self._heap:
            now = self._heap[0][0]
            if now >= self.end:
                break
            while self._heap and self._heap[0][0] == now:
                _, _, kind, key = heapq.heappop(self._heap)
                self._handle(kind, key, now)
            self._plan(now)
        for call in self.calls.values():
            assert call.answered_at is None or call.settled or call.answered_at + self.s.abandon_after_s >= self.end
        return self.out

    def _at(self, when: float, kind: int, key: int | str) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, kind, key))

    def _tell(self, fact: PacingFact) -> None:
        self.policy.observe(fact)

    def _handle(self, kind: int, key: int | str, now: float) -> None:
        if kind in (ANSWER, FAIL) and key in self._ended:
            self._ended.discard(int(key))
            return
        if kind == ANSWER:
            self._answered(int(key), now)
        elif kind == FAIL:
            self._failed(int(key), now)
        elif kind == ABANDON:
            self._abandon(int(key), now)
        elif kind == TALK_END:
            self._talk_ended(str(key), now)
        elif kind == WRAP_END:
            self._wrap_ended(str(key), now)
        elif kind == REVIEW and self._review_at == now:
            self._review_at = None

    # ---- the dialer: the production planning path

    def _plan(self, now: float) -> None:
        if now >= self.end:
            return
        self.out.plans += 1
        in_use = len(self.ringing) + len(self.waiting) + len(self.talking)
        capacity = self.s.lines - in_use
        numbers = self._fresh_numbers(max(0, capacity))
        task = TaskSlice(
            task_id=TASK_ID,
            state=TaskState.OPEN,
            inner_num=QUEUE,
            needs_agent=True,
            max_channels=self.s.lines,
            in_progress=in_use,
            numbers=numbers,
            pacing=self.policy,
            ringing_since=tuple(self.ringing.values()),
            waiting=len(self.waiting),
            ringing_calls=tuple(map(str, self.ringing)),
            min_ring_s=self.min_ring_s,
        )
        pool = AgentPool(self.s.agents, tuple(self.talking.values()), tuple(self.wrapping.values()))
        plan = plan_dials(
            DialSnapshot(
                now=now,
                tasks=[task],
                free_agents={QUEUE: frozenset(self.free)},
                reserved=frozenset(self.reserved),
                numbers_in_call=frozenset(),
                agent_pools={QUEUE: pool},
            )
        )
        for end in plan.ends:
            self._end_ringing(int(end.call_id), now)
        for start in plan.starts:
            self._dial(start.number_id, start.agent, now)
        if plan.next_deadline is not None and plan.next_deadline > now and self._review_at is None:
            self._review_at = plan.next_deadline
            self._at(plan.next_deadline, REVIEW, 0)

    def _fresh_numbers(self, count: int) -> list[DueNumber]:
        """The next ``count`` numbers of an endless list (none of them is in a call), as due_numbers returns them."""
        first = self._next_number - self._numbers_from
        if first + count > len(self._numbers):
            self._numbers_from = self._next_number
            self._numbers = [DueNumber(self._next_number + i, 0.0) for i in range(max(count, 4096))]
            first = 0
        return self._numbers[first : first + count]

    def _dial(self, number_id: int, agent: str | None, now: float) -> None:
        assert self.s.agents > 0
        self._next_number = max(self._next_number, number_id + 1)
        if agent is not None:
            assert agent in self.free and agent not in self.reserved, "agent reserved twice"
            self.reserved.add(agent)
        call_id = number_id
        self.calls[call_id] = Call(now, agent)
        self.ringing[call_id] = now
        self.out.calls += 1
        in_use = len(self.ringing) + len(self.waiting) + len(self.talking)
        assert in_use <= self.s.lines, "line limit exceeded"
        self.out.max_lines = max(self.out.max_lines, in_use)
        hour = (now - DAY_START) / 3600.0
        if self._answers.random() < self.s.answer_probability(hour):
            self._at(now + self.s.ring_to_answer_s.sample(self._rings), ANSWER, call_id)
        else:
            self._at(now + self.s.failure_after_s.sample(self._failures), FAIL, call_id)

    # ---- the world

    def _answered(self, call_id: int, now: float) -> None:
        call = self.calls[call_id]
        del self.ringing[call_id]
        call.answered_at = now
        self.out.answered += 1
        self._tell(CallAnswered(now, now - call.started))
        if call.agent is not None:  # reserved: it is this call's agent
            self.reserved.discard(call.agent)
            self._connect(call_id, call.agent, now)
        elif (agent := self._unreserved_free()) is not None:
            self._connect(call_id, agent, now)
        else:
            self.waiting[call_id] = now
            self._at(now + self.s.abandon_after_s, ABANDON, call_id)

    def _end_ringing(self, call_id: int, now: float) -> None:
        started = self.ringing.pop(call_id)
        call = self.calls.pop(call_id)
        assert call.agent is None, "a call reserving an agent was ended"
        assert now - started >= max(MIN_RING_S, self.min_ring_s or 0.0), "ended before the minimum ring"
        self._ended.add(call_id)
        self.out.ended += 1
        self._tell(CallCutOff(now, now - started))

    def _unreserved_free(self) -> str | None:
        for agent in self.free:
            if agent not in self.reserved:
                return agent
        return None

    def _failed(self, call_id: int, now: float) -> None:
        call = self.calls.pop(call_id)
        del self.ringing[call_id]
        self._tell(CallFailed(now, now - call.started))
        if call.agent is not None:
            self.reserved.discard(call.agent)

    def _abandon(self, call_id: int, now: float) -> None:
        if self.waiting.pop(call_id, None) is None:
            return  # an agent took it in time
        call = self.calls.pop(call_id)
        assert not call.settled
        call.settled = True
        self.out.abandoned += 1
        self._tell(CallAbandoned(now))

    def _connect(self, call_id: int, agent: str, now: float) -> None:
        call = self.calls[call_id]
        assert not call.settled and agent in self.free and agent not in self.talking and agent not in self.wrapping
        call.settled = True
        call.agent = agent
        del self.free[agent]
        self.talking[agent] = now
        self.out.connected += 1
        if call.answered_at is not None and now > call.answered_at:
            self.out.waits.append(now - call.answered_at)
        self._tell(CallConnected(now))
        talk = self.s.talk_s.sample(self._talks)
        self.out.talk_s += min(now + talk, self.end) - now
        self._talking_call[agent] = call_id
        self._at(now + talk, TALK_END, agent)

    def _talk_ended(self, agent: str, now: float) -> None:
        started = self.talking.pop(agent)
        self.calls.pop(self._talking_call.pop(agent))
        self._tell(TalkEnded(now, now - started))
        self.wrapping[agent] = now
        self._at(now + self.s.wrap_s.sample(self._wraps), WRAP_END, agent)

    def _wrap_ended(self, agent: str, now: float) -> None:
        started = self.wrapping.pop(agent)
        self._tell(WrapEnded(now, now - started))
        self.free[agent] = None
        if self.waiting:
            call_id = next(iter(self.waiting))
            del self.waiting[call_id]
            self._connect(call_id, agent, now)


def simulate(scenario: Scenario, policy: PacingPolicy, min_ring_s: float | None = None) -> Outcome:
    return CallCentre(scenario, policy, min_ring_s).run()
