"""Which source gives the callee's candidate zones: the CRM's tz, a numbering plan, the number, the campaign."""

from __future__ import annotations

import pytest

from autodialer.domain.callee_zones import CalleeZones, UnknownTimeZone, ZoneSource, resolve_callee_zones

MOBILE = ("Europe/Moscow", "Asia/Kamchatka", "Asia/Novosibirsk")


def test_the_crm_tz_param_replaces_the_number_data() -> None:
    got = resolve_callee_zones(crm_tz=" Asia/Novosibirsk ", number_zones=MOBILE, default_zone="Europe/Moscow")
    assert got == CalleeZones(("Asia/Novosibirsk",), ZoneSource.CRM_PARAM)


def test_a_numbering_plan_comes_before_libphonenumber() -> None:
    got = resolve_callee_zones(
        crm_tz=None, plan_zones=("Asia/Omsk",), number_zones=MOBILE, default_zone="Europe/Moscow"
    )
    assert got == CalleeZones(("Asia/Omsk",), ZoneSource.NUMBERING_PLAN)


def test_all_of_the_number_zones_stay_candidates() -> None:
    got = resolve_callee_zones(crm_tz="", number_zones=MOBILE, default_zone="Europe/Moscow")
    assert got == CalleeZones(tuple(sorted(MOBILE)), ZoneSource.PHONE_NUMBER)
    assert str(got) == "3 candidate zones (Asia/Kamchatka, Asia/Novosibirsk, Europe/Moscow)"


def test_the_campaign_default_applies_only_when_the_number_gives_none() -> None:
    got = resolve_callee_zones(crm_tz=None, number_zones=(), default_zone="Europe/Samara")
    assert got == CalleeZones(("Europe/Samara",), ZoneSource.CAMPAIGN_DEFAULT)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"crm_tz": "Mars/Olympus", "default_zone": "UTC"}, "params.tz"),
        ({"crm_tz": None, "default_zone": "Moscow"}, "default_zone"),
        ({"crm_tz": None, "number_zones": ("Europe/Moscow", "Nowhere/Land"), "default_zone": "UTC"}, "phone number"),
    ],
)
def test_an_unknown_zone_is_an_error_naming_its_source_never_dropped(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(UnknownTimeZone) as caught:
        resolve_callee_zones(**kwargs)  # type: ignore[arg-type]
    assert caught.value.details["field"] == field
    assert caught.value.error_id == "unknown-time-zone"
