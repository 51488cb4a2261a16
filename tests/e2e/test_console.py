"""The web console (/console/) in a real browser, against the whole service and the PBX simulator: sign in (with a
wrong password first), create a campaign whose CSV has a bad row (its reason shown), watch the counts move to the
end without a reload, and export the results as CSV. Also: the console works only with a session, and a request
made with the session cookie but without the CSRF token is refused."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect
from tests.e2e.browser import chromium_page, screenshot_on_failure
from tests.e2e.harness import RING_TIMEOUTS, running_stack

from autodialer.simulator.scenario import Scenario

pytestmark = pytest.mark.slow

PASSWORD = "console-secret-1"
SCENARIO = {
    # At the harness's time scale (1/20) a call lasts about 0.9 s: with one line the campaign runs ~3 s, so the
    # console's 1 s refresh shows its counts move.
    "default_customer": {"outcome": "answer", "answer_after": 2.0, "hangup_after": 16.0},
    "employees": {"201": {"outcome": "answer", "answer_after": 0.5}},
    "customers": {"5551002": {"outcome": "busy", "ring": False}},
}
CSV_TEXT = "phone;name\n5551001;Ann\n55-51-00x;Bob\n5551002;Cat\n5551003;Dan\n"
FAST = {
    **RING_TIMEOUTS,
    "auth_exempt_addresses": [],
    "admin_password": PASSWORD,
}


UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea")]
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-labelledby"))
    .map((el) => el.id || el.outerHTML)"""


async def assert_every_input_labelled(page: Page) -> None:
    assert await page.evaluate(UNLABELLED) == [], "inputs without a <label>"


def stack(tmp_path: Path):  # type: ignore[no-untyped-def]
    return running_stack(tmp_path, "", scenario=Scenario.from_json(SCENARIO), **FAST)


