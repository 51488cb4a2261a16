"""The engine applies each campaign's own schedule, attempt limits and do-not-call list (v2 fields), through the
same eligibility as explain: a held number waits without using an attempt; v1 tasks keep the global default."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.services.fakes import FakeAvailability, FakeClock
from tests.services.harness import NO_RETRIES, Harness

from autodialer.adapters.phone_numbering import PhoneNumbering
from autodialer.domain.attempt_limits import AttemptLimits
from autodialer.domain.call_hours import parse_call_hours
from autodialer.domain.campaign_schedule import CampaignSchedule
from autodialer.services.call_window_gate import RECHECK_S
from autodialer.services.dialer_engine import EngineSettings
from autodialer.services.dialer_store import Attempt
from autodialer.services.memory_store import InMemoryDialerStore
from autodialer.services.number_eligibility import NumberEligibility

NUMBERING = PhoneNumbering("RU")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def harness(start: str, global_hours: str | None = None) -> Harness:
    hours = parse_call_hours(global_hours) if global_hours else None
    return Harness(
        store=InMemoryDialerStore(dnc_key=lambda phone: NUMBERING.e164(phone)),
        settings=EngineSettings(retry_policy=NO_RETRIES, watchdog_interval_s=86_400),
        clock=FakeClock(at(start)),
        availability=FakeAvailability({"201": {"PJSIP/201"}, "202": {"PJSIP/202"}}),
        eligibility=NumberEligibility(NUMBERING, "Europe/Moscow", hours),
    )


NSK = {"tz": "Asia/Novosibirsk"}


async def test_a_campaigns_hours_hold_its_number_while_a_v1_task_dials_at_once() -> None:
    h = harness("2026-12-04 00:00")  # 07:00 in Novosibirsk; no global window
    h.store.add_task(1, "201", schedule=CampaignSchedule(hours="09:00-21:00"))
    h.store.add_task(2, "202")  # a v1 task: no window of its own, none global
    held = h.store.add_number(1, "+79130000001", params=NSK)
    h.store.add_number(2, "+79130000002", params=NSK)
    assert await h.step() == pytest.approx(at("2026-12-04 02:00"))  # 09:00 in Novosibirsk
    assert [c.dial_number for c in h.calls.originated] == ["79130000002"]
    assert h.row(held.number_id).count_try == 0
    assert h.row(held.number_id).next_attempt_at == pytest.approx(at("2026-12-04 02:00"))


async def test_the_campaigns_hours_replace_the_global_window_and_v1_keeps_the_global_one() -> None:
    h = harness("2026-12-04 02:30", global_hours="10:00-21:00")  # 09:30 in Novosibirsk
    h.store.add_task(1, "201", schedule=CampaignSchedule(hours="09:00-21:00"))
    h.store.add_task(2, "202")
    h.store.add_number(1, "+79130000001", params=NSK)
    v1 = h.store.add_number(2, "+79130000002", params=NSK)
    await h.step()
    assert [c.dial_number for c in h.calls.originated] == ["79130000001"]
    assert h.row(v1.number_id).next_attempt_at == pytest.approx(at("2026-12-04 03:00"))  # 10:00 there


async def test_an_excluded_date_holds_the_number_until_the_next_day_without_an_attempt() -> None:
    h = harness("2026-12-31 05:00")  # 12:00 on 31 December in Novosibirsk
    schedule = CampaignSchedule(hours="09:00-21:00", excluded_dates="2026-12-31..2027-01-01")
    h.store.add_task(1, "201", schedule=schedule)
    held = h.store.add_number(1, "+79130000001", params=NSK)
    await h.step()
    assert h.row(held.number_id).next_attempt_at == pytest.approx(at("2027-01-02 02:00"))  # 09:00, 2 January there
    assert h.calls.originated == [] and h.row(held.number_id).count_try == 0


async def test_a_campaign_past_its_end_stops_dialing_and_one_not_started_waits_for_its_start() -> None:
    h = harness("2026-12-04 10:00")
    h.store.add_task(1, "201", schedule=CampaignSchedule(ends_at=at("2026-12-04 09:00")))
    h.store.add_task(2, "202", schedule=CampaignSchedule(starts_at=at("2026-12-04 12:00")))
    ended = h.store.add_number(1, "+74950000001")
    later = h.store.add_number(2, "+74950000002")
    await h.step()
    assert h.calls.originated == []
    assert h.row(ended.number_id).next_attempt_at == pytest.approx(at("2026-12-04 10:00") + RECHECK_S)
    assert h.row(later.number_id).next_attempt_at == pytest.approx(at("2026-12-04 12:00"))


async def test_the_cap_across_campaigns_counts_another_campaigns_calls_in_the_callees_day() -> None:
    h = harness("2026-12-04 10:00")  # 13:00 in Moscow
    h.store.add_task(1, "201", limits=AttemptLimits(max_per_day_all_campaigns=1))
    h.store.add_task(2, "202")
    capped = h.store.add_number(1, "8 495 000-00-01")
    h.store.finished.append(
        Attempt("earlier", 2, 99, "+74950000001", "202", "connect", "PJSIP/202", at("2026-12-04 07:00"))
    )
    h.store.ended_at["earlier"] = at("2026-12-04 07:01")
    assert await h.step() == pytest.approx(at("2026-12-04 21:00"))  # midnight in Moscow
    assert h.calls.originated == [] and h.row(capped.number_id).count_try == 0


async def test_the_least_gap_and_the_daily_cap_of_the_campaign_itself() -> None:
    h = harness("2026-12-04 10:00")
    h.store.add_task(1, "201", limits=AttemptLimits(min_gap_s=3600, max_total=3))
    gap = h.store.add_number(1, "+74950000001")
    h.store.finished.append(
        Attempt("last", 1, gap.number_id, "+74950000001", "201", "connect", "PJSIP/201", at("2026-12-04 09:30"))
    )
    h.store.ended_at["last"] = at("2026-12-04 09:31")
    assert await h.step() == pytest.approx(at("2026-12-04 10:31"))
    assert h.calls.originated == []


async def test_a_number_on_its_campaigns_list_is_refused_at_the_claim_and_other_campaigns_still_call_it() -> None:
    h = harness("2026-12-04 10:00")
    h.store.add_task(1, "201")
    h.store.add_task(2, "202")
    listed = h.store.add_number(1, "8 495 000-00-01")
    h.store.add_number(2, "+7 495 000-00-01")
    h.store.campaign_dnc.add((1, "+74950000001"))
    await h.step()
    assert [c.dial_number for c in h.calls.originated] == ["74950000001"]
    assert h.calls.originated[0].call_id in {a.call_id for a in h.store.attempts.values() if a.task_id == 2}
    assert h.row(listed.number_id).state == "doNotCall" and h.row(listed.number_id).result == "FAIL"


async def test_two_campaigns_capped_at_one_holding_the_same_number_in_one_round_place_one_call() -> None:
    h = harness("2026-12-04 10:00")  # 13:00 in Moscow
    h.store.add_task(1, "201", limits=AttemptLimits(max_per_day_all_campaigns=1))
    h.store.add_task(2, "202", limits=AttemptLimits(max_per_day_all_campaigns=1))
    first = h.store.add_number(1, "8 495 000-00-01")
    second = h.store.add_number(2, "+7 495 000-00-01")
    assert await h.step() == pytest.approx(at("2026-12-04 10:00"))  # the refused claim's turn: plan again at once
    assert len(h.calls.originated) == 1
    (placed,) = h.store.attempts.values()
    waiting = second if placed.task_id == 1 else first
    assert h.row(waiting.number_id).count_try == 0  # refused at the claim: no attempt charged
    await h.step()  # judged again, now against the call in progress: it waits for midnight in Moscow
    assert len(h.calls.originated) == 1
    assert h.row(waiting.number_id).next_attempt_at == pytest.approx(at("2026-12-04 21:00"))
