"""The call window against its definition, for any hours, excluded dates, campaign dates, zones and instant.

The oracle is the plain reading: the wall clock of the instant in each zone (``datetime.fromtimestamp``). Every
boundary (a span edge on a local clock with a whole-minute offset, a DST jump, a campaign start or end drawn on
whole minutes) is a whole UTC minute, so allowed-ness is constant within each UTC minute and checking ``now`` and
every minute start up to ``next_allowed`` is exhaustive.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.domain.call_hours import ExcludedDates, WeeklyHours
from autodialer.domain.call_window import CallSchedule, allowed_until, is_allowed, next_allowed, zone_allows

ZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "America/St_Johns",  # -3:30 / -2:30
    "America/Santiago",  # DST change at midnight
    "Europe/London",
    "Europe/Moscow",
    "Asia/Kolkata",  # +5:30
    "Asia/Kathmandu",  # +5:45
    "Asia/Kamchatka",
    "Australia/Adelaide",  # +9:30 / +10:30, southern DST
    "Australia/Lord_Howe",  # half-hour DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "Pacific/Kiritimati",  # +14
    "Pacific/Pago_Pago",  # -11
)
# instants near the US, EU, southern and Lord Howe changes, and anywhere in 2025-2029
CHANGES = [
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 11, 1, 6, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 4, 4, 16, 30, tzinfo=UTC),
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    datetime(2026, 9, 6, 4, tzinfo=UTC),
]

instants = st.one_of(
    # a hair either side of a whole minute, where every edge lies
    st.builds(
        lambda minute, hair: minute * 60.0 + hair,
        st.integers(29_000_000, 31_000_000),
        st.sampled_from([0.0, 1e-6, -1e-6, 2.4e-7, -2.4e-7, 0.5, -0.5]),
    ),
    st.floats(
        min_value=datetime(2025, 1, 1, tzinfo=UTC).timestamp(), max_value=datetime(2029, 12, 31, tzinfo=UTC).timestamp()
    ),
    st.builds(
        lambda at, shift: at.timestamp() + shift,
        st.sampled_from(CHANGES),
        st.floats(min_value=-2 * 86400, max_value=2 * 86400),
    ),
)


@st.composite
def day_spans(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    step = draw(st.sampled_from([1, 15, 30, 60]))
    cuts = sorted(set(draw(st.lists(st.integers(0, 1440 // step), max_size=4))))
    spans = [(cuts[i] * step, cuts[i + 1] * step) for i in range(0, len(cuts) - 1, 2)]
    return tuple((a, b) for a, b in spans if a < b)


@st.composite
def schedules(draw: st.DrawFn, near: float) -> CallSchedule:
    hours = WeeklyHours(tuple(draw(day_spans()) for _ in range(7)))
    base = datetime.fromtimestamp(near, UTC).date()
    ranges = []
    for _ in range(draw(st.integers(0, 2))):
        first = base + timedelta(days=draw(st.integers(-2, 6)))
        ranges.append((first, first + timedelta(days=draw(st.integers(0, 2)))))
    minute = math.floor(near / 60) * 60
    starts = draw(st.none() | st.integers(-3 * 1440, 3 * 1440).map(lambda m: minute + m * 60.0))
    ends = draw(st.none() | st.integers(0, 9 * 1440).map(lambda m: (starts or minute) + m * 60.0))
    return CallSchedule(hours, ExcludedDates(tuple(sorted(ranges))), starts, ends)


def oracle(schedule: CallSchedule, zones: tuple[str, ...], t: float) -> bool:
    if schedule.starts_at is not None and t < schedule.starts_at:
        return False
    if schedule.ends_at is not None and t >= schedule.ends_at:
        return False
    return all(zone_allows(schedule, zone, t) for zone in zones)


def zone_sets() -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True).map(tuple)


@settings(max_examples=300, deadline=None)
@given(st.data(), instants, zone_sets())
def test_no_call_is_allowed_outside_the_window_in_any_candidate_zone(
    data: st.DataObject, now: float, zones: tuple[str, ...]
) -> None:
    schedule = data.draw(schedules(now))
    assert is_allowed(schedule, zones, now) == oracle(schedule, zones, now)


@settings(max_examples=60, deadline=None)
@given(st.data(), instants, zone_sets())
def test_next_allowed_is_allowed_and_nothing_earlier_is(
    data: st.DataObject, now: float, zones: tuple[str, ...]
) -> None:
    schedule = data.draw(schedules(now))
    found = next_allowed(schedule, zones, now, horizon_s=4 * 86400)
    last = found if found is not None else now + 4 * 86400
    assert found is None or (found >= now and oracle(schedule, zones, found))
    checked = [now, *range(math.ceil(now / 60) * 60, math.ceil(last), 60)]
    assert not any(oracle(schedule, zones, t) for t in checked if t < last)


@settings(max_examples=60, deadline=None)
@given(st.data(), instants, zone_sets())
def test_allowed_until_is_the_end_of_the_open_stretch(data: st.DataObject, now: float, zones: tuple[str, ...]) -> None:
    schedule = data.draw(schedules(now))
    end = allowed_until(schedule, zones, now)
    if not oracle(schedule, zones, now):
        assert end is None
        return
    assert end is not None and end > now and not oracle(schedule, zones, end)
    stop = min(end, now + 2 * 86400)
    assert all(oracle(schedule, zones, t) for t in range(math.ceil(now / 60) * 60, math.ceil(stop), 60))


def test_the_oracle_sees_dates_in_the_zone() -> None:
    schedule = CallSchedule(WeeklyHours.every_day(0, 1440), ExcludedDates(((date(2027, 1, 1), date(2027, 1, 1)),)))
    t = datetime(2026, 12, 31, 22, tzinfo=UTC).timestamp()
    assert zone_allows(schedule, "Europe/London", t) and not zone_allows(schedule, "Asia/Novosibirsk", t)


def test_a_fraction_of_a_microsecond_before_the_end_is_inside_for_both_readings() -> None:
    # 2027-12-31 20:59:59.9999998 in São Paulo: fromtimestamp rounds it to 21:00:00, the interval arithmetic does not;
    # the two once disagreed (found by the any-number property in tests/adapters).
    schedule = CallSchedule(WeeklyHours.every_day(9 * 60, 21 * 60))
    now = 1830297599.9999998
    assert is_allowed(schedule, ("America/Sao_Paulo",), now)
    assert zone_allows(schedule, "America/Sao_Paulo", now)
    assert not zone_allows(schedule, "America/Sao_Paulo", 1830297600.0)
    start = CallSchedule(schedule.hours, starts_at=1830261600.25)  # a quarter second past 13:00 in Moscow
    assert not is_allowed(start, ("Europe/Moscow",), 1830261600.2) and is_allowed(
        start, ("Europe/Moscow",), 1830261600.25
    )
