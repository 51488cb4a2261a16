"""A campaign's own schedule and do-not-call list end to end: the whole service on a shifted clock, the simulator as
the PBX, campaigns made through the v2 API. A number on its campaign's holiday is held without an attempt while a v1
task (no window of its own, none global) dials at once, and is dialled when the holiday ends in its zone; a number
put on its campaign's list while it waits is never called, while another campaign still calls the same number."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.harness import RING_TIMEOUTS, ShiftedClock, Stack, running_stack

from autodialer.simulator import Behaviour

pytestmark = pytest.mark.slow

FAST: dict[str, Any] = RING_TIMEOUTS
TALK = Behaviour(answer_after=0.5, hangup_after=12.0)  # 600 ms of talk: see test_dialer_campaigns.TALK
LEAD_S = 3.0


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def dialled(stack: Stack, digits: str) -> list[dict[str, Any]]:
    return [o for o in stack.originates() if digits in (o["channel"] or "")]


async def v2(stack: Stack, method: str, path: str, body: Any = None) -> dict[str, Any]:
    root = stack.base_url.split("/pbxcore")[0]
    reply = await stack.http.request(method, f"{root}/api/v2{path}", json=body)
    assert reply.status_code in (200, 201), reply.text
    return dict(reply.json())


async def campaign(stack: Stack, body: dict[str, Any], *numbers: dict[str, Any]) -> dict[str, Any]:
    """Made paused, given its numbers, then resumed: an active campaign without numbers may be closed by the
    dialer (every number final) before its numbers arrive."""
    made = await v2(
        stack, "POST", "/campaigns", {"target": {"kind": "extension", "value": "201"}, **body, "state": "paused"}
    )
    await v2(stack, "POST", f"/campaigns/{made['id']}/numbers", {"numbers": list(numbers)})
    return await v2(stack, "POST", f"/campaigns/{made['id']}/resume")


async def numbers(stack: Stack, campaign_id: int) -> dict[str, dict[str, Any]]:
    items = (await v2(stack, "GET", f"/campaigns/{campaign_id}/numbers"))["items"]
    return {n["phone"]: n for n in items}


async def test_a_holiday_holds_the_number_without_an_attempt_until_it_ends_in_the_callees_zone(
    tmp_path: Path, db_url: str, migrated_engine: Any
) -> None:
    ends = at("2026-12-31 17:00")  # midnight in Novosibirsk: 1 January begins there; still 20:00 on the 31st in Moscow
    async with running_stack(tmp_path, db_url, clock=ShiftedClock(ends - LEAD_S), **FAST) as stack:
        stack.sim.control.set_customer("79130000001", TALK)
        stack.sim.control.set_customer("79130000002", TALK)
        schedule = {"hours": "00:00-24:00", "excluded_dates": "2026-12-31"}
        held = {"phone": "+79130000001", "params": {"tz": "Asia/Novosibirsk"}}
        made = await campaign(stack, {"schedule": schedule}, held)
        v1 = {"number": "+79130000002", "params": {"tz": "Asia/Novosibirsk"}}
        task = await stack.post_task({"name": "v1", "innerNum": "202", "numbers": [v1]})
        await stack.until(lambda: dialled(stack, "79130000002"), 10, "the v1 task's number dialled at once")
        assert dialled(stack, "79130000001") == []
        row = (await numbers(stack, made["id"]))["+79130000001"]
        assert (row["state"], row["attempts"], row["result"]) == ("CreateTask", 0, None)
        explained = await v2(stack, "GET", f"/campaigns/{made['id']}/numbers/{row['id']}/explain")
        assert "2026-12-31 is an excluded date in Asia/Novosibirsk" in explained["text"][0]
        await stack.until(lambda: dialled(stack, "79130000001"), 15, "the number dialled once the holiday ended")
        v1_row = stack.by_phone(await stack.task(task["id"]))["+79130000002"]
        assert v1_row["countTry"] not in (None, "0", 0)  # the v1 task's call used its attempt


async def test_a_number_put_on_its_campaigns_list_while_queued_is_never_called(
    tmp_path: Path, db_url: str, migrated_engine: Any
) -> None:
    opens = at("2026-12-04 02:00")  # 09:00 in Novosibirsk
    async with running_stack(tmp_path, db_url, clock=ShiftedClock(opens - LEAD_S), **FAST) as stack:
        stack.sim.control.set_customer("79130000001", TALK)
        body = {"schedule": {"hours": "09:00-21:00"}}
        number = {"phone": "+7 913 000-00-01", "params": {"tz": "Asia/Novosibirsk"}}
        mine = await campaign(stack, body, number)
        other = await campaign(stack, {**body, "external_id": "other"}, number)
        await asyncio.sleep(LEAD_S / 3)
        assert stack.originates() == []  # both wait for 09:00 there
        listed = await v2(stack, "POST", f"/campaigns/{mine['id']}/dnc", {"phone": "8 913 000-00-01"})
        assert listed["phone"] == "+79130000001" and listed["campaign_id"] == mine["id"]
        await stack.until(lambda: dialled(stack, "79130000001"), 15, "the other campaign's call once the window opened")
        await asyncio.sleep(1.0)
        calls = dialled(stack, "79130000001")
        mine_row = (await numbers(stack, mine["id"]))["+7 913 000-00-01"]
        other_row = (await numbers(stack, other["id"]))["+7 913 000-00-01"]
    assert len(calls) == 1
    assert (mine_row["state"], mine_row["result"], mine_row["attempts"]) == ("doNotCall", "FAIL", 0)
    assert other_row["attempts"] == 1
