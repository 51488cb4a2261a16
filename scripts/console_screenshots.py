#!/usr/bin/env python3
"""Screenshots of every console page in English and Russian, into docs/screenshots/ (README's "Console" section).

Runs the demo's stack (the PBX simulator with the demo's scenario, the service, the demo's poll and campaigns) with
sign-in required, then drives Debian's chromium through the console with Playwright, as tests/e2e/test_console.py
does: sign in, the campaigns list while the demo runs, a new campaign with a CSV holding a bad row, its page (live
progress, the rejected row, a number's attempts and "why it waits"), the edit form and the results, then the voice
polls (the list, the demo poll in the builder with its graph, its answers) and the audio prompts. The language
comes from the browser's locale (en-US, ru-RU), as it does for users.

    .venv/bin/python scripts/console_screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.async_api import Page  # noqa: E402
from tests.e2e.browser import chromium_page  # noqa: E402
from tests.e2e.harness import running_stack  # noqa: E402

from autodialer import demo  # noqa: E402
from autodialer.cli_sim import product_dialplan  # noqa: E402
from autodialer.simulator.scenario import Scenario  # noqa: E402

PASSWORD = "screenshots-only"  # noqa: S105 - a throwaway stack of this script
CSV_TEXT = "phone;name\n5552001;Anna\n5552O02;Boris\n5552003;Clara\n5552005;Dmitry\n"
WORDS = {
    "en-US": {"login": "Login", "password": "Password", "sign_in": "Sign in", "name": "Name",
              "target": "Extension, queue or poll number", "csv": "Numbers (CSV file, optional)",
              "create": "Create", "campaign": "Reminders (console)", "details": "Details"},
    "ru-RU": {"login": "Логин", "password": "Пароль", "sign_in": "Войти", "name": "Название",
              "target": "Номер сотрудника, очереди или опроса", "csv": "Номера (файл CSV, необязательно)",
              "create": "Создать", "campaign": "Напоминания (консоль)", "details": "Подробно"},
}  # fmt: skip


async def shoot(page: Page, out: Path, name: str) -> None:
    await page.wait_for_timeout(300)  # one more stats refresh drawn
    await page.screenshot(path=str(out / name), full_page=True)
    print(f"  {out / name}")


async def tour(origin: str, locale: str, out: Path, poll_id: int) -> None:
    words = WORDS[locale]
    lang = locale[:2]
    async with chromium_page(locale=locale, height=760) as page:
        await page.goto(origin + "/console/")
        await page.get_by_label(words["login"]).fill("admin")
        await shoot(page, out, f"{lang}-sign-in.png")
        await page.get_by_label(words["password"]).fill(PASSWORD)
        await page.get_by_role("button", name=words["sign_in"]).click()
        first = page.locator("#campaigns tbody tr[data-campaign]").first
        await first.wait_for()
        demo_campaign = await first.get_attribute("data-campaign")  # the demo's "Debtors (extension 201)"
        await page.wait_for_timeout(1500)
        await shoot(page, out, f"{lang}-campaigns.png")

        # The live wallboard (wallboard.js) while the demo's campaigns dial: agents, calls, campaigns' rates.
        await page.goto(origin + "/console/#/wallboard")
        await page.locator("#wb-live[data-live=on]").wait_for()
        await page.locator("#wb-campaigns tr[data-campaign-id]").first.wait_for()
        await page.wait_for_timeout(1000)
        await shoot(page, out, f"{lang}-wallboard.png")

        await page.goto(origin + "/console/#/campaigns/new")
        await page.get_by_label(words["name"]).fill(words["campaign"])
        await page.get_by_label(words["target"]).fill("201")
        await page.locator("#f-retry-customer_busy-delay").fill("5")
        await page.locator("#f-retry-customer_busy-max").fill("1")
        await page.get_by_label(words["csv"]).set_input_files(
            {"name": "numbers.csv", "mimeType": "text/csv", "buffer": CSV_TEXT.encode()}
        )
        await shoot(page, out, f"{lang}-campaign-new.png")
        await page.get_by_role("button", name=words["create"]).click()
        await page.locator("#import-rejected tr.rejected").wait_for()
        await page.wait_for_timeout(2500)
        await page.locator("#numbers-table tbody tr").first.get_by_role("button", name=words["details"]).click()
        await page.locator("ul.explain").wait_for()
        await shoot(page, out, f"{lang}-campaign.png")
        campaign_url = page.url

        await page.goto(campaign_url + "/edit")
        await page.locator("#f-name").wait_for()
        await shoot(page, out, f"{lang}-campaign-edit.png")

        await page.goto(f"{origin}/console/#/campaigns/{demo_campaign}/results")
        await page.locator("#results-table tbody tr").first.wait_for()
        await shoot(page, out, f"{lang}-results.png")

        # Voice polls (polls.js, audio.js): the list, the builder with its branching graph, the answers, the prompts.
        await page.goto(f"{origin}/console/#/polls")
        await page.locator("main tbody tr a").first.wait_for()
        await shoot(page, out, f"{lang}-polls.png")
        await page.goto(f"{origin}/console/#/polls/{poll_id}")
        await page.locator("svg.poll-graph g.edge").first.wait_for()
        await shoot(page, out, f"{lang}-poll-builder.png")
        await page.goto(f"{origin}/console/#/polls/{poll_id}/results")
        await page.locator("main ul.answers").first.wait_for()
        await shoot(page, out, f"{lang}-poll-answers.png")
        await page.goto(f"{origin}/console/#/audio")
        await page.locator("main tbody tr[data-name]").first.wait_for()
        await shoot(page, out, f"{lang}-audio.png")


async def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data_dir:
        async with running_stack(
            Path(data_dir),
            time_scale=0.2,
            scenario=Scenario.from_json(demo.SCENARIO),
            sim_config={"dialplan_text": product_dialplan()},  # our dialplan snippet, so the poll campaign runs
            auth_exempt_addresses=[],
            admin_password=PASSWORD,
            tts_default_lang="en-US",
            retry_policy={"customer_busy": {"delay_s": 4, "max_retries": 1}},
        ) as stack:
            origin = stack.base_url.split("/pbxcore")[0]
            login = await stack.http.post(
                origin + "/pbxcore/api/v3/auth:login", json={"login": "admin", "password": PASSWORD}
            )
            stack.http.headers["Authorization"] = f"Bearer {login.json()['data']['accessToken']}"
            poll = await stack.post_poll(demo.POLL)
            for task in demo._tasks(str(poll["id"])):
                await stack.post_task(task)
            tone = Path(data_dir) / "thank-you.wav"
            tone_argv = ["sox", "-n", "-r", "8000", "-c", "1", str(tone), "synth", "1.2", "sine", "440"]
            subprocess.run(tone_argv, check=True)  # noqa: S603 - fixed arguments, sox from setup.sh
            files = {"file": ("thank-you.wav", tone.read_bytes(), "audio/wav")}
            assert (await stack.http.post(origin + "/api/v2/audio", files=files)).status_code == 201
            for locale in WORDS:
                print(f"{locale}:")
                await tour(origin, locale, out, int(poll["id"]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    asyncio.run(main(parser.parse_args().out))
