"""E.164 normalisation and time zones from libphonenumber, with a default region for numbers without a country code."""

from __future__ import annotations

import pytest

from autodialer.adapters.phone_numbering import PhoneNumbering, UnknownRegion
from autodialer.domain.callee_zones import ZoneSource, resolve_callee_zones
from autodialer.domain.e164 import UnparseablePhoneNumber

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


def test_a_landline_has_one_zone_and_a_russian_mobile_seventeen() -> None:
    assert RU.zones(RU.e164("8 (383) 333-44-55")) == ("Asia/Novosibirsk",)
    assert RU.zones("+12125551234") == ("America/New_York",)
    mobile = RU.zones("+79522233446")
    # libphonenumber's sixteen, plus Kaliningrad: UTC+2 all year, where its stand-in Bucharest is UTC+3 in summer
    assert len(mobile) == 17 and {"Europe/Moscow", "Asia/Kamchatka", "Europe/Bucharest", "Europe/Kaliningrad"} <= set(
        mobile
    )
    assert RU.zones("+74951234567") == ("Europe/Moscow",)


def test_a_number_without_zone_data_falls_back_to_the_campaign_default() -> None:
    assert RU.zones("+80012345678") == ()  # international freephone
    zones = resolve_callee_zones(crm_tz=None, number_zones=RU.zones("+80012345678"), default_zone="Europe/Samara")
    assert zones.source is ZoneSource.CAMPAIGN_DEFAULT


def test_every_zone_libphonenumber_names_for_plus_seven_is_in_the_tz_database() -> None:
    resolved = resolve_callee_zones(crm_tz=None, number_zones=RU.zones("+79522233446"), default_zone="UTC")
    assert len(resolved.zones) == 17
