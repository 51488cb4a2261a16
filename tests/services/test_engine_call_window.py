"""The engine obeys the call window (AUTODIALER_CALL_WINDOW) in the callee's zones: a number outside it waits
without using an attempt, the engine sleeps until the verdict's next time, then dials it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from tests.services.fakes import FakeClock
from tests.services.harness import NO_RETRIES, Harness

from autodialer.adapters.phone_numbering import PhoneNumbering
from autodialer.domain.call_hours import parse_call_hours
from autodialer.services.dialer_engine import EngineSettings
from autodialer.services.number_eligibility import NumberEligibility


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def harness(start: str, hours: str = "09:00-21:00") -> Harness:
    window = NumberEligibility(PhoneNumbering("RU"), "Europe/Moscow", parse_call_hours(hours))
    return Harness(
        settings=EngineSettings(retry_policy=NO_RETRIES, watchdog_interval_s=86_400),
        clock=FakeClock(at(start)),
        eligibility=window,
    )


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def test_a_number_outside_its_window_waits_without_an_attempt_and_is_dialled_when_it_opens() -> None:
    h = harness("2026-12-04 00:00")  # 07:00 in Novosibirsk, 03:00 in Moscow
    h.store.add_task(1, "201")
    waiting = h.store.add_number(1, "+79130000001", params={"tz": "Asia/Novosibirsk"})
    runner = asyncio.create_task(h.engine.run())
    try:
        await settle()
        assert h.calls.originated == []
        assert h.store.numbers[waiting.number_id].row.count_try == 0
        assert h.clock.sleeping == [pytest.approx(at("2026-12-04 02:00"))]  # 09:00 Novosibirsk
        h.clock.advance(at("2026-12-04 02:00") - h.clock.now() - 1)
        await settle()
        assert h.calls.originated == []
        h.clock.advance(1)
        await settle()
        assert [c.dial_number for c in h.calls.originated] == ["79130000001"]
        assert h.store.numbers[waiting.number_id].row.count_try == 1
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


async def test_numbers_in_their_window_go_first_while_others_wait() -> None:
    h = harness("2026-12-04 04:00")  # 07:00 in Moscow, 11:00 in Novosibirsk
    h.store.add_task(1, "201")
    h.store.add_number(1, "+74950000001", params={"tz": "Europe/Moscow"})
    h.store.add_number(1, "+79130000001", params={"tz": "Asia/Novosibirsk"})
    await h.step()
    assert [c.dial_number for c in h.calls.originated] == ["79130000001"]


async def test_a_mobile_with_26_candidate_zones_waits_for_the_hours_common_to_all() -> None:
    h = harness("2026-12-04 06:00")  # 09:00 in Moscow, but 18:00 in Kamchatka and 08:00 in Kaliningrad
    h.store.add_task(1, "201")
    h.store.add_number(1, "89522233446")
    assert await h.step() == pytest.approx(at("2026-12-04 07:00"))  # 09:00 in Kaliningrad, 19:00 in Kamchatka
    assert h.calls.originated == []


@pytest.mark.parametrize(
    ("start", "opens"),
    [
        ("2026-03-07 13:30", "2026-03-07 14:00"),  # 08:30 EST: 09:00 EST is 14:00 UTC
        ("2026-03-08 12:30", "2026-03-08 13:00"),  # the day summer time starts: 09:00 EDT is 13:00 UTC
        ("2026-10-31 12:30", "2026-10-31 13:00"),  # 08:30 EDT
        ("2026-11-01 13:30", "2026-11-01 14:00"),  # the day it ends: 08:30 EST, 09:00 EST is 14:00 UTC
    ],
)
async def test_across_the_us_daylight_saving_changes(start: str, opens: str) -> None:
    h = harness(start)
    h.store.add_task(1, "201")
    h.store.add_number(1, "+12125550123")  # New York
    assert await h.step() == pytest.approx(at(opens))
    assert h.calls.originated == []
    h.clock.advance(at(opens) - h.clock.now())
    await h.step()
    assert [c.dial_number for c in h.calls.originated] == ["12125550123"]


async def test_without_a_window_numbers_are_dialled_at_any_hour() -> None:
    h = Harness(clock=FakeClock(at("2026-12-04 00:00")))
    h.store.add_task(1, "201")
    h.store.add_number(1, "+79130000001", params={"tz": "Asia/Novosibirsk"})
    await h.step()
    assert len(h.calls.originated) == 1


async def test_a_long_run_of_waiting_numbers_is_paged_through_and_the_first_allowed_one_dialled() -> None:
    h = harness("2026-12-04 04:00")  # 07:00 in Moscow, 11:00 in Novosibirsk
    h.store.add_task(1, "201")
    for k in range(2_500):  # more than one round's passes (10 pages of 200)
        h.store.add_number(1, f"+7495{k:07d}", params={"tz": "Europe/Moscow"})
    h.store.add_number(1, "+79130000001", params={"tz": "Asia/Novosibirsk"})
    assert await h.step() == pytest.approx(h.clock.now())  # cut short: plan again at once
    assert h.calls.originated == []
    await h.step()
    assert [c.dial_number for c in h.calls.originated] == ["79130000001"]
    waiting = [n for n in h.store.numbers.values() if n.phone.startswith("+7495")]
    assert {n.row.next_attempt_at for n in waiting} == {at("2026-12-04 06:00")}  # 09:00 in Moscow
    assert {n.row.count_try for n in waiting} == {0}
