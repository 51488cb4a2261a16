"""E.164 normalisation and time zones from libphonenumber, with a default region for numbers without a country code;
and, for any number, the verdict never allows a call outside the window in any of the number's zones."""

from __future__ import annotations

from collections.abc import Callable

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.adapters.phone_numbering import PhoneNumbering, UnknownRegion
from autodialer.domain.call_hours import parse_call_hours
from autodialer.domain.call_window import CallSchedule, zone_allows
from autodialer.domain.callee_zones import ZoneSource, resolve_callee_zones
from autodialer.domain.do_not_call import DncListing
from autodialer.domain.e164 import UnparseablePhoneNumber
from autodialer.domain.eligibility import CampaignRules, NumberFacts, evaluate

RU = PhoneNumbering("RU")


@pytest.mark.parametrize(
    "raw", ["8 952 223-34-46", "+7 952 2233446", "79522233446", "9522233446", "+7 (952) 223-34-46", "8-952-223-34-46"]
)
def test_every_spelling_of_a_russian_mobile_is_one_e164_entry(raw: str) -> None:
    assert RU.e164(raw) == "+79522233446"


def test_the_default_region_reads_numbers_without_a_country_code() -> None:
    assert PhoneNumbering("us").e164("(212) 555-1234") == "+12125551234"
    assert RU.e164("+1 212 555 1234") == "+12125551234"  # an explicit country code wins
    assert RU.e164("810 49 30 1234567") == "+49301234567"  # Russia's international prefix


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("hello", "is not a phone number"),
        ("", "is not a phone number"),
        ("+7 952 223", "is too short for a number of its country"),
        ("+999 1234567", "has a country code that does not exist"),
        ("1" * 70, "is longer than 64 characters"),
    ],
)
def test_unparseable_numbers_name_the_field_and_the_rule(raw: str, rule: str) -> None:
    with pytest.raises(UnparseablePhoneNumber) as caught:
        RU.e164(raw, field="rows[3].phone")
    assert caught.value.error_id == "unparseable-phone-number"
    assert caught.value.details["field"] == "rows[3].phone"
    assert caught.value.details["rule"] == rule


def test_an_unknown_default_region_is_refused() -> None:
    with pytest.raises(UnknownRegion) as caught:
        PhoneNumbering("XX", field="AUTODIALER_DEFAULT_REGION")
    assert caught.value.details == {"field": "AUTODIALER_DEFAULT_REGION", "region": "XX"}


def test_a_landline_has_one_zone_and_a_mobile_every_zone_of_its_country() -> None:
    assert RU.zones(RU.e164("8 (383) 333-44-55")) == ("Asia/Novosibirsk",)
    assert RU.zones("+12125551234") == ("America/New_York",)
    mobile = RU.zones("+79522233446")
    # Russia's 26 zones, Kaliningrad (UTC+2 all year) among them; not libphonenumber's +7 list, which names
    # Bucharest (UTC+3 in summer) for UTC+2 and Kazakh zones for Russian numbers
    assert len(mobile) == 26 and {"Europe/Moscow", "Asia/Kamchatka", "Europe/Kaliningrad"} <= set(mobile)
    assert RU.zones("+74951234567") == ("Europe/Moscow",)
    # a Kazakh mobile: Kazakhstan's zones, all UTC+5 since 2024, so a 10:00-20:00 window holds all day long
    kazakh = RU.zones(RU.e164("+7 701 234 56 78"))
    assert "Asia/Almaty" in kazakh and len(kazakh) == 7 and not {"Europe/Moscow", "Asia/Kamchatka"} & set(kazakh)
    # a +7 range neither country has assigned yet may be in either
    assert set(RU.zones("+79400000000")) >= {"Europe/Kaliningrad", "Asia/Kamchatka"}


def test_a_number_without_zone_data_falls_back_to_the_campaign_default() -> None:
    assert RU.zones("+80012345678") == ()  # international freephone
    zones = resolve_callee_zones(crm_tz=None, number_zones=RU.zones("+80012345678"), default_zone="Europe/Samara")
    assert zones.source is ZoneSource.CAMPAIGN_DEFAULT


def test_every_zone_libphonenumber_names_for_plus_seven_is_in_the_tz_database() -> None:
    resolved = resolve_callee_zones(crm_tz=None, number_zones=RU.zones("+79522233446"), default_zone="UTC")
    assert len(resolved.zones) == 26


