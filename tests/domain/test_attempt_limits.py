"""Attempt limits: per day on the callee's clock (every candidate zone), in total, the least gap, and the
cross-campaign daily cap."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.domain.attempt_limits import (
    AttemptLimits,
    InvalidAttemptLimits,
    PastAttempt,
    attempt_holds,
    callee_day_cap,
    local_day,
)

CAMPAIGN = 1_000_000_001
NSK = ("Asia/Novosibirsk",)  # UTC+7


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_two_of_two_attempts_today_releases_at_the_callee_midnight() -> None:
    attempts = [PastAttempt(CAMPAIGN, utc(2026, 12, 4, 3)), PastAttempt(CAMPAIGN, utc(2026, 12, 4, 9))]
    (hold,) = attempt_holds(AttemptLimits(max_per_day=2), CAMPAIGN, attempts, NSK, utc(2026, 12, 4, 12))
    assert (hold.rule, hold.text) == ("max_per_day", "2 of 2 attempts today (Asia/Novosibirsk)")
    assert hold.until == utc(2026, 12, 4, 17)  # 00:00 in Novosibirsk


def test_the_day_is_the_callee_day_not_the_pbx_day() -> None:
    # 16:30 UTC is 23:30 in Novosibirsk on the 4th; 17:30 UTC is already the 5th there: the earlier calls are
    # "yesterday" for the callee although it is the same day in Moscow.
    attempts = [PastAttempt(CAMPAIGN, utc(2026, 12, 4, 16)), PastAttempt(CAMPAIGN, utc(2026, 12, 4, 16, 30))]
    limits = AttemptLimits(max_per_day=2)
    assert attempt_holds(limits, CAMPAIGN, attempts, NSK, utc(2026, 12, 4, 16, 45))
    assert attempt_holds(limits, CAMPAIGN, attempts, NSK, utc(2026, 12, 4, 17, 30)) == []
    assert attempt_holds(limits, CAMPAIGN, attempts, ("Europe/Moscow",), utc(2026, 12, 4, 17, 30))


def test_with_several_zones_a_call_counts_for_today_in_any_of_them() -> None:
    attempts = [PastAttempt(CAMPAIGN, utc(2026, 12, 4, 16, 30))]  # the 4th in both zones
    zones = ("Asia/Novosibirsk", "Europe/Moscow")
    (hold,) = attempt_holds(AttemptLimits(max_per_day=1), CAMPAIGN, attempts, zones, utc(2026, 12, 4, 18))
    # new day in Novosibirsk (17:00 UTC) but still the 4th in Moscow until 21:00 UTC
    assert hold.until == utc(2026, 12, 4, 21)


def test_a_day_of_twenty_three_hours_across_the_march_change() -> None:
    attempts = [PastAttempt(CAMPAIGN, utc(2026, 3, 8, 5))]  # 00:00 EST on the 8th
    (hold,) = attempt_holds(AttemptLimits(max_per_day=1), CAMPAIGN, attempts, ("America/New_York",), utc(2026, 3, 8, 6))
    assert hold.until == utc(2026, 3, 9, 4)  # 00:00 EDT on the 9th: 23 hours later


def test_total_attempts_never_release() -> None:
    attempts = [PastAttempt(CAMPAIGN, utc(2026, 12, d)) for d in (1, 2, 3)]
    (hold,) = attempt_holds(AttemptLimits(max_total=3), CAMPAIGN, attempts, NSK, utc(2026, 12, 4))
    assert (hold.rule, hold.text, hold.until) == ("max_total", "3 of 3 attempts made", None)


def test_other_campaigns_count_only_for_the_cross_campaign_cap() -> None:
    attempts = [
        PastAttempt(7, utc(2026, 12, 4, 2)),
        PastAttempt(8, utc(2026, 12, 4, 3)),
        PastAttempt(CAMPAIGN, utc(2026, 12, 4, 4)),
    ]
    limits = AttemptLimits(max_per_day=2, max_total=2, max_per_day_all_campaigns=3)
    (hold,) = attempt_holds(limits, CAMPAIGN, attempts, NSK, utc(2026, 12, 4, 5))
    assert hold.rule == "max_per_day_all_campaigns"
    assert hold.text == "3 of 3 calls today to this number across all campaigns (Asia/Novosibirsk)"


def test_the_least_gap_counts_from_the_end_of_the_last_call() -> None:
    attempts = [PastAttempt(CAMPAIGN, utc(2026, 12, 4, 10), utc(2026, 12, 4, 10, 5))]
    (hold,) = attempt_holds(AttemptLimits(min_gap_s=3600), CAMPAIGN, attempts, NSK, utc(2026, 12, 4, 10, 35))
    assert hold.until == utc(2026, 12, 4, 11, 5)
    assert hold.text == "last call ended 1800 s ago, the least gap is 3600 s"
    assert attempt_holds(AttemptLimits(min_gap_s=3600), CAMPAIGN, attempts, NSK, utc(2026, 12, 4, 11, 5)) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_per_day": 0}, "max_per_day"),
        ({"max_total": True}, "max_total"),
        ({"max_per_day_all_campaigns": 1001}, "max_per_day_all_campaigns"),
        ({"min_gap_s": -1}, "min_gap_s"),
    ],
)
def test_bad_limits_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidAttemptLimits) as caught:
        AttemptLimits(**kwargs)  # type: ignore[arg-type]
    assert caught.value.details == {"field": field}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=3 * 86400), max_size=6),
    st.floats(min_value=0, max_value=3 * 86400),
    st.lists(
        st.sampled_from(["Asia/Novosibirsk", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    st.integers(1, 3),
)
def test_a_released_daily_cap_stays_released_and_holds_until_then(
    offsets: list[float], after: float, zones: list[str], cap: int
) -> None:
    base = utc(2026, 3, 6)
    attempts = [PastAttempt(CAMPAIGN, base + o) for o in offsets]
    now = base + max(offsets, default=0.0) + 1
    limits = AttemptLimits(max_per_day=cap)
    holds = attempt_holds(limits, CAMPAIGN, attempts, tuple(zones), now)
    if not holds:
        assert attempt_holds(limits, CAMPAIGN, attempts, tuple(zones), now + after) == []
        return
    (hold,) = holds
    assert hold.until is not None and hold.until > now
    assert attempt_holds(limits, CAMPAIGN, attempts, tuple(zones), hold.until) == []
    assert attempt_holds(limits, CAMPAIGN, attempts, tuple(zones), hold.until - 1)


@given(
    st.lists(st.tuples(st.integers(1, 3), st.floats(min_value=0, max_value=3 * 86400)), max_size=6),
    st.floats(min_value=0, max_value=3 * 86400),
    st.lists(
        st.sampled_from(["Asia/Novosibirsk", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    st.integers(1, 3),
)
def test_the_claims_recheck_of_the_cap_across_campaigns_agrees_with_the_verdict(
    past: list[tuple[int, float]], offset: float, zones: list[str], cap: int
) -> None:
    """What the claim of a call applies (CalleeDayCap.allows on every call's start) is the verdict's rule, so a
    number allowed when judged is refused at the claim only when calls were placed toward it since; and with the
    new call counted, no candidate zone's day ever gets more than the cap."""
    base = utc(2026, 3, 6)
    now = base + offset
    attempts = [PastAttempt(campaign, base + o) for campaign, o in past if base + o <= now]
    limits = AttemptLimits(max_per_day_all_campaigns=cap)
    guard = callee_day_cap(limits, "+79522233446", tuple(zones), now)
    assert guard is not None and callee_day_cap(AttemptLimits(), "+79522233446", tuple(zones), now) is None
    starts = [a.started_at for a in attempts]
    assert guard.allows(starts) == (attempt_holds(limits, 2, attempts, tuple(zones), now) == [])
    if guard.allows(starts):
        for zone in zones:
            start, end = local_day(now, ZoneInfo(zone))
            assert sum(1 for t in [*starts, now] if start <= t < end) <= cap
