"""A numbering-plan table: look-ups by range, and errors naming the line."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodialer.domain.callee_zones import ZoneSource, resolve_callee_zones
from autodialer.domain.numbering_plan import InvalidNumberingPlan, NumberingPlan, parse_numbering_plan

PLAN = parse_numbering_plan(
    [
        "# DEF 913: Novosibirsk region (illustration, not registry data)",
        "+79130000000,+79139999999,Asia/Novosibirsk",
        "+79520000000, +79522999999 , Europe/Moscow  # trailing comment",
        "",
        "+79523000000,+79523999999,Asia/Omsk",
        "+73833000000,+73833999999,Asia/Novosibirsk",
    ]
)


def test_a_number_in_a_range_gets_its_zone_and_one_outside_gets_none() -> None:
    assert PLAN.zones_for("+79131234567") == ("Asia/Novosibirsk",)
    assert PLAN.zones_for("+79522233446") == ("Europe/Moscow",)
    assert PLAN.zones_for("+79523000000") == ("Asia/Omsk",)
    assert PLAN.zones_for("+79524000000") == ()
    assert PLAN.zones_for("+7913123456") == ()  # one digit short: another length, no range
    assert len(PLAN) == 4


def test_the_plan_comes_before_libphonenumber_in_the_resolution() -> None:
    zones = resolve_callee_zones(
        crm_tz=None,
        plan_zones=PLAN.zones_for("+79131234567"),
        number_zones=("Europe/Moscow", "Asia/Kamchatka"),
        default_zone="Europe/Moscow",
    )
    assert (zones.zones, zones.source) == (("Asia/Novosibirsk",), ZoneSource.NUMBERING_PLAN)


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        (["+79130000000,+79139999999"], 1, "must read 'first,last,zone'"),
        (["# c", "79130000000,+79139999999,Asia/Omsk"], 2, "is not an E.164 number"),
        (["+79139999999,+79130000000,Asia/Omsk"], 1, "is not a range"),
        (["+7913000000,+79139999999,Asia/Omsk"], 1, "is not a range"),
        (["+79130000000,+79139999999,Siberia/Omsk"], 1, "is not an IANA time zone"),
        (
            ["+79130000000,+79139999999,Asia/Omsk", "+79135000000,+79135999999,Asia/Omsk"],
            2,
            "overlaps the range on line 1",
        ),
        (  # the later line is named even where its range sorts first
            ["+79130000000,+79139999999,Asia/Omsk", "+79130000000,+79130000009,Asia/Omsk"],
            2,
            "overlaps the range on line 1",
        ),
    ],
)
def test_errors_name_the_line(lines: list[str], line: int, words: str) -> None:
    with pytest.raises(InvalidNumberingPlan) as caught:
        parse_numbering_plan(lines)
    assert caught.value.details == {"field": "numbering_plan", "line": line}
    assert words in str(caught.value)


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=30, unique=True), st.integers(0, 10**6 + 10))
def test_a_lookup_agrees_with_a_scan_of_the_ranges(starts: list[int], probe: int) -> None:
    bounds = sorted(starts)
    ranges = [(a, b - 1) for a, b in itertools.pairwise(bounds) if b - a > 1]
    plan = parse_numbering_plan([f"+7{a:07d},+7{last:07d},Asia/Omsk" for a, last in ranges])
    expected = any(a <= probe <= last for a, last in ranges)
    assert plan.zones_for(f"+7{probe:07d}") == (("Asia/Omsk",) if expected else ())
    assert NumberingPlan().zones_for("+79131234567") == ()
