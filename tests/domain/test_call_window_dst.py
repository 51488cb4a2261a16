"""Call windows on real clocks: the US March and November changes, half-hour and 45-minute offsets, a southern
hemisphere change, and what 09:00-21:00 means for a Russian mobile number's candidate zones."""

from __future__ import annotations

from datetime import UTC, datetime

from autodialer.domain.call_hours import parse_call_hours, parse_excluded_dates
from autodialer.domain.call_window import (
    CallSchedule,
    allowed_intervals,
    allowed_until,
    is_allowed,
    next_allowed,
)

NY = ("America/New_York",)
# adapters.phone_numbering's zones for a +7 9xx number: the tz database's zones of Russia
RU_MOBILE = (
    "Asia/Anadyr",
    "Asia/Barnaul",
    "Asia/Chita",
    "Asia/Irkutsk",
    "Asia/Kamchatka",
    "Asia/Khandyga",
    "Asia/Krasnoyarsk",
    "Asia/Magadan",
    "Asia/Novokuznetsk",
    "Asia/Novosibirsk",
    "Asia/Omsk",
    "Asia/Sakhalin",
    "Asia/Srednekolymsk",
    "Asia/Tomsk",
    "Asia/Ust-Nera",
    "Asia/Vladivostok",
    "Asia/Yakutsk",
    "Asia/Yekaterinburg",
    "Europe/Astrakhan",
    "Europe/Kaliningrad",
    "Europe/Kirov",
    "Europe/Moscow",
    "Europe/Samara",
    "Europe/Saratov",
    "Europe/Ulyanovsk",
    "Europe/Volgograd",
)
# libphonenumber's own list for +7 (phonenumbers 9.0): Bucharest for UTC+2, and Kazakh zones
LIBPHONENUMBER_PLUS_SEVEN = (
    "Asia/Almaty",
    "Asia/Anadyr",
    "Asia/Aqtobe",
    "Asia/Irkutsk",
    "Asia/Kamchatka",
    "Asia/Krasnoyarsk",
    "Asia/Magadan",
    "Asia/Novosibirsk",
    "Asia/Omsk",
    "Asia/Sakhalin",
    "Asia/Vladivostok",
    "Asia/Yakutsk",
    "Asia/Yekaterinburg",
    "Europe/Bucharest",
    "Europe/Moscow",
    "Europe/Samara",
)


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def schedule(hours: str, **kwargs: object) -> CallSchedule:
    return CallSchedule(parse_call_hours(hours), **kwargs)  # type: ignore[arg-type]


def test_a_nine_to_nine_day_is_twelve_hours_on_both_sides_of_the_march_change() -> None:
    # 2026-03-08 02:00 EST -> 03:00 EDT. Saturday is EST (UTC-5), Sunday EDT (UTC-4).
    got = allowed_intervals(schedule("09:00-21:00"), NY, utc(2026, 3, 7, 3), utc(2026, 3, 9, 3))
    assert got == [(utc(2026, 3, 7, 14), utc(2026, 3, 8, 2)), (utc(2026, 3, 8, 13), utc(2026, 3, 9, 1))]


def test_a_nine_to_nine_day_is_twelve_hours_on_both_sides_of_the_november_change() -> None:
    # 2026-11-01 02:00 EDT -> 01:00 EST
    got = allowed_intervals(schedule("09:00-21:00"), NY, utc(2026, 10, 31, 3), utc(2026, 11, 2, 3))
    assert got == [(utc(2026, 10, 31, 13), utc(2026, 11, 1, 1)), (utc(2026, 11, 1, 14), utc(2026, 11, 2, 2))]


def test_a_span_starting_in_the_spring_gap_opens_when_the_clock_jumps() -> None:
    # 02:30 does not exist on 2026-03-08 in New York: the clock reads 03:00 EDT at 07:00 UTC.
    window = schedule("02:30-04:00")
    assert next_allowed(window, NY, utc(2026, 3, 8, 6)) == utc(2026, 3, 8, 7)
    assert not is_allowed(window, NY, utc(2026, 3, 8, 7) - 1)  # 01:59:59 EST
    assert allowed_until(window, NY, utc(2026, 3, 8, 7)) == utc(2026, 3, 8, 8)  # 04:00 EDT


def test_a_span_inside_the_spring_gap_does_not_exist_that_day() -> None:
    window = schedule("02:10-02:50")
    got = allowed_intervals(window, NY, utc(2026, 3, 7), utc(2026, 3, 10))
    assert got == [(utc(2026, 3, 7, 7, 10), utc(2026, 3, 7, 7, 50)), (utc(2026, 3, 9, 6, 10), utc(2026, 3, 9, 6, 50))]


def test_hours_repeated_at_the_fall_back_are_allowed_both_times() -> None:
    # 01:00-02:00 local happens twice on 2026-11-01: 05:00-06:00 UTC (EDT) and 06:00-07:00 UTC (EST).
    got = allowed_intervals(schedule("01:00-02:00"), NY, utc(2026, 11, 1), utc(2026, 11, 2))
    assert got == [(utc(2026, 11, 1, 5), utc(2026, 11, 1, 7))]


def test_pacific_and_eastern_together_across_the_change() -> None:
    zones = ("America/Los_Angeles", "America/New_York")
    got = allowed_intervals(schedule("09:00-21:00"), zones, utc(2026, 3, 8, 6), utc(2026, 3, 9, 6))
    assert got == [(utc(2026, 3, 8, 16), utc(2026, 3, 9, 1))]  # 09:00 PDT .. 21:00 EDT


