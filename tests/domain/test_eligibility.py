"""The verdict: every rule that holds a number back, in words, and the earliest instant all rules allow."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.domain.attempt_limits import AttemptLimits, PastAttempt
from autodialer.domain.call_hours import parse_call_hours, parse_excluded_dates
from autodialer.domain.call_window import CallSchedule
from autodialer.domain.callee_zones import CalleeZones, ZoneSource
from autodialer.domain.do_not_call import DncListing
from autodialer.domain.eligibility import CampaignRules, HoldKind, NumberFacts, evaluate

PBX = "Europe/Moscow"
CAMPAIGN = 1_000_000_001
PHONE = "+79522233446"
NSK = CalleeZones(("Asia/Novosibirsk",), ZoneSource.CRM_PARAM)
WINDOW = CallSchedule(
    parse_call_hours("09:00-21:00; sat,sun 10:00-20:00"), parse_excluded_dates("2027-01-01..2027-01-08")
)


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def facts(**kwargs: object) -> NumberFacts:
    return NumberFacts(PHONE, **{"zones": NSK, **kwargs})  # type: ignore[arg-type]


def test_a_number_with_nothing_against_it_may_be_dialled_now() -> None:
    verdict = evaluate(CampaignRules(CAMPAIGN, WINDOW), facts(), utc(2026, 12, 4, 5), PBX)
    assert verdict.allowed and verdict.next_at == utc(2026, 12, 4, 5)
    assert verdict.lines() == ["may be dialled now"]


def test_outside_the_window_in_words_with_local_and_pbx_time() -> None:
    verdict = evaluate(CampaignRules(CAMPAIGN, WINDOW), facts(), utc(2026, 12, 3, 23), PBX)  # 06:00 Fri in NSK
    (hold,) = verdict.holds
    assert hold.kind is HoldKind.OUTSIDE_CALL_WINDOW
    assert hold.text == (
        "outside 09:00–21:00 Asia/Novosibirsk (now 2026-12-04 06:00 Fri local; zone from the number's tz param), "
        "next at 2026-12-04 09:00 Fri Asia/Novosibirsk = 2026-12-04 05:00 Fri PBX time"
    )
    assert verdict.next_at == utc(2026, 12, 4, 2)
    assert verdict.lines()[-1] == "next dialable at 2026-12-04 05:00 Fri PBX time"


def test_an_excluded_date_and_a_day_without_calls_in_words() -> None:
    holiday = evaluate(CampaignRules(CAMPAIGN, WINDOW), facts(), utc(2027, 1, 2, 5), PBX)
    assert holiday.holds[0].text.startswith("2027-01-02 is an excluded date in Asia/Novosibirsk (now 2027-01-02 12:00")
    assert holiday.next_at == utc(2027, 1, 9, 3)  # Saturday 10:00 in Novosibirsk
    weekdays = CallSchedule(parse_call_hours("mon-fri 09:00-21:00"))
    sunday = evaluate(CampaignRules(CAMPAIGN, weekdays), facts(), utc(2026, 12, 6, 5), PBX)
    assert sunday.holds[0].text.startswith("no calls on Sunday in Asia/Novosibirsk")


def test_on_the_global_do_not_call_list_since() -> None:
    listed = facts(dnc=(DncListing(PHONE, None, utc(2026, 11, 30, 9), "poll opt-out (task 1000000002)"),))
    verdict = evaluate(CampaignRules(CAMPAIGN, WINDOW), listed, utc(2026, 12, 4, 5), PBX)
    assert [h.text for h in verdict.holds] == [
        "on the global do-not-call list since 2026-11-30 12:00 Mon PBX time (poll opt-out (task 1000000002))"
    ]
    assert verdict.next_at is None
    assert verdict.lines()[-1] == "not dialable again unless something changes"


def test_another_campaigns_list_does_not_hold_this_one() -> None:
    listed = facts(dnc=(DncListing(PHONE, 5, utc(2026, 11, 30), "api"), DncListing("+79990000000", None, 0, "api")))
    assert evaluate(CampaignRules(CAMPAIGN), listed, utc(2026, 12, 4, 5), PBX).allowed
    own = facts(dnc=(DncListing(PHONE, CAMPAIGN, utc(2026, 11, 30, 9), "csv import"),))
    (hold,) = evaluate(CampaignRules(CAMPAIGN), own, utc(2026, 12, 4, 5), PBX).holds
    assert hold.text == f"on campaign {CAMPAIGN}'s do-not-call list since 2026-11-30 12:00 Mon PBX time (csv import)"


def test_every_rule_is_listed_and_the_next_time_is_when_all_allow() -> None:
    now = utc(2026, 12, 4, 12)  # 19:00 Fri in Novosibirsk: inside the window
    attempts = (
        PastAttempt(CAMPAIGN, utc(2026, 12, 4, 3), utc(2026, 12, 4, 3, 1)),
        PastAttempt(CAMPAIGN, utc(2026, 12, 4, 11)),
    )
    rules = CampaignRules(CAMPAIGN, WINDOW, AttemptLimits(max_per_day=2, min_gap_s=7200))
    verdict = evaluate(rules, facts(attempts=attempts, retry_at=utc(2026, 12, 4, 13)), now, PBX)
    assert [(h.kind, h.rule) for h in verdict.holds] == [
        (HoldKind.RETRY_WAIT, ""),
        (HoldKind.ATTEMPT_LIMIT, "max_per_day"),
        (HoldKind.ATTEMPT_LIMIT, "min_gap_s"),
    ]
    assert verdict.holds[1].text == "2 of 2 attempts today (Asia/Novosibirsk)"
    # the daily cap lets go at midnight in Novosibirsk (17:00 UTC), but Saturday's window opens at 10:00 there
    assert verdict.next_at == utc(2026, 12, 5, 3)


def test_time_call_allow_and_the_campaign_dates() -> None:
    window = CallSchedule(WINDOW.hours, starts_at=utc(2026, 12, 7, 6), ends_at=utc(2026, 12, 20))
    early = evaluate(CampaignRules(CAMPAIGN, window), facts(not_before=utc(2026, 12, 8)), utc(2026, 12, 5, 5), PBX)
    assert [h.kind for h in early.holds] == [HoldKind.NOT_BEFORE, HoldKind.CAMPAIGN_NOT_STARTED]
    assert early.holds[0].text == "not before 2026-12-08 03:00 Tue PBX time (timeCallAllow)"
    assert early.next_at == utc(2026, 12, 8, 2)  # 09:00 Tue in Novosibirsk, after timeCallAllow
    late = evaluate(CampaignRules(CAMPAIGN, window), facts(), utc(2026, 12, 20), PBX)
    assert [h.kind for h in late.holds] == [HoldKind.CAMPAIGN_ENDED] and late.next_at is None


def test_a_russian_mobile_without_tz_is_called_only_where_every_zone_is_open() -> None:
    zones = CalleeZones(
        ("Asia/Kamchatka", "Asia/Novosibirsk", "Europe/Bucharest", "Europe/Moscow"), ZoneSource.PHONE_NUMBER
    )
    verdict = evaluate(CampaignRules(CAMPAIGN, WINDOW), facts(zones=zones), utc(2026, 12, 4, 10), PBX)
    (hold,) = verdict.holds
    assert hold.text.startswith(
        "the call window is closed in 1 of 4 candidate zones (zones from the phone number): "
        "outside 09:00–21:00 Asia/Kamchatka (now 2026-12-04 22:00 Fri local)"
    )
    assert verdict.next_at == utc(2026, 12, 7, 7)  # Monday 09:00 in Bucharest = 19:00 in Kamchatka
    never = CallSchedule(parse_call_hours("10:00-19:00"))
    stuck = evaluate(CampaignRules(CAMPAIGN, never), facts(zones=zones), utc(2026, 12, 4, 10), PBX)
    assert stuck.holds[0].kind is HoldKind.NO_COMMON_WINDOW and stuck.next_at is None
    assert "give the number a tz param or widen the hours" in stuck.holds[0].text


ZONE_POOL = [
    "Asia/Novosibirsk",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Asia/Kamchatka",
    "Europe/Moscow",
]
HOURS = [
    "09:00-21:00",
    "09:00-21:00; sat,sun 10:00-20:00",
    "mon-fri 08:00-12:00,14:00-22:00",
    "10:00-19:00",
    "00:00-24:00",
]


@st.composite
def cases(draw: st.DrawFn) -> tuple[CampaignRules, NumberFacts, float]:
    now = draw(st.floats(min_value=utc(2026, 1, 1), max_value=utc(2027, 12, 31)))
    zones = tuple(sorted(draw(st.lists(st.sampled_from(ZONE_POOL), min_size=1, max_size=3, unique=True))))
    schedule = CallSchedule(parse_call_hours(draw(st.sampled_from(HOURS))))
    limits = AttemptLimits(
        max_per_day=draw(st.none() | st.integers(1, 3)),
        max_total=draw(st.none() | st.integers(2, 6)),
        min_gap_s=draw(st.none() | st.sampled_from([60.0, 3600.0])),
        max_per_day_all_campaigns=draw(st.none() | st.integers(1, 4)),
    )
    attempts = tuple(
        PastAttempt(draw(st.sampled_from([CAMPAIGN, 7])), now - ago, now - ago + 30)
        for ago in draw(st.lists(st.floats(min_value=60, max_value=3 * 86400), max_size=4))
    )
    listed = draw(st.booleans())
    dnc = (DncListing(PHONE, draw(st.sampled_from([None, CAMPAIGN])), now - 100, "api"),) if listed else ()
    number = NumberFacts(
        PHONE,
        CalleeZones(zones, ZoneSource.PHONE_NUMBER),
        not_before=now + draw(st.sampled_from([-1.0, 0.0, 600.0, 86400.0])),
        retry_at=now + draw(st.sampled_from([-5.0, 900.0])),
        dnc=dnc,
        attempts=attempts,
    )
    return CampaignRules(CAMPAIGN, schedule, limits), number, now


@settings(max_examples=150, deadline=None)
@given(cases())
def test_next_at_is_allowed_by_every_rule_and_nothing_earlier_is(
    case: tuple[CampaignRules, NumberFacts, float],
) -> None:
    rules, number, now = case
    verdict = evaluate(rules, number, now, PBX)
    assert verdict.allowed == (not verdict.holds) == (verdict.next_at == now)
    if number.dnc:
        assert not verdict.allowed and verdict.next_at is None
        return
    if verdict.next_at is None:
        assert any(h.until is None for h in verdict.holds)
        return
    assert evaluate(rules, number, verdict.next_at, PBX).allowed
    # nothing earlier: every whole minute between now and next_at (capped at two days) is held
    stop = min(verdict.next_at, now + 2 * 86400)
    for t in [now, *range(math.ceil(now / 60) * 60, math.ceil(stop), 60)][::7]:
        if t < verdict.next_at:
            assert not evaluate(rules, number, t, PBX).allowed


@settings(max_examples=100, deadline=None)
@given(cases(), st.floats(min_value=0, max_value=30 * 86400))
def test_a_listed_number_is_never_allowed(case: tuple[CampaignRules, NumberFacts, float], later: float) -> None:
    rules, number, now = case
    listed = NumberFacts(
        number.e164, number.zones, dnc=(DncListing(PHONE, None, now - 1, "poll opt-out"),), attempts=number.attempts
    )
    verdict = evaluate(rules, listed, now + later, PBX)
    assert not verdict.allowed and verdict.next_at is None
    assert HoldKind.DO_NOT_CALL in {h.kind for h in verdict.holds}
