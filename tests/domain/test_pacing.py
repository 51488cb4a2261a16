"""Pacing policies: line limit, no agents, the progressive floor, backing off over the cap, and learning."""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.domain.pacing import (
    WARMUP_OUTCOMES,
    CallAbandoned,
    CallAnswered,
    CallConnected,
    CallFailed,
    InvalidPacing,
    PacingInput,
    PowerPacing,
    PredictivePacing,
    ProgressivePacing,
    TalkEnded,
    WrapEnded,
)
from autodialer.domain.pacing_config import PacingMode, PacingSettings, build_policy, zone_days
from autodialer.domain.pacing_guard import AbandonGuard
from autodialer.domain.pacing_model import CallModel, Priors

NOW = 50_000.0


def learned(abandon_every: int = 0, answer_p: float = 0.3, calls: int = 600, seed: int = 1) -> PredictivePacing:
    """A predictive policy that has seen ``calls`` calls; every ``abandon_every``-th answered one abandoned."""
    rng = random.Random(seed)
    policy = PredictivePacing()
    at = NOW - 4 * 3600.0
    answered = 0
    for _ in range(calls):
        at += 2.0
        if rng.random() < answer_p:
            answered += 1
            policy.observe(CallAnswered(at, rng.uniform(3, 20)))
            if abandon_every and answered % abandon_every == 0:
                policy.observe(CallAbandoned(at + 2))
            else:
                policy.observe(CallConnected(at))
                policy.observe(TalkEnded(at + 100, rng.lognormvariate(4.6, 0.6)))
                policy.observe(WrapEnded(at + 110, 10.0))
        else:
            policy.observe(CallFailed(at, rng.choice([25.0, rng.uniform(1, 5)])))
    return policy


@st.composite
def views(draw: st.DrawFn) -> PacingInput:
    logged_in = draw(st.integers(0, 30))
    free = draw(st.integers(0, logged_in))
    busy = logged_in - free
    talking = draw(st.integers(0, busy))
    line_limit = draw(st.integers(1, 90))
    ringing = draw(st.lists(st.floats(0, 40), max_size=min(line_limit, 40)))
    waiting = draw(st.integers(0, 3))
    in_use = draw(st.integers(0, line_limit + 2))
    return PacingInput(
        now=NOW,
        line_limit=line_limit,
        lines_in_use=max(in_use, len(ringing) + waiting),
        ringing_since=tuple(NOW - age for age in ringing),
        waiting=waiting,
        logged_in=logged_in,
        free=free,
        talking_since=tuple(NOW - draw(st.floats(0, 900)) for _ in range(talking)),
        wrapping_since=tuple(NOW - draw(st.floats(0, 30)) for _ in range(busy - talking)),
    )


WARM = learned(calls=2000)  # ~600 answered, none abandoned: θ has climbed
OVER_CAP = learned(abandon_every=10)


@settings(max_examples=150, deadline=None)
@given(views(), st.sampled_from(["progressive", "power", "predictive", "cold", "over-cap"]))
def test_never_more_calls_than_free_lines_and_none_without_agents(view: PacingInput, which: str) -> None:
    policy = {
        "progressive": ProgressivePacing(),
        "power": PowerPacing(2.5),
        "predictive": WARM,
        "cold": PredictivePacing(),
        "over-cap": OVER_CAP,
    }[which]
    calls = policy.calls_to_start(view)
    assert 0 <= calls <= view.free_lines
    if view.logged_in == 0:
        assert calls == 0
    if which in {"predictive", "cold", "over-cap"}:
        # never below what progressive would place for the free agents nobody is on the way to
        assert calls >= min(view.uncovered_agents, view.free_lines)
    if which in {"cold", "over-cap"}:
        assert calls == min(view.uncovered_agents, view.free_lines)


def busy_floor(agents: int = 20, free: int = 2) -> PacingInput:
    """A typical instant: most agents talking at various stages, a few calls ringing."""
    return PacingInput(
        now=NOW,
        line_limit=3 * agents,
        lines_in_use=agents - free + 2,
        ringing_since=(NOW - 2, NOW - 9),
        waiting=0,
        logged_in=agents,
        free=free,
        talking_since=tuple(NOW - 12.0 * i for i in range(agents - free)),
    )


def test_predictive_dials_ahead_of_free_agents_when_healthy() -> None:
    view = busy_floor()
    assert view.uncovered_agents == 0
    assert WARM.calls_to_start(view) > 0
    assert PowerPacing(1.0).calls_to_start(view) == 0


def test_backs_off_to_progressive_when_abandonment_exceeds_the_cap_and_recovers() -> None:
    view = busy_floor()
    assert OVER_CAP.guard.abandoned_today > OVER_CAP.max_abandon_rate * OVER_CAP.guard.answered_today
    assert OVER_CAP.calls_to_start(view) == 0  # progressive: nothing for agents that are not free

    recovering = learned(abandon_every=10)
    at = NOW
    for _ in range(2000):
        recovering.observe(CallAnswered(at, 8.0))
        recovering.observe(CallConnected(at))
        at += 1.0
    assert recovering.guard.backoff(at) == 0.0
    assert recovering.calls_to_start(PacingInput(**{**_fields(busy_floor()), "now": at})) > 0


def _fields(view: PacingInput) -> dict[str, object]:
    return {name: getattr(view, name) for name in view.__dataclass_fields__}