def test_half_hour_and_three_quarter_hour_offsets() -> None:
    window = schedule("09:00-21:00")
    assert next_allowed(window, ("Asia/Kolkata",), utc(2026, 6, 1)) == utc(2026, 6, 1, 3, 30)
    assert next_allowed(window, ("Asia/Kathmandu",), utc(2026, 6, 1)) == utc(2026, 6, 1, 3, 15)
    # Newfoundland is UTC-2:30 in summer
    assert next_allowed(window, ("America/St_Johns",), utc(2026, 6, 1)) == utc(2026, 6, 1, 11, 30)
    both = allowed_intervals(window, ("Asia/Kolkata", "Asia/Kathmandu"), utc(2026, 6, 1), utc(2026, 6, 2))
    assert both == [(utc(2026, 6, 1, 3, 30), utc(2026, 6, 1, 15, 15))]


def test_southern_hemisphere_half_hour_zone_leaving_summer_time() -> None:
    # Adelaide: 2026-04-05 03:00 ACDT (+10:30) -> 02:00 ACST (+09:30)
    got = allowed_intervals(schedule("09:00-21:00"), ("Australia/Adelaide",), utc(2026, 4, 3, 12), utc(2026, 4, 5, 12))
    assert got == [
        (utc(2026, 4, 3, 22, 30), utc(2026, 4, 4, 10, 30)),
        (utc(2026, 4, 4, 23, 30), utc(2026, 4, 5, 11, 30)),
    ]
    # a range that starts inside an open stretch is clipped to it
    assert allowed_intervals(schedule("09:00-21:00"), ("Australia/Adelaide",), utc(2026, 4, 4), utc(2026, 4, 4, 1)) == [
        (utc(2026, 4, 4), utc(2026, 4, 4, 1))
    ]


def test_lord_howe_changes_by_half_an_hour() -> None:
    # 2026-10-04 02:00 +10:30 -> 02:30 +11:00; 02:15 does not exist, a 02:15 start opens at the jump.
    window = schedule("02:15-03:00")
    assert next_allowed(window, ("Australia/Lord_Howe",), utc(2026, 10, 3, 15)) == utc(2026, 10, 3, 15, 30)


def test_excluded_dates_are_read_on_the_callee_calendar() -> None:
    window = CallSchedule(parse_call_hours("09:00-21:00"), parse_excluded_dates("2027-01-01..2027-01-08"))
    # 2026-12-31 22:00 UTC is already 2027-01-01 05:00 in Novosibirsk
    assert next_allowed(window, ("Asia/Novosibirsk",), utc(2026, 12, 31, 22)) == utc(2027, 1, 9, 2)
    assert next_allowed(window, ("Europe/Moscow",), utc(2026, 12, 31, 10)) == utc(2026, 12, 31, 10)


def test_campaign_start_and_end_clip_the_window() -> None:
    window = schedule("09:00-21:00", starts_at=utc(2026, 6, 2, 12), ends_at=utc(2026, 6, 3, 8))
    zones = ("Europe/Moscow",)
    assert next_allowed(window, zones, utc(2026, 6, 1)) == utc(2026, 6, 2, 12)
    assert allowed_until(window, zones, utc(2026, 6, 2, 12)) == utc(2026, 6, 2, 18)
    assert next_allowed(window, zones, utc(2026, 6, 2, 18)) == utc(2026, 6, 3, 6)
    assert allowed_until(window, zones, utc(2026, 6, 3, 6)) == utc(2026, 6, 3, 8)
    assert next_allowed(window, zones, utc(2026, 6, 3, 8)) is None


def test_a_russian_mobile_number_may_be_called_two_hours_a_winter_weekday() -> None:
    # UTC+2 (Kaliningrad) to UTC+12 (Kamchatka, Anadyr): 09:00 at UTC+2 is 07:00 UTC, 21:00 at UTC+12 is
    # 09:00 UTC, so 10:00-12:00 Moscow time; a weekend at 10:00-20:00 never overlaps.
    window = schedule("09:00-21:00; sat,sun 10:00-20:00")
    week = allowed_intervals(window, RU_MOBILE, utc(2026, 12, 4), utc(2026, 12, 11))
    assert week == [(utc(2026, 12, d, 7), utc(2026, 12, d, 9)) for d in (4, 7, 8, 9, 10)]
    # Russia keeps no summer time: the same two hours in July.
    summer = allowed_intervals(schedule("09:00-21:00"), RU_MOBILE, utc(2026, 7, 6), utc(2026, 7, 7))
    assert summer == [(utc(2026, 7, 6, 7), utc(2026, 7, 6, 9))]
    # libphonenumber's list would allow 06:00 UTC in summer (Bucharest is UTC+3 then): 08:00 in Kaliningrad, which
    # is why the adapter takes the tz database's zones of the country instead.
    raw = allowed_intervals(schedule("09:00-21:00"), LIBPHONENUMBER_PLUS_SEVEN, utc(2026, 7, 6), utc(2026, 7, 7))
    assert raw == [(utc(2026, 7, 6, 6), utc(2026, 7, 6, 9))]


def test_a_window_that_never_holds_in_every_zone_is_never() -> None:
    window = schedule("10:00-19:00")  # 9 h wide: less than the 10 h spread of the zones
    assert next_allowed(window, RU_MOBILE, utc(2026, 12, 4)) is None
    assert allowed_until(window, RU_MOBILE, utc(2026, 12, 4)) is None
