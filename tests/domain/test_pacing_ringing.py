"""Ending ringing calls (issue 13): only calls that rang the legal minimum, never for progressive or power, through
the one planning rule, and the answer rate learned right from the calls it ended (censored, not failed)."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.domain.dialing import AgentPool, DialSnapshot, DueNumber, TaskSlice, TaskState, plan_dials
from autodialer.domain.pacing import (
    MIN_RING_S,
    WARMUP_OUTCOMES,
    CallAnswered,
    CallConnected,
    CallCutOff,
    CallFailed,
    PacingInput,
    PowerPacing,
    PredictivePacing,
    ProgressivePacing,
    TalkEnded,
    past_minimum,
)
from autodialer.domain.pacing_config import PacingError, PacingMode, PacingSettings, check_pacing
from autodialer.domain.pacing_model import CallModel, Priors

NOW = 50_000.0
QUEUE = "2200"


def warm(answer_p: float = 0.3, calls: int = 1500, seed: int = 3) -> PredictivePacing:
    """A predictive policy past its warm-up that has seen calls answer after 3-25 s, talk and never be abandoned."""
    rng = random.Random(seed)
    policy = PredictivePacing()
    at = NOW - 4 * 3600.0
    for _ in range(calls):
        at += 2.0
        if rng.random() < answer_p:
            policy.observe(CallAnswered(at, rng.uniform(3, 25)))
            policy.observe(CallConnected(at))
            policy.observe(TalkEnded(at + 100, rng.lognormvariate(4.6, 0.6)))
        else:
            policy.observe(CallFailed(at, rng.choice([30.0, rng.uniform(1, 5)])))
    return policy


WARM = warm()


def swamped(ringing_ages: tuple[float, ...], agents: int = 10) -> PacingInput:
    """Every agent has just started talking and many calls ring: an answer now would find nobody."""
    return PacingInput(
        now=NOW,
        line_limit=60,
        lines_in_use=agents + len(ringing_ages),
        ringing_since=tuple(NOW - age for age in ringing_ages),
        waiting=2,
        logged_in=agents,
        free=0,
        talking_since=tuple(NOW - 1.0 for _ in range(agents)),
    )


@st.composite
def views(draw: st.DrawFn) -> PacingInput:
    logged_in = draw(st.integers(0, 30))
    free = draw(st.integers(0, logged_in))
    busy = logged_in - free
    ringing = draw(st.lists(st.floats(0, 40), max_size=40))
    waiting = draw(st.integers(0, 5))
    return PacingInput(
        now=NOW,
        line_limit=90,
        lines_in_use=len(ringing) + waiting + busy,
        ringing_since=tuple(NOW - age for age in ringing),
        waiting=waiting,
        logged_in=logged_in,
        free=free,
        talking_since=tuple(NOW - draw(st.floats(0, 900)) for _ in range(busy)),
    )


@settings(max_examples=200, deadline=None)
@given(views(), st.floats(0, 60), st.sampled_from(["progressive", "power", "predictive"]))
def test_never_ends_a_call_that_rang_less_than_the_minimum_and_progressive_never_ends_one(
    view: PacingInput, min_ring_s: float, which: str
) -> None:
    policy = {"progressive": ProgressivePacing(), "power": PowerPacing(2.0), "predictive": WARM}[which]
    ended = policy.calls_to_end(view, min_ring_s)
    assert set(ended) <= set(past_minimum(view.now, view.ringing_since, min_ring_s))
    assert len(set(ended)) == len(ended)
    assert all(view.now - view.ringing_since[i] >= max(MIN_RING_S, min_ring_s) for i in ended)
    if which != "predictive":
        assert ended == ()


@st.composite
def snapshots(draw: st.DrawFn) -> DialSnapshot:
    """One campaign of any pacing, calls ringing for 0-40 s, the minimum ring drawn (also under the legal 15 s)."""
    which = draw(st.sampled_from(["progressive", "power", "predictive"]))
    pacing = {"progressive": ProgressivePacing(), "power": PowerPacing(2.0), "predictive": WARM}[which]
    ages = draw(st.lists(st.floats(0, 40), max_size=30))
    agents = draw(st.integers(1, 20))
    free = draw(st.integers(0, agents))
    task = TaskSlice(
        task_id=1,
        state=TaskState.OPEN,
        inner_num=QUEUE,
        needs_agent=True,
        max_channels=80,
        in_progress=len(ages) + agents - free,
        numbers=[DueNumber(n, 0.0) for n in range(1, 11)],
        pacing=pacing,
        ringing_since=tuple(NOW - age for age in ages),
        waiting=draw(st.integers(0, 3)),
        ringing_calls=tuple(f"call-{i}" for i in range(len(ages))),
        min_ring_s=draw(st.none() | st.floats(0, 60)),
    )
    pool = AgentPool(agents, tuple(NOW - 1.0 for _ in range(agents - free)))
    return DialSnapshot(
        now=NOW,
        tasks=[task],
        free_agents={QUEUE: frozenset(f"A{i}" for i in range(free))},
        reserved=frozenset(),
        numbers_in_call=frozenset(),
        queue_demand={QUEUE: 0},
        agent_pools={QUEUE: pool},
    )


@settings(max_examples=200, deadline=None)
@given(snapshots())
def test_the_plan_ends_only_calls_past_the_minimum_of_a_campaign_that_allows_it(snapshot: DialSnapshot) -> None:
    task = snapshot.tasks[0]
    plan = plan_dials(snapshot)
    age = {call: NOW - since for call, since in zip(task.ringing_calls, task.ringing_since, strict=True)}
    if task.min_ring_s is None or task.pacing.reserves_agents or isinstance(task.pacing, PowerPacing):
        assert plan.ends == ()
    for end in plan.ends:
        assert end.task_id == task.task_id
        assert age[end.call_id] >= max(MIN_RING_S, task.min_ring_s or 0.0)
        assert end.ring_s == age[end.call_id]
    assert len({end.call_id for end in plan.ends}) == len(plan.ends)


def test_a_swamped_campaign_ends_its_oldest_calls_past_the_minimum_and_dials_no_more() -> None:
    view = swamped((40.0, 30.0, 16.0, 14.0, 5.0, 2.0))
    ended = WARM.calls_to_end(view, MIN_RING_S)
    # the 40 s call can no longer answer (no answer came after 25 s): kept; the 30 s and 16 s ones may answer
    assert set(ended) <= {1, 2} and 2 in ended
    assert 3 not in ended  # 14 s: under the minimum, whatever the risk
    assert WARM.calls_to_end(view, 20.0) in ((), (1,))  # a campaign's longer minimum holds
    assert WARM.calls_to_end(view, 60.0) == ()
    assert WARM.calls_to_start(view) == 0


def test_calls_are_kept_while_agents_are_free_for_them() -> None:
    idle = PacingInput(
        now=NOW,
        line_limit=60,
        lines_in_use=2,
        ringing_since=(NOW - 20.0, NOW - 16.0),
        waiting=0,
        logged_in=10,
        free=10,
    )
    assert WARM.calls_to_end(idle, MIN_RING_S) == ()


def test_nothing_is_ended_during_the_warm_up() -> None:
    cold = PredictivePacing()
    for i in range(WARMUP_OUTCOMES - 1):
        cold.observe(CallFailed(NOW - 100 + i, 30.0))
    assert cold.calls_to_end(swamped((40.0, 30.0, 20.0)), MIN_RING_S) == ()


def _stream(model: CallModel, rng: random.Random, p: float, calls: int, cut_share: float, cut_at: float) -> None:
    """Calls that answer with ``p`` after 3-25 s or fail after 1-5 s or 30 s; ``cut_share`` of those still ringing at
    ``cut_at`` are ended there (told as censored)."""
    for _ in range(calls):
        answers = rng.random() < p
        end = rng.uniform(3, 25) if answers else rng.choice([30.0, rng.uniform(1, 5)])
        if end > cut_at and rng.random() < cut_share:
            model.cut_off(cut_at)
        elif answers:
            model.answered(end)
        else:
            model.failed(end)


def test_the_answer_rate_is_learned_right_from_calls_ended_while_ringing() -> None:
    """Calls cut at 15 s say "not answered within 15 s": the model's p stays the true one. Counting them as failed
    would make it ~0.27 here, leaving them out ~0.35."""
    rng = random.Random(7)
    model = CallModel(2.0, Priors(), answer_memory=3000)
    _stream(model, rng, 0.3, 3000, 0.0, 15.0)  # learned first from calls nobody ended
    _stream(model, rng, 0.3, 6000, 0.8, 15.0)
    assert abs(model.answer.p - 0.3) < 0.02
    # and the ring-to-answer times keep their tail past 15 s (10 of the 22 s of the uniform 3-25 s: 45%)
    assert 0.38 < 1.0 - model.ring.cdf(15.0) < 0.52


def test_a_cut_off_call_is_neither_answered_nor_failed_for_the_policy() -> None:
    policy = warm(calls=400)
    before = policy.model.answer.outcomes
    policy.observe(CallCutOff(NOW, 15.0))
    assert policy.model.answer.outcomes == before + 1
    assert 0.0 < policy.model.answer.p < 1.0


def test_min_ring_s_is_checked_naming_the_field() -> None:
    assert check_pacing({"mode": "predictive"}).min_ring_s is None  # opt in: never by default
    assert check_pacing({"mode": "predictive", "min_ring_s": None}).ends_ringing_after is None
    assert check_pacing({"mode": "predictive", "min_ring_s": MIN_RING_S}).ends_ringing_after == MIN_RING_S
    assert "min_ring_s" not in (check_pacing({"mode": "predictive"}).to_json() or {})
    assert check_pacing({"mode": "predictive", "min_ring_s": 25}).ends_ringing_after == 25.0
    assert check_pacing({"mode": "power", "min_ring_s": 25}).ends_ringing_after is None
    assert PacingSettings().ends_ringing_after is None
    for bad in (14.9, 0, 301, True, "20"):
        try:
            check_pacing({"mode": "predictive", "min_ring_s": bad})
        except PacingError as e:
            assert e.field == "pacing.min_ring_s" and "15" in e.message
        else:
            raise AssertionError(f"min_ring_s {bad!r} accepted")
    assert check_pacing({"mode": "predictive", "min_ring_s": 20}).to_json() == {
        "mode": PacingMode.PREDICTIVE.value,
        "max_abandon_rate": 0.03,
        "min_ring_s": 20.0,
        "abandon_after_s": 2.0,
        "safe_harbor": {},
    }


def test_a_campaign_with_no_number_left_looks_again_when_a_call_reaches_the_minimum() -> None:
    task = TaskSlice(
        task_id=1,
        state=TaskState.OPEN,
        inner_num=QUEUE,
        needs_agent=True,
        max_channels=10,
        in_progress=2,
        numbers=[],
        pacing=WARM,
        ringing_since=(NOW - 10.0, NOW - 4.0),
        ringing_calls=("a", "b"),
        min_ring_s=20.0,
    )
    snapshot = DialSnapshot(NOW, [task], {QUEUE: frozenset()}, frozenset(), frozenset(), queue_demand={QUEUE: 0})
    assert plan_dials(snapshot).next_deadline == NOW + 10.0  # the older call reaches 20 s
    assert plan_dials(replace(snapshot, tasks=[replace(task, min_ring_s=None)])).next_deadline is None
    power = replace(task, pacing=PowerPacing(2.0))
    assert plan_dials(replace(snapshot, tasks=[power])).next_deadline is None
