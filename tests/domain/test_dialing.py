"""plan_dials: capacity, agent reservations, paused/closed tasks, due times, and the next deadline."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.domain.dialing import AgentPool, DialSnapshot, DueNumber, TaskSlice, TaskState, plan_dials
from autodialer.domain.pacing import PacingFact, PacingInput, PredictivePacing


def task(
    task_id: int,
    numbers: list[int | tuple[int, float]],
    *,
    inner: str = "201",
    channels: int = 1,
    state: int = TaskState.OPEN,
    in_progress: int = 0,
    needs_agent: bool = True,
) -> TaskSlice:
    due = [DueNumber(n, 0.0) if isinstance(n, int) else DueNumber(*n) for n in numbers]
    return TaskSlice(task_id, state, inner, needs_agent, channels, in_progress, due)


def snap(*tasks: TaskSlice, free: dict[str, set[str]] | None = None, now: float = 100.0, **kw: object) -> DialSnapshot:
    agents = {k: frozenset(v) for k, v in (free if free is not None else {"201": {"PJSIP/201"}}).items()}
    return DialSnapshot(
        now=now,
        tasks=list(tasks),
        free_agents=agents,
        reserved=frozenset(kw.get("reserved", frozenset())),  # type: ignore[arg-type]
        numbers_in_call=frozenset(kw.get("in_call", frozenset())),  # type: ignore[arg-type]
        next_due_at=kw.get("next_due_at"),  # type: ignore[arg-type]
        queue_demand=dict(kw.get("queues", {})),  # type: ignore[call-overload]
    )


def test_one_free_extension_one_call_lowest_number_first() -> None:
    plan = plan_dials(snap(task(1, [12, 11, 13], channels=5)))
    assert [(s.task_id, s.number_id, s.agent) for s in plan.starts] == [(1, 11, "PJSIP/201")]


def test_two_tasks_on_one_extension_never_over_dial_it() -> None:
    plan = plan_dials(snap(task(1, [1, 2]), task(2, [3, 4])))
    assert len(plan.starts) == 1
    assert plan_dials(snap(task(1, [1]), task(2, [3]), reserved={"PJSIP/201"})).starts == ()


def test_a_queue_is_a_capacity_not_a_member_reserved_per_call() -> None:
    free = {"2200": {"PJSIP/201", "PJSIP/202", "PJSIP/203"}}
    plan = plan_dials(
        snap(task(1, [1, 2, 3, 4], inner="2200", channels=10), free=free, reserved={"PJSIP/202"}, queues={"2200": 0})
    )
    assert [(s.number_id, s.agent) for s in plan.starts] == [(1, None), (2, None)]


def test_calls_already_waiting_for_a_queue_use_its_members_first() -> None:
    free = {"2200": {"PJSIP/201", "PJSIP/202", "PJSIP/203"}}
    one_left = snap(task(1, [1, 2, 3], inner="2200", channels=10), free=free, queues={"2200": 2})
    assert [s.number_id for s in plan_dials(one_left).starts] == [1]
    full = snap(task(1, [1, 2, 3], inner="2200", channels=10), free=free, queues={"2200": 5})
    assert plan_dials(full).starts == ()


def test_a_queue_leaves_the_member_an_extension_task_wants() -> None:
    free = {"2200": {"PJSIP/201", "PJSIP/202"}, "201": {"PJSIP/201"}}
    # The call already on its way to the queue needs one member; 202 serves it as well as 201 does.
    plan = plan_dials(snap(task(1, [], inner="2200"), task(2, [2], inner="201"), free=free, queues={"2200": 1}))
    assert [(s.task_id, s.agent) for s in plan.starts] == [(2, "PJSIP/201")]


def test_tasks_sharing_a_queue_take_turns() -> None:
    free = {"2200": {"PJSIP/201", "PJSIP/202"}}
    plan = plan_dials(
        snap(task(1, [1, 2], inner="2200", channels=2), task(2, [3, 4], inner="2200", channels=2), free=free)
    )
    assert sorted(s.task_id for s in plan.starts) == [1, 2]


def test_capacity_counts_calls_in_progress() -> None:
    free = {"2200": {f"PJSIP/{i}" for i in range(10)}}
    plan = plan_dials(snap(task(1, [1, 2, 3, 4], inner="2200", channels=3, in_progress=1), free=free))
    assert len(plan.starts) == 2


def test_paused_and_closed_tasks_start_nothing() -> None:
    assert plan_dials(snap(task(1, [1], state=TaskState.PAUSED))).starts == ()
    assert plan_dials(snap(task(1, [1], state=TaskState.CLOSED))).starts == ()


def test_polls_need_no_agent() -> None:
    plan = plan_dials(snap(task(1, [1, 2], inner="7", channels=2, needs_agent=False), free={}))
    assert [(s.number_id, s.agent) for s in plan.starts] == [(1, None), (2, None)]


def test_numbers_not_due_wait_and_set_the_deadline() -> None:
    plan = plan_dials(snap(task(1, [(1, 150.0), (2, 130.0)], channels=2), now=100.0))
    assert plan.starts == ()
    assert plan.next_deadline == 130.0
    assert plan_dials(snap(task(1, []), next_due_at=120.0)).next_deadline == 120.0
    assert plan_dials(snap(task(1, [1]))).next_deadline is None
    # a paused task's future numbers do not wake us
    assert plan_dials(snap(task(1, [(1, 150.0)], state=TaskState.PAUSED))).next_deadline is None


def test_a_number_in_a_call_is_not_started_again() -> None:
    plan = plan_dials(snap(task(1, [1, 2], channels=2), free={"201": {"a", "b"}}, in_call={1}))
    assert [s.number_id for s in plan.starts] == [2]


def test_no_free_agent_no_call() -> None:
    assert plan_dials(snap(task(1, [1]), free={"201": set()})).starts == ()
    assert plan_dials(snap(task(1, [1]), free={})).starts == ()


AGENTS = [f"PJSIP/{i}" for i in range(201, 206)]


@st.composite
def snapshots(draw: st.DrawFn) -> DialSnapshot:
    now = 1000.0
    inners = ["201", "202", "2200", "9"]
    free = {i: frozenset(draw(st.sets(st.sampled_from(AGENTS)))) for i in inners}
    tasks = []
    for task_id in range(1, draw(st.integers(1, 5)) + 1):
        ids = draw(st.lists(st.integers(1, 30), max_size=8))
        numbers = [DueNumber(n, draw(st.sampled_from([0.0, 999.0, 1000.0, 1001.0]))) for n in ids]
        tasks.append(
            TaskSlice(
                task_id=task_id,
                state=draw(st.sampled_from(list(TaskState))),
                inner_num=draw(st.sampled_from(inners)),
                needs_agent=draw(st.booleans()),
                max_channels=draw(st.integers(1, 4)),
                in_progress=draw(st.integers(0, 4)),
                numbers=numbers,
            )
        )
    return DialSnapshot(
        now=now,
        tasks=tasks,
        free_agents=free,
        reserved=frozenset(draw(st.sets(st.sampled_from(AGENTS)))),
        numbers_in_call=frozenset(draw(st.sets(st.integers(1, 30), max_size=5))),
        queue_demand=draw(st.sampled_from([{}, {"2200": 0}, {"2200": 1}, {"2200": 3}, {"2200": 1, "202": 1}])),
    )


@settings(max_examples=50, deadline=None)
@given(snapshots())
def test_plan_invariants(snapshot: DialSnapshot) -> None:
    plan = plan_dials(snapshot)
    by_id = {t.task_id: t for t in snapshot.tasks}
    per_task = Counter(s.task_id for s in plan.starts)
    for task_id, count in per_task.items():
        t = by_id[task_id]
        assert t.state == TaskState.OPEN
        assert t.in_progress + count <= t.max_channels
    agents = [s.agent for s in plan.starts if s.agent is not None]
    assert len(agents) == len(set(agents))
    assert not set(agents) & snapshot.reserved
    numbers = [s.number_id for s in plan.starts]
    assert len(numbers) == len(set(numbers))
    assert not set(numbers) & snapshot.numbers_in_call
    for start in plan.starts:
        t = by_id[start.task_id]
        assert any(n.number_id == start.number_id and n.due_at <= snapshot.now for n in t.numbers)
        if t.needs_agent and t.inner_num not in snapshot.queue_demand:
            assert start.agent in snapshot.free_agents[t.inner_num]
        else:
            assert start.agent is None
    for queue, demand in snapshot.queue_demand.items():
        # What the queue can still take: its free members, less those reserved, less the calls already needing
        # one; the extension calls started now on one of its members come out of the same pool.
        pool = snapshot.free_agents[queue] - snapshot.reserved
        started = sum(1 for s in plan.starts if by_id[s.task_id].needs_agent and by_id[s.task_id].inner_num == queue)
        direct = {s.agent for s in plan.starts if s.agent is not None} & pool
        assert started + len(direct) + min(demand, len(pool)) <= len(pool)
    if plan.next_deadline is not None:
        assert plan.next_deadline > snapshot.now


@settings(max_examples=100, deadline=None)
@given(snapshots(), st.integers(0, 6))
def test_a_rate_capped_plan_starts_at_most_the_cap_and_in_the_same_turns(snapshot: DialSnapshot, cap: int) -> None:
    free = plan_dials(snapshot)
    capped = plan_dials(replace(snapshot, max_starts=cap))
    assert len(capped.starts) == min(cap, len(free.starts))
    # The calls a capped round leaves out are the ones whose turn came last: nobody is skipped for a later task.
    assert capped.starts == free.starts[:cap]


def test_a_number_listed_twice_is_started_once() -> None:
    free = {"201": {"a", "b"}}
    plan = plan_dials(snap(task(1, [5]), task(2, [5]), free=free))
    assert [s.number_id for s in plan.starts] == [5]


def test_the_task_that_started_least_recently_goes_first() -> None:
    one = TaskSlice(1, TaskState.OPEN, "201", True, 1, 0, [DueNumber(1, 0.0)], last_turn=5)
    two = TaskSlice(2, TaskState.OPEN, "201", True, 1, 0, [DueNumber(2, 0.0)], last_turn=4)
    assert [s.task_id for s in plan_dials(snap(one, two)).starts] == [2]


# ---- pacing: progressive is the rule above, unchanged; other policies decide a number of unreserved calls


def plan_before_pacing(snapshot: DialSnapshot) -> list[tuple[int, int, str | None]]:
    """plan_dials as it was before pacing policies existed (one call per free agent or queue member): the reference."""
    reserved = set(snapshot.reserved)
    direct = [
        t
        for t in snapshot.tasks
        if t.needs_agent and t.state == TaskState.OPEN and t.inner_num not in snapshot.queue_demand
    ]
    wanted = frozenset().union(*(snapshot.free_agents.get(t.inner_num, frozenset()) for t in direct))

    def pick(free: frozenset[str]) -> str | None:
        available = sorted(free - reserved, key=lambda agent: (agent in wanted, agent))
        return available[0] if available else None

    for inner_num in sorted(snapshot.queue_demand):
        for _ in range(snapshot.queue_demand[inner_num]):
            member = pick(snapshot.free_agents.get(inner_num, frozenset()))
            if member is None:
                break
            reserved.add(member)
    taken = set(snapshot.numbers_in_call)
    queues: dict[int, list[int]] = {}
    for t in snapshot.tasks:
        if t.state == TaskState.OPEN:
            ids: list[int] = []
            for n in sorted(t.numbers, key=lambda n: n.number_id):
                if n.due_at <= snapshot.now and n.number_id not in taken and n.number_id not in ids:
                    ids.append(n.number_id)
            queues[t.task_id] = ids
    capacity = {t.task_id: max(0, t.max_channels - t.in_progress) for t in snapshot.tasks}
    starts: list[tuple[int, int, str | None]] = []
    progress = True
    while progress:
        progress = False
        for t in sorted(snapshot.tasks, key=lambda t: (t.last_turn, t.task_id)):
            pending = queues.get(t.task_id)
            while pending and pending[0] in taken:
                pending.pop(0)
            if not pending or capacity[t.task_id] <= 0:
                continue
            agent = None
            if t.needs_agent:
                agent = pick(snapshot.free_agents.get(t.inner_num, frozenset()))
                if agent is None:
                    continue
                reserved.add(agent)
                if t.inner_num in snapshot.queue_demand:
                    agent = None
            number_id = pending.pop(0)
            taken.add(number_id)
            capacity[t.task_id] -= 1
            starts.append((t.task_id, number_id, agent))
            progress = True
    return starts


@settings(max_examples=200, deadline=None)
@given(snapshots(), st.lists(st.integers(0, 9), min_size=5, max_size=5))
def test_progressive_pacing_is_the_rule_from_before_pacing(snapshot: DialSnapshot, turns: list[int]) -> None:
    tasks = [replace(t, last_turn=turns[i % len(turns)]) for i, t in enumerate(snapshot.tasks)]
    snapshot = replace(snapshot, tasks=tasks)
    assert [(s.task_id, s.number_id, s.agent) for s in plan_dials(snapshot).starts] == plan_before_pacing(snapshot)


class FixedPacing:
    """A non-reserving policy that wants ``calls`` calls and records what it was shown."""

    reserves_agents = False

    def __init__(self, calls: int, review_s: float | None = None) -> None:
        self.calls = calls
        self.review_s = review_s
        self.seen: list[PacingInput] = []

    def calls_to_start(self, view: PacingInput) -> int:
        self.seen.append(view)
        return self.calls

    def observe(self, fact: PacingFact) -> None:
        return None

    def review_at(self, now: float) -> float | None:
        return None if self.review_s is None else now + self.review_s


def test_a_non_reserving_policy_places_its_calls_unreserved_within_capacity_and_numbers() -> None:
    policy = FixedPacing(3, review_s=1.0)
    paced = replace(task(1, [1, 2, 3, 4, 5], inner="2200", channels=6, in_progress=2), pacing=policy)
    snapshot = replace(
        snap(paced, free={"2200": {"PJSIP/201"}}, reserved={"PJSIP/299"}),
        agent_pools={"2200": AgentPool(4, talking_since=(90.0, 95.0), wrapping_since=(99.0,))},
    )
    plan = plan_dials(snapshot)
    assert [(s.number_id, s.agent) for s in plan.starts] == [(1, None), (2, None), (3, None)]
    assert plan.next_deadline == 101.0  # numbers and lines left: look again as agents get closer to free
    (view,) = policy.seen
    assert (view.logged_in, view.free, view.lines_in_use, view.line_limit) == (4, 1, 2, 6)
    assert view.talking_since == (90.0, 95.0) and view.wrapping_since == (99.0,)
    capped = replace(paced, pacing=FixedPacing(10), max_channels=4)
    assert len(plan_dials(replace(snapshot, tasks=[capped])).starts) == 2
    assert len(plan_dials(replace(snapshot, tasks=[replace(paced, pacing=FixedPacing(10))])).starts) == 4


def test_predictive_never_dials_with_no_agent_logged_in() -> None:
    policy = PredictivePacing()
    paced = replace(task(1, list(range(1, 30)), inner="2200", channels=30), pacing=policy)
    snapshot = replace(snap(paced, free={"2200": set()}), agent_pools={"2200": AgentPool(0)})
    assert plan_dials(snapshot).starts == ()
