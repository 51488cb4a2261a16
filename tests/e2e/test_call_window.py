"""The call window end to end: the whole service on a clock set just before a window opens (on ordinary days and on
the days the US changes to and from summer time), the simulator as the PBX. A number outside its window is not
dialled and uses no attempt until the window opens in its zone, then it is dialled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import RING_TIMEOUTS, ShiftedClock, Stack, running_stack

from autodialer.adapters.db.tables import dnc_numbers
from autodialer.adapters.db.transactions import write_transaction
from autodialer.simulator import Behaviour

pytestmark = pytest.mark.slow

FAST: dict[str, Any] = {**RING_TIMEOUTS, "call_window": "09:00-21:00"}
TALK = Behaviour(answer_after=0.5, hangup_after=12.0)  # 600 ms of talk: see test_dialer_campaigns.TALK
LEAD_S = 3.0  # the service's clock starts this long before the window opens


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def dialled(stack: Stack, digits: str) -> list[dict[str, Any]]:
    return [o for o in stack.originates() if digits in (o["channel"] or "")]


async def wait_for_the_opening(stack: Stack, task_id: int, phone: str, digits: str) -> None:
    """Nothing is dialled before the window opens and the row keeps countTry 0; then the number is dialled."""
    await asyncio.sleep(LEAD_S / 2)
    assert dialled(stack, digits) == []
    row = stack.by_phone(await stack.task(task_id))[phone]
    assert (row["state"], row["countTry"], row["result"]) == ("CreateTask", None, "")  # no attempt yet (v1: null)
    await stack.until(lambda: dialled(stack, digits), 15, f"{phone} dialled once its window opened")


async def test_a_number_is_dialled_when_its_window_opens_in_its_zone_not_before(
    tmp_path: Path, db_url: str, migrated_engine: Any
) -> None:
    opens = at("2026-12-04 02:00")  # 09:00 in Novosibirsk; 05:00 in Moscow, where the window opens at 06:00 UTC
    async with running_stack(tmp_path, db_url, clock=ShiftedClock(opens - LEAD_S), **FAST) as stack:
        stack.sim.control.set_customer("79130000001", TALK)
        numbers = [
            {"number": "+79130000001", "params": {"tz": "Asia/Novosibirsk"}},
            {"number": "+74950000001", "params": {"tz": "Europe/Moscow"}},
        ]
        task = await stack.post_task({"name": "window", "innerNum": "201", "numbers": numbers})
        await wait_for_the_opening(stack, task["id"], "+79130000001", "79130000001")
        final = stack.by_phone(await stack.task(task["id"]))
        assert final["+74950000001"]["countTry"] is None and dialled(stack, "74950000001") == []
        assert len(stack.originates()) == 1


SAMPLE_PLAN = Path(__file__).resolve().parents[2] / "docs" / "examples" / "numbering-plan-ru.sample.csv"


async def test_a_mobile_in_a_numbering_plan_range_is_dialled_when_the_window_opens_in_the_plans_zone(
    tmp_path: Path, db_url: str, migrated_engine: Any
) -> None:
    """AUTODIALER_NUMBERING_PLAN (the shipped example: DEF 913 in Asia/Novosibirsk) narrows a +7 913 mobile without
    a tz param to one zone; a mobile outside every range keeps its 26 (07:00-09:00 UTC at best); v2 explain names
    the plan as the zone's source."""
    opens = at("2026-12-04 02:00")  # 09:00 in Novosibirsk; 04:00 in Kaliningrad
    clock = ShiftedClock(opens - LEAD_S)
    async with running_stack(tmp_path, db_url, clock=clock, numbering_plan=str(SAMPLE_PLAN), **FAST) as stack:
        stack.sim.control.set_customer("79130000001", TALK)
        task = await stack.post_task({"name": "plan", "innerNum": "201", "numbers": ["+79130000001", "+79522233446"]})
        root = stack.base_url.split("/pbxcore")[0]
        listed = (await stack.http.get(f"{root}/api/v2/campaigns/{task['id']}/numbers")).json()["items"]
        number_id = {n["phone"]: n["id"] for n in listed}["+79130000001"]
        explained = (await stack.http.get(f"{root}/api/v2/campaigns/{task['id']}/numbers/{number_id}/explain")).json()
        assert "Asia/Novosibirsk" in explained["text"][0] and "zone from the numbering plan" in explained["text"][0]
        await wait_for_the_opening(stack, task["id"], "+79130000001", "79130000001")
        await asyncio.sleep(1.0)
        assert dialled(stack, "79522233446") == []
        outside = stack.by_phone(await stack.task(task["id"]))["+79522233446"]
        assert (outside["state"], outside["countTry"]) == ("CreateTask", None)


@pytest.mark.parametrize(
    "opens",
    [
        "2026-03-08 13:00",  # 09:00 EDT on the day summer time starts (it would be 14:00 UTC on EST)
        "2026-11-01 14:00",  # 09:00 EST on the day it ends (13:00 UTC would still be 08:00 EST)
    ],
)
async def test_across_the_us_daylight_saving_changes(tmp_path: Path, opens: str) -> None:
    async with running_stack(tmp_path, clock=ShiftedClock(at(opens) - LEAD_S), **FAST) as stack:
        stack.sim.control.set_customer("12125550123", TALK)
        task = await stack.post_task({"name": "dst", "innerNum": "201", "numbers": ["+12125550123"]})
        await wait_for_the_opening(stack, task["id"], "+12125550123", "12125550123")


async def test_a_number_listed_while_it_waits_is_refused_when_its_call_would_start(
    tmp_path: Path, db_url: str, migrated_engine: Any
) -> None:
    opens = at("2026-12-04 02:00")
    async with running_stack(tmp_path, db_url, clock=ShiftedClock(opens - LEAD_S), **FAST) as stack:
        stack.sim.control.set_customer("79130000002", TALK)
        numbers = [{"number": f"+7913000000{k}", "params": {"tz": "Asia/Novosibirsk"}} for k in (1, 2)]
        task = await stack.post_task({"name": "window", "innerNum": "201", "numbers": numbers})
        await asyncio.sleep(LEAD_S / 3)
        # Listed behind the service's back (no opt-out, no import that would close it): only the claim can stop it.
        listing = {"e164": "+79130000001", "phone_id": "9130000001", "phone": "8 913 000-00-01", "source": "test"}
        async with write_transaction(stack.service.db) as connection:
            await connection.execute(dnc_numbers.insert().values(**listing, created_at=opens - 60))
        await stack.until(lambda: dialled(stack, "79130000002"), 15, "the other number dialled once the window opened")
        listed = stack.by_phone(await stack.task(task["id"]))["+79130000001"]
        assert (listed["result"], listed["state"]) == ("FAIL", "doNotCall")
        assert dialled(stack, "79130000001") == []