REGIONS = ["RU", "KZ", "US", "CA", "BR", "AU", "IN", "ID", "MX", "GB", "DE"]
HOURS = ["09:00-21:00", "09:00-21:00; sat,sun 10:00-20:00", "mon-fri 08:00-12:00,14:00-22:00", "10:00-19:00"]


@st.composite
def numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(international spelling, national spelling) of a number of a sampled region, its last digits drawn."""
    region = draw(st.sampled_from(REGIONS))
    kind = draw(st.sampled_from([phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]))
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    national = str(example.national_number)
    tail = draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    number = phonenumbers.parse(f"+{example.country_code}{national[:-3]}{tail}", None)
    return (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
    )


@settings(max_examples=150, deadline=None)
@given(
    numbers(),
    st.sampled_from(HOURS),
    st.none() | st.sampled_from(["Asia/Novosibirsk", "America/Chicago"]),
    st.floats(min_value=1_767_225_600, max_value=1_830_297_600),  # 2026-01-01 .. 2027-12-31
)
def test_for_any_number_no_call_is_allowed_outside_the_window_in_any_of_its_zones(
    spellings: tuple[str, str], hours: str, crm_tz: str | None, now: float
) -> None:
    e164 = RU.e164(spellings[0])
    number_zones = RU.zones(e164)
    zones = resolve_callee_zones(crm_tz=crm_tz, number_zones=number_zones, default_zone="Europe/Moscow")
    schedule = CallSchedule(parse_call_hours(hours))
    verdict = evaluate(CampaignRules(1, schedule), NumberFacts(e164, zones), now, "Europe/Moscow")
    must_hold_in = (crm_tz,) if crm_tz else number_zones or ("Europe/Moscow",)
    if verdict.allowed:
        assert all(zone_allows(schedule, zone, now) for zone in must_hold_in)
    if verdict.next_at is not None:
        assert all(zone_allows(schedule, zone, verdict.next_at) for zone in must_hold_in)


@settings(max_examples=100, deadline=None)
@given(numbers(), st.floats(min_value=1_767_225_600, max_value=1_830_297_600))
def test_a_number_listed_under_any_spelling_is_never_allowed(spellings: tuple[str, str], now: float) -> None:
    international, national = spellings
    region = phonenumbers.region_code_for_number(phonenumbers.parse(international, None))
    listed_as = PhoneNumbering(region).e164(national)  # the list was filled by a CRM of that country
    e164 = RU.e164(international)
    assert listed_as == e164
    zones = resolve_callee_zones(crm_tz=None, number_zones=RU.zones(e164), default_zone="Europe/Moscow")
    facts = NumberFacts(e164, zones, dnc=(DncListing(listed_as, None, now - 60, "api"),))
    verdict = evaluate(CampaignRules(1), facts, now, "Europe/Moscow")
    assert not verdict.allowed and verdict.next_at is None


@st.composite
def russian_spellings(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["", "7", "8", "+7", "+8", "810", "+", "8 10", "07"]))
    national = draw(st.text(alphabet="0123456789", min_size=8, max_size=11))
    text = prefix + national
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=4)))
    for at, sep in zip(
        reversed(cuts), draw(st.lists(st.sampled_from([" ", "-", "(", ")"]), min_size=4, max_size=4)), strict=False
    ):
        text = text[:at] + sep + text[at:]
    return text


def outcome(read: Callable[[str], str], raw: str) -> str:
    try:
        return read(raw)
    except UnparseablePhoneNumber as e:
        return f"error: {e}"


@settings(max_examples=1500, deadline=None)
@given(russian_spellings(), st.sampled_from(["RU", "KZ"]))
def test_the_fast_path_agrees_with_libphonenumber(raw: str, region: str) -> None:
    numbering = PhoneNumbering(region)
    assert outcome(numbering.e164, raw) == outcome(numbering.e164_by_libphonenumber, raw)


def test_the_fast_path_agrees_for_every_abc_and_def_code_in_every_spelling() -> None:
    for code in (c for c in range(300, 1000) if str(c)[0] in "3489"):
        for spelling in (
            f"8{code}1234567",
            f"7{code}7654321",
            f"+7{code}0000000",
            f"{code}9999999",
            f"8 ({code}) 1-23",
        ):
            assert outcome(RU.e164, spelling) == outcome(RU.e164_by_libphonenumber, spelling), spelling
