"""v2 CSV exports over HTTP (SQLite and PostgreSQL): the cross-campaign results (GET /results.csv) and a poll's
answers (GET /polls/{id}/results.csv): content, filters, bad input, the auth gate, and reading in pages."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import event

from conftest import V2

C = "/api/v2/campaigns"
PROBLEM = "application/problem+json"
US = 1_724_235_073_000_000


def table(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_results_csv_in_change_order_with_window_and_campaign(v2: V2) -> None:
    async with v2.client() as client:
        ids = []
        for name in ("a", "b"):
            made = await client.post(C, json={"target": {"kind": "extension", "value": "201"}, "name": name})
            ids.append(made.json()["id"])
            phones = [{"phone": f"7952000{i:04d}", "params": {"n": i}} for i in range(3)]
            await client.post(f"{C}/{ids[-1]}/numbers", json={"numbers": phones})
        await v2.execute("UPDATE task_numbers SET change_time_us = :base + id * 1000000", base=US)
        await v2.execute("UPDATE task_numbers SET result = 'SUCCESS', change_time_us = :t WHERE id = 1", t=US + 9e6)
        everything = await client.get("/api/v2/results.csv")
        one = await client.get("/api/v2/results.csv", params={"campaign_id": ids[1]})
        window = await client.get(
            "/api/v2/results.csv", params={"since": "2024-08-21T10:11:15Z", "until": "2024-08-21T13:11:17"}
        )
        bad_time = await client.get("/api/v2/results.csv", params={"since": "yesterday"})
        # epoch numbers, which pydantic alone would take for a date-time, in every spelling (schemathesis sent one)
        numbers = [
            await client.get("/api/v2/results.csv", params={"since": text})
            for text in ("1724234000", "-7.435312143988354e-282", "1e9", "inf", " 12.5 ")
        ]
        backwards = await client.get(
            "/api/v2/results.csv", params={"since": "2024-08-22T00:00:00Z", "until": "2024-08-21T00:00:00Z"}
        )
        unknown = await client.get("/api/v2/results.csv", params={"campaign_id": 77})
        zero = await client.get("/api/v2/results.csv", params={"campaign_id": 0})
    assert everything.status_code == 200 and everything.headers["content-type"].startswith("text/csv")
    rows = table(everything.text)
    assert everything.text.startswith("campaign_id,id,phone,phone_id,state,result,")
    assert [int(r["id"]) for r in rows] == [2, 3, 4, 5, 6, 1]
    assert rows[-1]["result"] == "SUCCESS" and rows[0]["params"] == '{"n":1}'
    assert {r["campaign_id"] for r in table(one.text)} == {str(ids[1])}
    assert [int(r["id"]) for r in table(window.text)] == [2, 3]  # 13:11:17 MSK is 10:11:17Z, excluded
    assert bad_time.status_code == 422 and bad_time.json()["errors"][0]["field"] == "since"
    assert [r.status_code for r in numbers] == [422] * 5
    assert {r.json()["errors"][0]["field"] for r in numbers} == {"since"}
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "until"
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    assert zero.status_code == 422 and zero.json()["errors"][0]["field"] == "campaign_id"


async def test_poll_results_csv_one_line_per_answer_safe_for_spreadsheets(v2: V2) -> None:
    async with v2.client() as client:
        poll = {
            "name": "P",
            "questions": [{"id": "q1", "text": "Q?", "keys": [{"key": "1", "action": "save_answer", "value": "y"}]}],
        }
        made = (await client.post("/api/v2/polls", json=poll)).json()
        rows = [(7, "555001", "=HYPERLINK(1)", "+1"), (7, "555001", "q2", "5"), (8, "555002", "q1", "no")]
        for n, (task, phone, question, result) in enumerate(rows):
            await v2.execute(
                "INSERT INTO poll_answers (task_id, question_crm_id, polling_id, phone_id, phone, result, exten,"
                " question_text, change_time_us) VALUES (:t, :q, :p, :ph, :ph, :r, '1', '-asked', :us)",
                t=task, q=question, p=made["id"], ph=phone, r=result, us=US + n,
            )  # fmt: skip
        url = f"/api/v2/polls/{made['id']}/results.csv"
        everything = await client.get(url)
        filtered = await client.get(url, params={"campaign_id": 7, "phone": "555001"})
        bad_phone = await client.get(url, params={"phone": "x"})
        unknown = await client.get("/api/v2/polls/999/results.csv")
    assert everything.status_code == 200 and everything.headers["content-type"].startswith("text/csv")
    lines = table(everything.text)
    assert [(r["campaign_id"], r["phone"], r["question_id"], r["value"]) for r in lines] == [
        ("7", "555001", "'=HYPERLINK(1)", "'+1"), ("7", "555001", "q2", "5"), ("8", "555002", "q1", "no")]  # fmt: skip
    assert lines[0]["question_text"] == "'-asked" and lines[0]["at"].endswith("Z")
    assert len(table(filtered.text)) == 2
    assert bad_phone.status_code == 422 and bad_phone.json()["errors"][0]["field"] == "phone"
    assert unknown.status_code == 404


async def test_exports_need_authentication(v2: V2) -> None:
    async with v2.client(host="198.51.100.7") as client:
        for path in ("/api/v2/results.csv", "/api/v2/polls/1/results.csv"):
            reply = await client.get(path)
            assert reply.status_code == 401 and reply.headers["content-type"] == PROBLEM


async def test_a_large_export_is_read_and_sent_in_pages(v2: V2) -> None:
    v2_app = next(r.app for r in v2.app.routes if getattr(r, "path", "") == "/api/v2")
    v2_app.state.export_page = 70
    statements: list[str] = []

    def seen(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if "task_numbers.change_time_us" in statement and "ORDER BY" in statement:
            statements.append(statement)

    async with v2.client() as client:
        made = await client.post(C, json={"target": {"kind": "extension", "value": "201"}})
        phones = [{"phone": f"7952{i:07d}"} for i in range(1000)]
        await client.post(f"{C}/{made.json()['id']}/numbers", json={"numbers": phones})
        event.listen(v2.engine.sync_engine, "before_cursor_execute", seen)
        try:
            reply = await client.get("/api/v2/results.csv")
        finally:
            event.remove(v2.engine.sync_engine, "before_cursor_execute", seen)
    assert sorted(int(r["id"]) for r in table(reply.text)) == list(range(1, 1001))
    assert len(statements) == 15  # ceil(1000 / 70) keyset pages, never the whole set
