"""The live wallboard (#/wallboard) in a real browser against the whole service and the PBX simulator: a campaign
created while the page is open runs to its end and the page follows it through server-sent events alone (no reload,
no polling): the campaign appears, its open numbers count down, calls ring and talk, the agent is reserved and busy,
then free, and the final answer and abandonment rates show. Then in Russian, switched with the keyboard."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page
from tests.e2e.browser import chromium_page, screenshot_on_failure
from tests.e2e.harness import RING_TIMEOUTS, running_stack
from tests.e2e.test_console import assert_every_input_labelled

from autodialer.simulator.scenario import Scenario

pytestmark = pytest.mark.slow

SCENARIO = {
    # At the harness's time scale (1/20): a call rings 0.3 s and talks ~0.8 s; one line, four numbers: ~5 s. The
    # page is sampled every 50 ms (longer on a loaded machine) and must see a call ringing: 0.1 s was two samples.
    "default_customer": {"outcome": "answer", "answer_after": 6.0, "hangup_after": 16.0},
    "employees": {"201": {"outcome": "answer", "answer_after": 0.5}},
    "customers": {"5551002": {"outcome": "busy", "ring": False}},
}
SETTINGS = {**RING_TIMEOUTS, "auth_exempt_addresses": ["127.0.0.1"]}
PHONES = ["5551001", "5551002", "5551003", "5551004"]

SNAPSHOT = """() => {
  const row = document.querySelector("#wb-campaigns tr[data-campaign-id]");
  const agent = document.querySelector("#wb-agents tr[data-agent='PJSIP/201']");
  const text = (id) => document.getElementById(id).textContent;
  return {
    open: row ? row.querySelector("[data-col=open]").textContent : null,
    state: row ? row.dataset.state : null,
    agent: agent ? agent.dataset.state : null,
    ringing: text("wb-calls-ringing"),
    talking: text("wb-calls-talking"),
    reserved: text("wb-agents-reserved"),
  };
}"""


async def watch_until_closed(page: Page) -> list[dict[str, str | None]]:
    seen: list[dict[str, str | None]] = []
    for _ in range(600):
        snapshot = await page.evaluate(SNAPSHOT)
        if not seen or seen[-1] != snapshot:
            seen.append(snapshot)
        if snapshot["state"] == "closed" and snapshot["open"] == "0" and snapshot["agent"] == "free":
            return seen
        await page.wait_for_timeout(50)
    raise AssertionError(f"the campaign did not end on the wallboard: {seen}")


async def test_a_campaign_runs_to_its_end_on_the_wallboard_without_a_reload(tmp_path: Path) -> None:
    async with (
        running_stack(tmp_path, "", scenario=Scenario.from_json(SCENARIO), **SETTINGS) as s,
        chromium_page() as page,
        screenshot_on_failure(page, "wallboard"),
    ):
        origin = s.base_url.split("/pbxcore")[0]
        await page.goto(origin + "/console/")
        await page.get_by_role("heading", name="Campaigns").wait_for()
        await page.get_by_role("link", name="Wallboard").click()  # in the console's navigation
        await page.get_by_role("heading", name="Wallboard").wait_for()
        await page.locator("#wb-live[data-live=on]").wait_for()
        await page.locator("#wb-pbx").filter(has_text="connected since").wait_for()
        await page.locator("#wb-agents tr[data-agent='PJSIP/201'][data-state=free]").wait_for()
        await assert_every_input_labelled(page)
        await page.evaluate("window.__same_document = true")
        assert await page.locator("#wb-campaigns tr[data-campaign-id]").count() == 0

        async with httpx.AsyncClient(base_url=origin + "/api/v2", timeout=10) as api:
            body = {
                "name": "Wallboard e2e",
                "target": {"kind": "extension", "value": "201"},
                "lines": 1,
                "retry_policy": {"customer_busy": {"delay_s": 0, "max_retries": 0}},
            }
            created = await api.post("/campaigns", json=body)
            assert created.status_code == 201, created.text
            campaign_id = created.json()["id"]
            added = await api.post(
                f"/campaigns/{campaign_id}/numbers", json={"numbers": [{"phone": p} for p in PHONES]}
            )
            assert added.status_code in (200, 201), added.text

        seen = await watch_until_closed(page)
        assert await page.evaluate("window.__same_document === true")  # no reload, no navigation
        opens = [s["open"] for s in seen if s["open"] is not None]
        assert opens[-1] == "0" and {"4", "3", "2", "1"} & set(opens), seen  # counted down as calls ended
        agent_states = {s["agent"] for s in seen}
        assert {"reserved", "ringing", "talking"} & agent_states, seen  # busy with the calls, then free again
        assert any(s["talking"] != "0" for s in seen) and any(s["ringing"] != "0" for s in seen), seen
        assert seen[-1]["ringing"] == "0" and seen[-1]["talking"] == "0"

        row = page.locator(f"#wb-campaigns tr[data-campaign-id='{campaign_id}']")
        await row.locator("[data-col=total]").filter(has_text="4").wait_for()
        await row.locator("[data-col=answer]").filter(has_text="75.0 %").wait_for()  # the busy one did not answer
        assert await row.locator("[data-col=abandon]").inner_text() == "0 (0.0 %)"
        assert int(await page.locator("#wb-originates").inner_text()) == 4  # four calls in the last minute

        # The same page in Russian, switched with the keyboard; the stream follows on.
        await page.locator("#lang-switch").focus()
        await page.keyboard.press("ArrowDown")
        await page.get_by_role("heading", name="Табло").wait_for()
        await page.locator("#wb-live[data-live=on]").wait_for()
        await page.get_by_text("Разговаривают").wait_for()
        # A fresh page shows active and paused campaigns; the closed one is a keyboard choice away.
        await page.get_by_label("Показать кампании").focus()
        await page.keyboard.press("ArrowDown")
        await (
            page.locator(f"#wb-campaigns tr[data-campaign-id='{campaign_id}'] [data-col=open]")
            .filter(has_text="0")
            .wait_for()
        )
        await assert_every_input_labelled(page)