def test_the_recent_rate_far_over_the_cap_backs_off_before_the_day_has_settled() -> None:
    guard = AbandonGuard(0.03, 0.025)
    for i in range(40):
        guard.record(NOW + i, abandoned=i % 5 == 0)  # 20%
    assert guard.answered_today < 100
    assert guard.backoff(NOW + 41) == 1.0


def test_the_day_counts_reset_at_local_midnight() -> None:
    guard = AbandonGuard(0.03, 0.025, zone_days("Europe/Moscow"))  # UTC+3, no DST
    evening = 86400.0 - 3 * 3600 - 60  # 23:59 local
    for i in range(200):
        guard.record(evening - 200 + i, abandoned=i % 10 == 0)
    assert guard.backoff(evening) > 0
    assert guard.answered_today == 200
    guard.backoff(evening + 120)  # 00:01 local
    assert guard.answered_today == 0


def _instant(zone: str, *when: int) -> float:
    return datetime(*when, tzinfo=ZoneInfo(zone)).timestamp()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("zone", "built", "changed"),
    [
        ("Europe/Berlin", (2026, 1, 15), (2026, 3, 29)),
        ("Europe/Berlin", (2026, 7, 15), (2026, 10, 25)),
        ("America/New_York", (2026, 1, 15), (2026, 3, 8)),
    ],
)
def test_the_campaign_day_follows_the_zone_across_a_dst_change(
    zone: str, built: tuple[int, int, int], changed: tuple[int, int, int]
) -> None:
    # A policy first used in the other season keeps counting per local day after the clocks change: the evening of
    # the change day and the next local midnight are read from the zone at that instant, not from a fixed offset.
    policy = build_policy(PacingSettings(PacingMode.PREDICTIVE), zone)
    assert isinstance(policy, PredictivePacing)
    guard = policy.guard
    guard.backoff(_instant(zone, *built, 12))
    y, m, d = changed
    late = _instant(zone, y, m, d, 23, 30)
    for i in range(10):
        policy.observe(CallConnected(late + i))
    assert guard.answered_today == 10
    guard.backoff(_instant(zone, y, m, d, 23, 59))
    assert guard.answered_today == 10  # still the change day (a fixed winter/summer offset is an hour off here)
    midnight = _instant(zone, y, m, d + 1, 0, 0)
    guard.backoff(midnight - 1)
    assert guard.answered_today == 10
    guard.backoff(midnight + 1)
    assert guard.answered_today == 0


def test_no_dialing_ahead_during_the_warm_up() -> None:
    policy = PredictivePacing()
    view = busy_floor()
    for i in range(WARMUP_OUTCOMES - 1):
        policy.observe(CallFailed(NOW - 100 + i, 20.0))
    assert policy.calls_to_start(view) == 0
    policy.observe(CallAnswered(NOW - 1, 10.0))
    assert policy.calls_to_start(view) > 0  # 1 answer in 20: few answers expected, so it dials ahead


def test_the_answer_rate_follows_a_drift() -> None:
    policy = learned(answer_p=0.6, calls=1500)
    assert policy.model.answer.p == pytest.approx(0.6, abs=0.08)
    rng = random.Random(9)
    for i in range(1500):
        if rng.random() < 0.15:
            policy.observe(CallAnswered(NOW + i, 10.0))
        else:
            policy.observe(CallFailed(NOW + i, 25.0))
    assert policy.model.answer.p == pytest.approx(0.15, abs=0.06)


def test_a_lower_answer_rate_means_more_calls_for_the_same_agents() -> None:
    view = busy_floor(free=6)
    assert learned(answer_p=0.15, calls=2000).calls_to_start(view) > learned(answer_p=0.6).calls_to_start(view)


def test_power_keeps_its_ratio_of_ringing_lines_per_free_agent() -> None:
    view = PacingInput(NOW, 20, 3, (NOW - 1,), 0, 5, 2)
    assert PowerPacing(2.0).calls_to_start(view) == 3  # 2·2 ringing wanted, 1 already ringing
    assert PowerPacing(2.0).calls_to_start(PacingInput(NOW, 5, 3, (NOW - 1,), 0, 5, 2)) == 2  # two lines left


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: PowerPacing(0.5), "linesPerAgent"),
        (lambda: PredictivePacing(max_abandon_rate=0.0), "maxAbandonRate"),
        (lambda: PredictivePacing(abandon_after_s=-1), "abandonAfterS"),
    ],
)
def test_bad_settings_name_the_field(make: object, field: str) -> None:
    with pytest.raises(InvalidPacing) as info:
        make()  # type: ignore[operator]
    assert info.value.details == {"field": field}
    assert info.value.error_id == "invalid-pacing"


def test_an_agent_in_wrap_up_is_free_when_its_wrap_up_ends() -> None:
    model = CallModel(2.0, Priors(wrap_s=(30.0,) * 8))
    early, late = model.wrap_row(1.0), model.wrap_row(29.0)
    k = len(model.horizons)
    assert all(p == 0.0 for p in early[:k])  # 29 s of wrap-up left, horizons + 2 s reach less than that
    assert all(p > 0.9 for p in late[:k])


def test_a_call_that_has_rung_long_is_less_likely_to_answer() -> None:
    # answers come 3-20 s in; past 20 s a ringing call can only fail
    model = learned(calls=2000).model
    fresh, old = model.ring_row(0.0), model.ring_row(21.0)
    k = len(model.horizons)
    assert fresh[k - 1] == pytest.approx(model.answer.p, abs=0.05)
    assert max(old[:k]) < 0.02
