"""The console's poll builder, TTS preview and audio library in a real browser, against the whole service and the PBX
simulator with the production dialplan (polls go to FastAGI /poll): upload a prompt and play it back, build a poll
with branching (the graph follows each change; the server's refusal of a trap loop is shown on the field), preview a
question's speech, then run a campaign with that poll and read the customers' answers on the poll's results page."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from tests.e2e.browser import chromium_page, screenshot_on_failure
from tests.e2e.harness import RING_TIMEOUTS
from tests.e2e.poll_stack import poll_stack
from tests.e2e.test_console import PASSWORD, assert_every_input_labelled

from autodialer.simulator.scenario import Scenario

pytestmark = pytest.mark.slow

Q1 = "Was the delivery on time? Press 1 for yes, 2 for no."
Q2 = "Rate the courier, press 1 for good."
SCENARIO = {
    "default_customer": {"outcome": "answer", "answer_after": 1.0, "hangup_after": 30.0},
    "customers": {
        "5553001": {"outcome": "answer", "answer_after": 1.0, "dtmf": [[1.0, "1"], [3.0, "1"]]},
        "5553002": {"outcome": "answer", "answer_after": 1.0, "dtmf": [[1.0, "2"], [3.0, "1"]]},
    },
}
SETTINGS = {
    **RING_TIMEOUTS,
    "auth_exempt_addresses": [],
    "admin_password": PASSWORD,
}


def edge(page: Page, source: str, target: str, key: str):  # type: ignore[no-untyped-def]
    return page.locator(f"svg.poll-graph g.edge[data-from='{source}'][data-to='{target}'][data-key='{key}']")


async def sign_in(page: Page, origin: str) -> None:
    await page.goto(origin + "/console/")
    await page.get_by_label("Login").fill("admin")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("heading", name="Campaigns").wait_for()


async def test_build_a_branching_poll_preview_upload_and_run_it(tmp_path: Path) -> None:
    tone = tmp_path / "thanks.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(tone), "synth", "0.4", "sine", "440"], check=True)
    async with (
        poll_stack(tmp_path / "stack", scenario=Scenario.from_json(SCENARIO), **SETTINGS) as ps,
        chromium_page() as page,
        screenshot_on_failure(page, "console-polls"),
    ):
        origin = ps.stack.base_url.split("/pbxcore")[0]
        await sign_in(page, origin)

        # The audio library: upload a prompt, play it back as the PBX would, and see it listed.
        await page.get_by_role("link", name="Audio prompts").click()
        await page.get_by_role("heading", name="Audio prompts").wait_for()
        await assert_every_input_labelled(page)
        await page.get_by_label("Audio file (wav, mp3, ogg …)").set_input_files(str(tone))
        await page.get_by_role("button", name="Upload").click()
        await page.locator("#audio-status").filter(has_text="Uploaded “thanks.wav”.").wait_for()
        player = page.get_by_label("Play “thanks.wav”")
        played = await page.request.get(origin + (await player.get_attribute("src") or ""))
        assert played.status == 200 and played.headers["content-type"] == "audio/wav"
        assert (await played.body())[:4] == b"RIFF"

        # The builder: three questions, the first branching on keys 1 and 2.
        await page.get_by_role("link", name="Polls").click()
        await page.get_by_role("link", name="New poll").click()
        await page.get_by_role("heading", name="New poll").wait_for()
        await page.get_by_label("Poll name").fill("Delivery survey")
        await page.get_by_label("Question 1: text to speak").fill(Q1)
        await page.get_by_label("Question 1: language").select_option("en-US")
        await page.get_by_label("Question 1, key 1: answer saved").fill("yes")
        await page.get_by_role("button", name="Add question").click()
        await expect(page.get_by_label("Question 2: id")).to_be_focused()  # keyboard users continue where they were
        await page.get_by_label("Question 2: text to speak").fill(Q2)
        await page.get_by_label("Question 2, key 1: answer saved").fill("good")
        await page.get_by_role("button", name="Add question").click()
        await page.get_by_label("Question 3: recorded prompt").select_option("thanks.wav")
        await page.get_by_label("Question 3, key 1: action").select_option("play")
        await page.get_by_label("Question 3, key 1: text to play").fill("Goodbye")
        # Nothing leads to q2 and q3 yet: the graph marks them.
        await expect(page.locator("svg.poll-graph g.node.bad")).to_have_count(2)
        await page.get_by_label("Question 1, key 1: next question").select_option("q2")
        await page.get_by_role("button", name="Add key to question 1").click()
        await expect(page.get_by_label("Question 1, key 2: key")).to_be_focused()
        await expect(page.get_by_label("Question 1, key 2: key")).to_have_value("2")
        await page.get_by_label("Question 1, key 2: answer saved").fill("no")
        await page.get_by_label("Question 1, key 2: next question").select_option("q3")
        await expect(edge(page, "q1", "q2", "1")).to_have_count(1)
        await expect(edge(page, "q1", "q3", "2")).to_have_count(1)
        await expect(edge(page, "q2", "", "1")).to_have_count(1)
        await expect(page.locator("svg.poll-graph g.node.bad")).to_have_count(0)
        await assert_every_input_labelled(page)

        # A key that loops q2 onto itself leaves q2 no way out: the server refuses, naming the field.
        await page.get_by_label("Question 2, key 1: next question").select_option("q2")
        await expect(edge(page, "q2", "q2", "1")).to_have_count(1)
        await page.get_by_role("button", name="Save poll").click()
        await page.locator("#poll-errors [role=alert]").filter(has_text="questions[1].keys").wait_for()
        await expect(page.get_by_role("group", name="Keys of question 2")).to_have_attribute("aria-invalid", "true")
        await page.get_by_label("Question 2, key 1: next question").select_option("")

        # The speech preview plays what the call will speak (the service's TTS, wav).
        async with page.expect_response(lambda r: "/api/v2/tts/preview" in r.url and r.status == 200) as preview:
            await page.get_by_role("button", name="Preview speech of question 1").click()
        assert (await preview.value).headers["content-type"] == "audio/wav"
        await expect(page.get_by_label("Speech preview of question 1")).to_have_attribute(
            "src",
            "/api/v2/tts/preview?text=" + Q1.replace(" ", "+").replace(",", "%2C").replace("?", "%3F") + "&lang=en-US",
        )
        await page.get_by_role("button", name="Save poll").click()
        await page.wait_for_url(re.compile(r".*#/polls/[0-9]+$"))
        poll_id = page.url.rsplit("/", 1)[-1]
        await page.get_by_role("heading", name=f"Poll “Delivery survey” (#{poll_id})").wait_for()

        # The prompt is in use now: the library refuses to delete it and names the poll.
        await page.get_by_role("link", name="Audio prompts").click()
        page.once("dialog", lambda dialog: dialog.accept())
        await page.get_by_role("button", name="Delete thanks.wav").click()
        await page.locator("#audio-errors [role=alert]").filter(has_text="Delivery survey").wait_for()

        # A campaign with that poll, run on the simulator to the end.
        await page.get_by_role("link", name="New campaign").first.click()
        await page.get_by_label("Name").fill("Survey run")
        await page.get_by_label("Calls go to").select_option("poll")
        await page.get_by_label("Extension, queue or poll number").fill(poll_id)
        await page.get_by_label("Lines (most calls at once)").fill("2")
        await page.get_by_label("Numbers (CSV file, optional)").set_input_files(
            {"name": "n.csv", "mimeType": "text/csv", "buffer": b"phone\n5553001\n5553002\n"}
        )
        await page.get_by_role("button", name="Create").click()
        await page.get_by_role("heading", name="Campaign “Survey run”").wait_for()
        await page.locator("p [data-state=closed]").wait_for(timeout=60_000)

        # The answers, per number, on the poll's results page.
        await page.get_by_role("link", name="Polls").click()
        await page.get_by_role("link", name="Answers").first.click()
        await page.get_by_role("heading", name="Answers to “Delivery survey”").wait_for()
        await assert_every_input_labelled(page)
        rows = page.locator("tbody tr")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(0)).to_contain_text("5553001")
        await expect(rows.nth(0)).to_contain_text("q1: yes (1)")
        await expect(rows.nth(0)).to_contain_text("q2: good (1)")
        await expect(rows.nth(1)).to_contain_text("5553002")
        await expect(rows.nth(1)).to_contain_text("q1: no (2)")
        await expect(rows.nth(1)).to_contain_text("q3: 1 (1)")  # a play key stores the key pressed
        assert ps.speech.spoken()[:1] == [Q1] and Q2 in ps.speech.spoken()

        # The same pages in Russian.
        await page.get_by_label("Language").select_option("ru")
        await page.get_by_role("heading", name="Ответы на «Delivery survey»").wait_for()
        await page.get_by_role("link", name="Опросы").click()
        await page.get_by_role("heading", name="Голосовые опросы").wait_for()
        await page.get_by_role("link", name="Записи").click()
        await page.get_by_role("heading", name="Записи для опросов").wait_for()
