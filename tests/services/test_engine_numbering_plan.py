"""The numbering plan (AUTODIALER_NUMBERING_PLAN) narrows a Russian mobile to its range's zone for the engine's window
gate and for explain alike (one NumberEligibility): without it a +7 9xx number has 26 candidate zones and may be
called only 07:00-09:00 UTC under 09:00-21:00; in a range mapped to Novosibirsk it is called at 09:00 there. A
number outside every range keeps libphonenumber's zones, and the CRM's tz param still beats the plan."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from tests.services.fakes import FakeClock
from tests.services.harness import NO_RETRIES, Harness

from autodialer.adapters.phone_numbering import PhoneNumbering
from autodialer.domain.call_hours import parse_call_hours
from autodialer.domain.callee_zones import ZoneSource
from autodialer.domain.numbering_plan import NO_PLAN, NumberingPlan, parse_numbering_plan
from autodialer.services.dialer_engine import EngineSettings
from autodialer.services.number_eligibility import NumberEligibility

PLAN = parse_numbering_plan(
    [
        "# DEF 913 (an example range, not the registry's)",
        "+79130000000,+79139999999,Asia/Novosibirsk",
        "+79140000000,+79149999999,Asia/Vladivostok",
    ]
)
IN_PLAN = "+79131234567"
OUTSIDE = "+79522233446"  # a mobile in no range of PLAN


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def eligibility(plan: NumberingPlan = PLAN) -> NumberEligibility:
    return NumberEligibility(
        PhoneNumbering("RU"), "Europe/Moscow", parse_call_hours("09:00-21:00"), numbering_plan=plan
    )


def harness(start: str, plan: NumberingPlan = PLAN) -> Harness:
    return Harness(
        settings=EngineSettings(retry_policy=NO_RETRIES, watchdog_interval_s=86_400),
        clock=FakeClock(at(start)),
        eligibility=eligibility(plan),
    )


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def test_a_mobile_in_a_plan_range_is_dialled_at_nine_in_its_zone() -> None:
    h = harness("2026-12-04 00:00")  # 07:00 in Novosibirsk
    h.store.add_task(1, "201")
    waiting = h.store.add_number(1, IN_PLAN)
    runner = asyncio.create_task(h.engine.run())
    try:
        await settle()
        assert h.calls.originated == []
        assert h.store.numbers[waiting.number_id].row.count_try == 0
        assert h.clock.sleeping == [pytest.approx(at("2026-12-04 02:00"))]  # 09:00 Novosibirsk, 05:00 Moscow
        h.clock.advance(at("2026-12-04 02:00") - h.clock.now() - 1)
        await settle()
        assert h.calls.originated == []
        h.clock.advance(1)
        await settle()
        assert [c.dial_number for c in h.calls.originated] == ["79131234567"]
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


async def test_without_the_plan_the_same_number_waits_for_the_hours_common_to_26_zones() -> None:
    h = harness("2026-12-04 02:00", plan=NO_PLAN)  # 09:00 in Novosibirsk, 04:00 in Kaliningrad
    h.store.add_task(1, "201")
    h.store.add_number(1, IN_PLAN)
    assert await h.step() == pytest.approx(at("2026-12-04 07:00"))  # 09:00 in Kaliningrad
    assert h.calls.originated == []


async def test_a_number_outside_every_range_keeps_libphonenumbers_zones() -> None:
    h = harness("2026-12-04 02:00")  # 09:00 in Novosibirsk: the plan's numbers may be called
    h.store.add_task(1, "201")
    h.store.add_number(1, OUTSIDE)
    assert await h.step() == pytest.approx(at("2026-12-04 07:00"))  # 09:00 in Kaliningrad
    assert h.calls.originated == []


async def test_a_tz_param_beats_the_plan() -> None:
    h = harness("2026-12-04 02:00")  # 09:00 in Novosibirsk, 05:00 in Moscow
    h.store.add_task(1, "201")
    h.store.add_number(1, IN_PLAN, params={"tz": "Europe/Moscow"})
    assert await h.step() == pytest.approx(at("2026-12-04 06:00"))  # 09:00 in Moscow
    assert h.calls.originated == []


def test_explain_names_the_plans_single_zone_and_the_engines_verdict_is_the_same() -> None:
    rules = eligibility().rules(1)
    callee = eligibility().callee("8 913 123-45-67", None)
    assert (callee.zones.zones, callee.zones.source) == (("Asia/Novosibirsk",), ZoneSource.NUMBERING_PLAN)
    early = eligibility().verdict(rules, callee, at("2026-12-04 01:00"))  # 08:00 in Novosibirsk
    assert early.lines() == [
        "outside 09:00–21:00 Asia/Novosibirsk (now 2026-12-04 08:00 Fri local; zone from the numbering plan), next at "
        "2026-12-04 09:00 Fri Asia/Novosibirsk = 2026-12-04 05:00 Fri PBX time",
        "next dialable at 2026-12-04 05:00 Fri PBX time",
    ]
    assert eligibility().verdict(rules, callee, at("2026-12-04 02:00")).allowed


def test_explain_of_a_number_outside_every_range_and_of_a_tz_param() -> None:
    outside = eligibility().callee(OUTSIDE, None)
    assert (len(outside.zones.zones), outside.zones.source) == (26, ZoneSource.PHONE_NUMBER)
    with_tz = eligibility().callee(IN_PLAN, {"tz": "Asia/Vladivostok"})
    assert (with_tz.zones.zones, with_tz.zones.source) == (("Asia/Vladivostok",), ZoneSource.CRM_PARAM)
    bad_tz = eligibility().callee(IN_PLAN, {"tz": "Mars/Olympus"})  # passed over: the plan decides, not a guess
    assert (bad_tz.zones.zones, bad_tz.zones.source) == (("Asia/Novosibirsk",), ZoneSource.NUMBERING_PLAN)