async def test_sign_in_create_import_watch_and_export(tmp_path: Path) -> None:
    async with stack(tmp_path) as s, chromium_page() as page, screenshot_on_failure(page, "console-flow"):
        origin = s.base_url.split("/pbxcore")[0]
        await page.goto(origin + "/console/")
        await page.wait_for_url("**/console/#/login")
        await assert_every_input_labelled(page)
        await page.get_by_label("Login").fill("admin")
        await page.get_by_label("Password").fill("wrong")
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("alert").filter(has_text="Wrong login or password. Attempts left").wait_for()
        # The second try with the keyboard alone: the password field has the focus after a failure, Enter submits.
        await page.keyboard.type(PASSWORD)
        await page.keyboard.press("Enter")
        await page.get_by_role("heading", name="Campaigns").wait_for()
        await page.get_by_text("Signed in as admin").wait_for()
        await assert_every_input_labelled(page)

        await page.get_by_role("link", name="New campaign").first.click()
        await page.get_by_label("Name").fill("Console e2e")
        await page.get_by_label("Extension, queue or poll number").fill("201")
        await page.get_by_label("Lines (most calls at once)").fill("1")
        await page.get_by_label("Customer busy: Delay, s").fill("0.2")
        await page.get_by_label("Customer busy: Retries").fill("1")
        await page.get_by_label("Numbers (CSV file, optional)").set_input_files(
            {"name": "numbers.csv", "mimeType": "text/csv", "buffer": CSV_TEXT.encode()}
        )
        await assert_every_input_labelled(page)
        await page.get_by_role("button", name="Create").click()
        await page.get_by_role("heading", name="Campaign “Console e2e”").wait_for()

        # The bad row is rejected with the API's reason, the three good ones are imported.
        await page.locator("#import-status").filter(has_text="Imported 3 numbers; 1 rows rejected").wait_for()
        progress = await page.locator("#import-progress").evaluate("bar => [bar.value, bar.max]")
        assert progress == [4, 4]  # every row of the file accounted for
        rejected = page.locator("#import-rejected tr.rejected")
        assert await rejected.count() == 1
        assert await rejected.locator("td").all_inner_texts() == [
            "3",
            "55-51-00x",
            "phone: may contain only digits, '+', spaces, dashes, dots and brackets",
        ]
        # Live: the counts move to the end while the page stays loaded (no reload, no navigation).
        await page.evaluate("window.__same_document = true")
        seen_open = []
        for _ in range(600):
            value = await page.locator("#stat-open").inner_text()
            if not seen_open or seen_open[-1] != value:
                seen_open.append(value)
            if value == "0" and await page.locator("p [data-state=closed]").count():
                break
            await page.wait_for_timeout(50)
        assert await page.evaluate("window.__same_document === true")
        assert seen_open[-1] == "0" and set(seen_open) - {"—", "0"}, seen_open  # e.g. 0, 3, 2, 1, 0
        await page.locator("#stat-ended").filter(has_text="4").wait_for()  # 5551002 busy, retried once
        await page.locator("#stat-total").filter(has_text="3").wait_for()
        results = {await r.get_attribute("data-result") for r in await page.locator("tr[data-result]").all()}
        assert "FAIL" in results and any(r.startswith("SUCCESS") for r in results), results

        # The numbers list got the results in place, without its Refresh button.
        await expect(page.locator("#numbers-table tr[data-phone='5551002'] td").nth(1)).to_have_text("FAIL")

        # A number's attempts and why it waits.
        row = page.locator("#numbers-table tr[data-phone='5551002']")
        await row.get_by_role("button", name="Details").click()
        await page.locator("ul.explain").wait_for()
        assert "final" in (await page.locator("ul.explain").inner_text()).lower()
        assert await page.locator("tr.details table tbody tr").count() == 2

        await assert_every_input_labelled(page)

        # Results, filtered and exported as CSV.
        await page.get_by_role("link", name="Results").first.click()
        await page.get_by_role("button", name="Export CSV").wait_for()
        await assert_every_input_labelled(page)
        await page.locator("#results-result").select_option("FAIL")
        await page.get_by_role("button", name="Apply").click()
        await expect(page.locator("#results-table tbody tr")).to_have_count(1)
        await expect(page.locator("#results-table tbody tr")).to_have_attribute("data-phone", "5551002")
        await page.locator("#results-result").select_option("")
        async with page.expect_download() as download_info:
            await page.get_by_role("button", name="Export CSV").click()
        download = await download_info.value
        text = Path(await download.path()).read_text(encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert sorted(r["phone"] for r in rows) == ["5551001", "5551002", "5551003"]
        assert {r["phone"]: r["result"] for r in rows}["5551002"] == "FAIL"
        assert all(r["result"] for r in rows)


async def test_the_console_needs_a_session_and_cookie_requests_need_the_csrf_token(tmp_path: Path) -> None:
    async with stack(tmp_path) as s:
        origin = s.base_url.split("/pbxcore")[0]
        async with httpx.AsyncClient(base_url=origin) as http:
            assert (await http.get("/console/")).status_code == 200  # the page itself holds no data
            assert (await http.get("/console/me")).status_code == 401
            assert (await http.get("/api/v2/campaigns")).status_code == 401
            form = await http.post("/console/login", data={"login": "admin", "password": PASSWORD})
            assert form.status_code == 415  # no cross-site form can sign a browser in
            login = await http.post("/console/login", json={"login": "admin", "password": PASSWORD})
            assert login.status_code == 200
            token = login.json()["csrf_token"]
            assert "HttpOnly" in login.headers.get_list("set-cookie")[0]
            body = {"name": "x", "target": {"kind": "extension", "value": "201"}}
            refused = await http.post("/api/v2/campaigns", json=body)
            assert refused.status_code == 403 and refused.json()["error_id"] == "csrf-token-missing"
            forged = await http.post("/api/v2/campaigns", json=body, headers={"X-CSRF-Token": "0" * 64})
            assert forged.status_code == 403
            assert (await http.get("/api/v2/campaigns")).status_code == 200  # reading needs no token
            created = await http.post("/api/v2/campaigns", json=body, headers={"X-CSRF-Token": token})
            assert created.status_code == 201, created.text
            assert (await http.get("/console/me")).json() == {"login": "admin", "kind": "session", "csrf_token": token}
            assert (await http.post("/console/logout")).status_code == 403  # no forced sign-out from elsewhere
            assert (await http.post("/console/logout", headers={"X-CSRF-Token": token})).status_code == 204
            assert (await http.get("/api/v2/campaigns")).status_code == 401

            # The API's throttling of failed logins holds here too: 10 failures in the window, then 429.
            for _ in range(10):
                wrong = await http.post("/console/login", json={"login": "admin", "password": "guess"})
                assert wrong.status_code == 401
            throttled = await http.post("/console/login", json={"login": "admin", "password": PASSWORD})
            assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0


async def test_in_russian_edit_pause_resume_delete_and_switch_language(tmp_path: Path) -> None:
    # From a local (exempt) address the console needs no sign-in, as the API; the browser asks for Russian.
    settings = {**FAST, "auth_exempt_addresses": ["127.0.0.1"]}
    async with (
        running_stack(tmp_path, "", scenario=Scenario.from_json(SCENARIO), **settings) as s,
        chromium_page(locale="ru-RU") as page,
        screenshot_on_failure(page, "console-ru"),
    ):
        origin = s.base_url.split("/pbxcore")[0]
        await page.goto(origin + "/console/")
        await page.get_by_role("heading", name="Кампании").wait_for()
        await page.get_by_text("Локальный доступ").wait_for()
        assert await page.evaluate("document.documentElement.lang") == "ru"

        await page.get_by_role("link", name="Новая кампания").first.click()
        await page.get_by_label("Название").fill("Опрос клиентов")
        await page.get_by_label("Номер сотрудника, очереди или опроса").fill("201")
        await page.get_by_label("Начать").select_option("paused")
        await page.get_by_role("button", name="Создать").click()
        await page.get_by_role("heading", name="Кампания «Опрос клиентов»").wait_for()

        # A bad value comes back from the API naming the field; the field is marked.
        await page.get_by_role("link", name="Изменить — Опрос клиентов").click()
        await page.get_by_label("Линии (звонков одновременно)").fill("0")
        await page.get_by_role("button", name="Сохранить").click()
        await page.locator("#form-errors [role=alert]").filter(has_text="lines").wait_for()
        await expect(page.get_by_label("Линии (звонков одновременно)")).to_have_attribute("aria-invalid", "true")
        await page.get_by_label("Линии (звонков одновременно)").fill("3")
        await page.get_by_label("Часы").fill("09:00-25:00")  # the campaign's schedule: a bad hour is marked too
        await page.get_by_role("button", name="Сохранить").click()
        await page.locator("#form-errors [role=alert]").filter(has_text="schedule.hours").wait_for()
        await expect(page.get_by_label("Часы")).to_have_attribute("aria-invalid", "true")
        await page.get_by_label("Часы").fill("09:00-21:00;sat,sun 10:00-20:00")
        await page.get_by_label("Праздники").fill("2027-01-01..2027-01-08")
        await page.get_by_label("Абонент занят: Через, с").fill("30")
        # Pacing: predictive with a cap over the API's limit is refused and the cap's field is marked.
        await page.get_by_label("Режим темпа").select_option("predictive")
        await expect(page.get_by_label("Звонков на свободного сотрудника")).to_be_disabled()
        await page.get_by_label("Предел брошенных").fill("0.5")
        await page.get_by_role("button", name="Сохранить").click()
        await page.locator("#form-errors [role=alert]").filter(has_text="pacing.max_abandon_rate").wait_for()
        await expect(page.get_by_label("Предел брошенных")).to_have_attribute("aria-invalid", "true")
        await page.get_by_label("Предел брошенных").fill("0.05")
        await page.get_by_label("Бросить через, с").fill("4")
        await page.get_by_label("Сообщение брошенному абоненту").fill("Извините, все операторы заняты.")
        await page.get_by_role("button", name="Сохранить").click()
        await page.get_by_text("Линии: 3").wait_for()
        v2 = f"{origin}/api/v2/campaigns"
        async with httpx.AsyncClient() as http:
            campaign = (await http.get(v2)).json()["items"][0]
            assert campaign["lines"] == 3 and campaign["retry_policy"] == {"customer_busy": {"delay_s": 30.0}}
            assert campaign["state"] == "paused"
            assert campaign["schedule"]["hours"] == "mon-fri 09:00-21:00; sat,sun 10:00-20:00"
            assert campaign["schedule"]["excluded_dates"] == "2027-01-01..2027-01-08"
            pacing = (await http.get(f"{v2}/{campaign['id']}")).json()["pacing"]
            assert pacing["mode"] == "predictive" and pacing["max_abandon_rate"] == 0.05
            assert pacing["abandon_after_s"] == 4 and pacing["lines_per_agent"] is None
            assert pacing["safe_harbor"]["text"] == "Извините, все операторы заняты."
            # The form reads the stored pacing back.
            await page.get_by_role("link", name="Изменить — Опрос клиентов").click()
            await expect(page.get_by_label("Режим темпа")).to_have_value("predictive")
            await expect(page.get_by_label("Предел брошенных")).to_have_value("0.05")

            # One number that may not be called yet keeps the campaign open (without any, the dialer closes it).
            later = {"numbers": [{"phone": "5551009", "not_before": "2099-01-01T00:00:00Z"}]}
            assert (await http.post(f"{v2}/{campaign['id']}/numbers", json=later)).status_code == 200
            await page.get_by_role("link", name="Кампании", exact=True).click()
            row = page.locator(f"tr[data-campaign='{campaign['id']}']")
            await row.get_by_role("button", name="Продолжить — Опрос клиентов").click()
            await expect(row.locator("[data-state]")).to_have_attribute("data-state", "active", timeout=5000)
            await row.get_by_role("button", name="Пауза — Опрос клиентов").click()
            await expect(row.locator("[data-state]")).to_have_attribute("data-state", "paused", timeout=5000)
            assert (await http.get(f"{v2}/{campaign['id']}")).json()["state"] == "paused"

            page.once("dialog", lambda dialog: dialog.accept())
            await row.get_by_role("button", name="Удалить — Опрос клиентов").click()
            await page.get_by_text("Кампаний пока нет.").wait_for()
            assert (await http.get(f"{v2}/{campaign['id']}")).status_code == 404

        await page.get_by_label("Язык").select_option("en")
        await page.get_by_role("heading", name="Campaigns").wait_for()
        await page.get_by_text("No campaigns yet.").wait_for()
        await page.reload()  # the choice is remembered
        await page.get_by_role("heading", name="Campaigns").wait_for()
