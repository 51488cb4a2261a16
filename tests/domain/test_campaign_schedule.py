"""A campaign's schedule: checked with errors naming the field, canonical once checked, and combined with the global
window by one rule (the campaign's hours replace the global ones; dates and start/end apply with either), held to
the plain definition by Hypothesis for any hours, dates, zones and instant."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.domain.attempt_limits import AttemptLimits
from autodialer.domain.call_hours import ExcludedDates, WeeklyHours, parse_call_hours, parse_excluded_dates
from autodialer.domain.call_window import is_allowed, next_allowed
from autodialer.domain.callee_zones import zone_info
from autodialer.domain.campaign_schedule import CampaignSchedule, call_schedule
from autodialer.domain.campaigns import InvalidField, attempt_limits, check_schedule

ZONES = ("America/New_York", "Europe/Moscow", "Asia/Novosibirsk", "Asia/Kathmandu", "Australia/Lord_Howe")
LO = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
HI = datetime(2027, 12, 31, tzinfo=UTC).timestamp()

spans = st.lists(st.tuples(st.integers(0, 47), st.integers(1, 48)), max_size=2).map(
    lambda pairs: sorted({(a * 30, b * 30) for a, b in pairs if a < b})
)


def _disjoint(pairs: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for a, b in pairs:
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


hours = st.lists(spans, min_size=7, max_size=7).map(lambda days: WeeklyHours(tuple(_disjoint(d) for d in days)))
days = st.dates(min_value=date(2026, 1, 1), max_value=date(2027, 12, 31))
ranges = st.lists(st.tuples(days, st.integers(0, 5)), max_size=3).map(
    lambda items: ", ".join(f"{d}..{d + timedelta(days=n)}" for d, n in items)
)
moments = st.floats(min_value=LO, max_value=HI)
minutes = st.integers(int(LO // 60), int(HI // 60)).map(lambda m: m * 60.0)  # every edge is a whole UTC minute


def oracle(
    effective: WeeklyHours | None,
    excluded: ExcludedDates,
    start: float | None,
    end: float | None,
    zones: tuple[str, ...],
    now: float,
) -> bool:
    if (start is not None and now < start) or (end is not None and now >= end):
        return False
    for zone in zones:
        local = datetime.fromtimestamp(math.floor(now), zone_info(zone))
        if local.date() in excluded:
            return False
        if effective is None:
            continue
        minute = local.hour * 60 + local.minute
        if not any(a <= minute < b for a, b in effective.spans_on(local.weekday())):
            return False
    return True


@settings(max_examples=300, deadline=None)
@given(
    own=st.none() | hours,
    global_hours=st.none() | hours,
    excluded=ranges,
    start=st.none() | minutes,
    end=st.none() | minutes,
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True).map(tuple),
    now=moments,
)
def test_the_campaigns_hours_replace_the_global_ones_and_dates_and_start_end_always_apply(
    own: WeeklyHours | None,
    global_hours: WeeklyHours | None,
    excluded: str,
    start: float | None,
    end: float | None,
    zones: tuple[str, ...],
    now: float,
) -> None:
    now = math.floor(now / 60) * 60 + 1  # clear of the edges (whole minutes): the window module has its own edge tests
    schedule = CampaignSchedule(None if own is None else str(own), excluded, start, end)
    combined = call_schedule(schedule, global_hours)
    effective = own if own is not None else global_hours
    excluded_set = parse_excluded_dates(excluded)
    expected = oracle(effective, excluded_set, start, end, zones, now)
    if combined is None:
        assert effective is None and not excluded_set.ranges and start is None and end is None
        assert expected
        return
    assert is_allowed(combined, zones, now) == expected
    opening = next_allowed(combined, zones, now, horizon_s=14 * 86400)
    if opening is not None:  # allowed-ness is constant within a UTC minute: just after the opening must be allowed
        assert oracle(effective, excluded_set, start, end, zones, opening + 0.5)


@settings(max_examples=200, deadline=None)
@given(own=hours, excluded=ranges, zone=st.sampled_from(ZONES))
def test_a_checked_schedule_is_canonical_and_means_the_same(own: WeeklyHours, excluded: str, zone: str) -> None:
    checked = check_schedule(CampaignSchedule(str(own), excluded, None, None, zone))
    assert check_schedule(checked) == checked
    assert checked.hours is not None and parse_call_hours(checked.hours) == own


@pytest.mark.parametrize(
    ("schedule", "field", "rule"),
    [
        (CampaignSchedule(hours="9-21"), "schedule.hours", "is not a span HH:MM-HH:MM"),
        (CampaignSchedule(hours=""), "schedule.hours", "is empty"),
        (CampaignSchedule(excluded_dates="2027-01-01..2028-06-01"), "schedule.excluded_dates", "at most 366 days"),
        (CampaignSchedule(default_zone="Moscow"), "schedule.default_zone", "is not an IANA time zone"),
        (CampaignSchedule(starts_at=-1.0), "schedule.starts_at", "between 1970-01-01 and 9999-12-31"),
        (CampaignSchedule(starts_at=5.0, ends_at=5.0), "schedule.ends_at", "later than schedule.starts_at"),
    ],
)
def test_a_bad_schedule_names_the_field_and_the_rule(schedule: CampaignSchedule, field: str, rule: str) -> None:
    with pytest.raises(InvalidField) as caught:
        check_schedule(schedule)
    assert caught.value.details["field"] == field and rule in str(caught.value)


def test_bad_limits_name_their_field() -> None:
    with pytest.raises(InvalidField) as caught:
        attempt_limits(max_per_day_all_campaigns=1001)
    assert caught.value.details["field"] == "attempt_limits.max_per_day_all_campaigns"
    assert attempt_limits(min_gap_s=60) == AttemptLimits(min_gap_s=60)


def test_nothing_set_means_no_window_and_dates_alone_make_one() -> None:
    assert call_schedule(CampaignSchedule(), None) is None
    only_dates = call_schedule(CampaignSchedule(excluded_dates="2026-12-31"), None)
    assert only_dates is not None and not is_allowed(
        only_dates, ("Europe/Moscow",), datetime(2026, 12, 31, 12, tzinfo=UTC).timestamp()
    )
    assert is_allowed(only_dates, ("Europe/Moscow",), datetime(2027, 1, 1, 3, tzinfo=UTC).timestamp())
