"""The hours and excluded-dates formats: what each form means, the canonical text, and errors naming the rule."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodialer.domain.call_hours import (
    ExcludedDates,
    InvalidCallWindow,
    WeeklyHours,
    parse_call_hours,
    parse_call_window_setting,
    parse_excluded_dates,
)

NINE_TO_NINE = ((9 * 60, 21 * 60),)
TEN_TO_EIGHT = ((10 * 60, 20 * 60),)


def test_the_global_setting_form_is_every_day() -> None:
    assert parse_call_hours("09:00-21:00", field="AUTODIALER_CALL_WINDOW") == WeeklyHours((NINE_TO_NINE,) * 7)


def test_the_global_setting_is_off_unless_set() -> None:
    assert parse_call_window_setting("") is None
    assert parse_call_window_setting(" OFF ") is None
    assert parse_call_window_setting("09:00-21:00") == WeeklyHours((NINE_TO_NINE,) * 7)
    with pytest.raises(InvalidCallWindow) as caught:
        parse_call_window_setting("9-21")
    assert str(caught.value) == "AUTODIALER_CALL_WINDOW: rule '9-21': '9-21' is not a span HH:MM-HH:MM"


def test_a_rule_without_days_covers_the_days_no_other_rule_names() -> None:
    hours = parse_call_hours("09:00-21:00; sat,sun 10:00-20:00")
    assert hours.days == (NINE_TO_NINE,) * 5 + (TEN_TO_EIGHT,) * 2
    assert str(hours) == "mon-fri 09:00-21:00; sat,sun 10:00-20:00"


def test_named_days_only_leave_the_others_without_calls() -> None:
    hours = parse_call_hours("Mon-Fri 09:00-13:00, 14:00-18:00")
    assert hours.spans_on(0) == ((540, 780), (840, 1080))
    assert hours.spans_on(5) == hours.spans_on(6) == ()


def test_off_wrapping_ranges_and_touching_spans() -> None:
    hours = parse_call_hours("fri-mon 10:00-12:00,12:00-14:00; tue off; 09:00-18:00")
    assert [hours.spans_on(d) for d in range(7)] == [
        ((600, 840),),
        (),
        ((540, 1080),),
        ((540, 1080),),
        ((600, 840),),
        ((600, 840),),
        ((600, 840),),
    ]


def test_24_00_ends_the_day() -> None:
    assert parse_call_hours("sat 22:00-24:00; sun 00:00-02:00").spans_on(5) == ((1320, 1440),)


@pytest.mark.parametrize(
    ("text", "rule", "words"),
    [
        ("", None, "is empty"),
        ("22:00-02:00", "22:00-02:00", "may not cross midnight"),
        ("09:00-09:00", "09:00-09:00", "ends before it starts"),
        ("9:00-21:00", "9:00-21:00", "is not a span HH:MM-HH:MM"),
        ("09:00-24:30", "09:00-24:30", "is not a time of day"),
        ("09:60-21:00", "09:60-21:00", "is not a time of day"),
        ("mon-fri 09:00-21:00; fri 10:00-12:00", "fri 10:00-12:00", "fri is already given"),
        ("09:00-21:00; 10:00-11:00", "10:00-11:00", "only one rule may leave out the days"),
        ("weekdays 09:00-21:00", "weekdays 09:00-21:00", "'weekdays' is not a day"),
        ("mon,mon 09:00-21:00", "mon,mon 09:00-21:00", "names a day twice"),
        ("09:00-13:00,12:00-18:00", "09:00-13:00,12:00-18:00", "12:00-18:00 overlaps 09:00-13:00"),
        ("09:00-21:00;", None, "empty rule"),
        ("mon-fri", "mon-fri", "must read"),
    ],
)
def test_bad_hours_name_the_field_and_the_rule(text: str, rule: str | None, words: str) -> None:
    with pytest.raises(InvalidCallWindow) as caught:
        parse_call_hours(text, field="AUTODIALER_CALL_WINDOW")
    assert caught.value.error_id == "invalid-call-window"
    assert caught.value.details == {"field": "AUTODIALER_CALL_WINDOW", "rule": rule}
    assert str(caught.value).startswith("AUTODIALER_CALL_WINDOW: ")
    assert words in str(caught.value)


def test_excluded_dates_single_days_and_inclusive_ranges() -> None:
    excluded = parse_excluded_dates("2027-02-23, 2027-01-01..2027-01-08")
    assert excluded == ExcludedDates(((date(2027, 1, 1), date(2027, 1, 8)), (date(2027, 2, 23), date(2027, 2, 23))))
    assert date(2027, 1, 8) in excluded and date(2027, 1, 9) not in excluded
    assert str(excluded) == "2027-01-01..2027-01-08, 2027-02-23"
    assert parse_excluded_dates("  ") == ExcludedDates()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2027-13-01", "is not a date"),
        ("2027-01-08..2027-01-01", "must not end before it starts"),
        ("2027-01-01..2028-06-01", "at most 366 days"),
        ("2027-01-01,,2027-01-02", "empty item"),
    ],
)
def test_bad_excluded_dates_name_the_field(text: str, words: str) -> None:
    with pytest.raises(InvalidCallWindow) as caught:
        parse_excluded_dates(text, field="schedule.excluded_dates")
    assert caught.value.details["field"] == "schedule.excluded_dates"
    assert words in str(caught.value)


_SPAN_DAYS = st.lists(
    st.tuples(st.integers(0, 1439), st.integers(1, 1440)).filter(lambda s: s[0] < s[1]), max_size=3
).map(lambda spans: _disjoint(sorted(spans)))


def _disjoint(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and a <= out[-1][1]:
            continue  # keep the test's hours valid: overlapping and touching spans dropped
        out.append((a, b))
    return tuple(out)


@given(st.tuples(*[_SPAN_DAYS] * 7))
def test_the_canonical_text_parses_back_to_the_same_hours(days: tuple[tuple[tuple[int, int], ...], ...]) -> None:
    hours = WeeklyHours(days)
    assert parse_call_hours(str(hours)) == hours
