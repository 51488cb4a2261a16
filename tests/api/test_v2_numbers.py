"""v2 numbers over HTTP (SQLite and PostgreSQL): bulk import with per-row errors, the filtered cursor listing, one
number, its attempts, why it waits (explain) and the campaign's live stats."""

from __future__ import annotations

from typing import Any

import httpx

from autodialer.domain.eligibility import LIVE_UNKNOWN
from conftest import T0, V2

C = "/api/v2/campaigns"
PROBLEM = "application/problem+json"


async def campaign(client: httpx.AsyncClient, **body: object) -> str:
    reply = await client.post(C, json={"target": {"kind": "extension", "value": "201"}, **body})
    assert reply.status_code == 201
    return f"{C}/{reply.json()['id']}"


async def add(client: httpx.AsyncClient, url: str, numbers: list[dict[str, Any]]) -> httpx.Response:
    return await client.post(f"{url}/numbers", json={"numbers": numbers})


async def listing(client: httpx.AsyncClient, url: str, **params: object) -> list[dict[str, Any]]:
    reply = await client.get(f"{url}/numbers", params=params)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["items"])


async def test_import_adds_and_updates_numbers_and_v1_shows_their_params(v2: V2) -> None:
    async with v2.client() as client:
        url = await campaign(client)
        first = await add(client, url, [{"phone": "+7 952 223-34-46", "params": {"name": "Ivan"}}, {"phone": "202"}])
        assert first.status_code == 200 and first.json() == {"accepted": 2}
        again = await add(client, url, [{"phone": "79522233446", "params": {"name": "Ivan P."}}])
        assert again.json() == {"accepted": 1}
        items = await listing(client, url)
        v1 = (await client.get(f"/pbxcore/api/module-dialer/v1/task/{url.rsplit('/', 1)[1]}")).json()["data"]
    assert [(n["phone"], n["params"]) for n in items] == [("+7 952 223-34-46", {"name": "Ivan P."}), ("202", None)]
    assert [r["params"] for r in v1["results"]] == ['a:1:{s:4:"name";s:7:"Ivan P.";}', ""]


async def test_a_bad_row_stores_nothing_and_each_bad_row_is_named(v2: V2) -> None:
    async with v2.client() as client:
        url = await campaign(client)
        reply = await add(client, url, [{"phone": "201"}, {"phone": "call me"}, {"phone": "1" * 25}])
        typed = await add(client, url, [{"phone": "1", "params": {"a": [1]}}, {"phone": "2", "not_before": "soon"}])
        empty = await client.post(f"{url}/numbers", json={"numbers": []})
        missing = await add(client, f"{C}/77", [{"phone": "201"}])
        items = await listing(client, url)
    assert reply.status_code == 422 and reply.headers["content-type"] == PROBLEM
    assert [e["field"] for e in reply.json()["errors"]] == ["numbers[1].phone", "numbers[2].phone"]
    assert "nothing was stored" in reply.json()["detail"]
    assert typed.status_code == 422
    assert {e["field"].split(".")[0] for e in typed.json()["errors"]} == {"numbers[0]", "numbers[1]"}
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "numbers"
    assert missing.status_code == 404
    assert items == []


async def test_not_before_without_an_offset_is_pbx_time(v2: V2) -> None:
    async with v2.client() as client:
        url = await campaign(client)
        await add(client, url, [{"phone": "201", "not_before": "2024-08-22T09:00:00"}])
        await add(client, url, [{"phone": "202", "not_before": "2024-08-22T09:00:00+00:00"}])
        items = await listing(client, url)
    assert [n["not_before"] for n in items] == ["2024-08-22T06:00:00Z", "2024-08-22T09:00:00Z"]


async def test_listing_filters_and_pages(v2: V2) -> None:
    async with v2.client() as client:
        url = await campaign(client)
        await add(client, url, [{"phone": f"7952000000{i}"} for i in range(7)])
        await v2.execute("UPDATE task_numbers SET result = 'SUCCESS', state = 'endCall', close_time = 1 WHERE id <= 2")
        done = await listing(client, url, result="SUCCESS")
        open_ = await listing(client, url, result="open")
        ended = await listing(client, url, state="endCall")
        one = await listing(client, url, phone="+7 (952) 000-00-03")
        pages: list[int] = []
        cursor = None
        while True:
            reply = await client.get(f"{url}/numbers", params={"limit": 3} | ({"cursor": cursor} if cursor else {}))
            page = reply.json()
            pages.append(len(page["items"]))
            cursor = page["next_cursor"]
            if cursor is None:
                break
        bad_phone = await client.get(f"{url}/numbers", params={"phone": "abc"})
        bad_cursor = await client.get(f"{url}/numbers", params={"cursor": "!!"})
    assert [n["id"] for n in done] == [1, 2] and all(n["result"] == "SUCCESS" for n in done)
    assert [n["id"] for n in open_] == [3, 4, 5, 6, 7] and all(n["result"] is None for n in open_)
    assert [n["id"] for n in ended] == [1, 2]
    assert [n["phone"] for n in one] == ["79520000003"]
    assert pages == [3, 3, 1]
    assert bad_phone.status_code == 422 and bad_phone.json()["errors"][0]["field"] == "phone"
    assert bad_cursor.status_code == 422 and bad_cursor.json()["errors"][0]["field"] == "cursor"


async def test_a_number_belongs_to_its_campaign(v2: V2) -> None:
    async with v2.client() as client:
        a = await campaign(client)
        b = await campaign(client)
        await add(client, a, [{"phone": "201"}])
        own = await client.get(f"{a}/numbers/1")
        other = await client.get(f"{b}/numbers/1")
        for route in ("", "/attempts", "/explain"):
            assert (await client.get(f"{b}/numbers/1{route}")).status_code == 404
    assert own.status_code == 200 and own.json()["phone"] == "201"
    assert other.json()["errors"] == [{"field": "number_id", "message": "campaign 1000000002 has no number 1"}]


async def insert_attempt(v2: V2, n: int, *, answered: bool, ended: bool, at: float) -> None:
    await v2.execute(
        "INSERT INTO attempts (id, task_id, number_id, phone, attempt_no, mode, state, outcome, created_at,"
        " answered_at, ended_at) VALUES (:id, 1000000001, 1, '201', :n, 'connect', :state, :outcome, :at, :ans, :end)",
        id=f"call-{n}",
        n=n,
        state="ended" if ended else "ringing",
        outcome=("SUCCESS" if answered else "customer_busy") if ended else None,
        at=at,
        ans=at + 5 if answered else None,
        end=at + 60 if ended else None,
    )


async def test_attempts_and_live_stats(v2: V2) -> None:
    async with v2.client() as client:
        url = await campaign(client)
        await add(client, url, [{"phone": "201"}, {"phone": "202"}, {"phone": "203"}])
        await insert_attempt(v2, 1, answered=False, ended=True, at=T0 - 7200)
        await insert_attempt(v2, 2, answered=True, ended=True, at=T0 - 600)
        await insert_attempt(v2, 3, answered=False, ended=False, at=T0 - 10)
        await v2.execute("UPDATE task_numbers SET active_attempt_id = 'call-3', state = 'startDial' WHERE id = 1")
        await v2.execute("UPDATE task_numbers SET result = 'SUCCESS', state = 'endCall' WHERE id = 2")
        attempts = (await client.get(f"{url}/numbers/1/attempts")).json()["items"]
        stats = (await client.get(f"{url}/stats")).json()
        missing = await client.get(f"{C}/5/stats")
    assert [a["attempt_no"] for a in attempts] == [1, 2, 3]
    assert attempts[1]["answered_at"] is not None and attempts[2]["ended_at"] is None
    assert stats == {
        "campaign_id": 1_000_000_001,
        "numbers_total": 3,
        "numbers_by_state": {"CreateTask": 1, "startDial": 1, "endCall": 1},
        "numbers_by_result": {"open": 2, "SUCCESS": 1},
        "calls_in_flight": 1,
        "attempts_ended": 2,
        "answered": 1,
        "originates_last_hour": 2,
        "originates_last_minute": 1,
        "answer_rate": 0.5,
        "answered_today": 1,  # ended after midnight in the PBX zone (Europe/Moscow)
        "abandoned_today": 0,
        "abandon_rate_today": 0.0,
        "abandoned": 0,  # the answered call ended SUCCESS: an employee took it
        "abandon_rate": 0.0,
    }
    assert missing.status_code == 404


async def explain(client: httpx.AsyncClient, url: str, number: int = 1) -> dict[str, Any]:
    reply = await client.get(f"{url}/numbers/{number}/explain")
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def test_explain_each_rule_in_words_with_the_next_time(v2: V2) -> None:
    async with v2.client() as client:
        url = await campaign(client)
        await add(client, url, [{"phone": "+7 952 223-34-46"}])
        now = await explain(client, url)
        assert now["allowed"] is True and now["next_at"] == now["at"]
        # No dialer in this app: the target's agents and the PBX link are not judged, and the words say so.
        assert now["text"] == ["may be dialled now", LIVE_UNKNOWN] and now["waits_for_change"] is False

        await add(client, url, [{"phone": "+7 952 223-34-46", "not_before": "2024-08-21T18:00:00"}])
        later = await explain(client, url)
        assert later["allowed"] is False and [h["kind"] for h in later["holds"]] == ["not-before"]
        assert later["next_at"] == "2024-08-21T15:00:00Z"
        assert later["text"][-2:] == ["next dialable at 2024-08-21 18:00 Wed PBX time", LIVE_UNKNOWN]

        await v2.execute(f"UPDATE task_numbers SET next_attempt_at = {T0 + 86400}")
        retry = await explain(client, url)
        assert [h["kind"] for h in retry["holds"]] == ["not-before", "retry-wait"]
        assert retry["next_at"] == "2024-08-22T10:11:13Z"

        await client.post(f"{url}/pause")
        paused = await explain(client, url)
        assert paused["holds"][0]["kind"] == "campaign-paused" and paused["next_at"] is None
        await client.post(f"{url}/resume")

        await v2.execute(
            "INSERT INTO dnc_numbers (e164, phone_id, phone, source, created_at) "
            f"VALUES ('+79522233446', '9522233446', '79522233446', 'poll-optout', {T0 - 60})"
        )
        await v2.execute("UPDATE task_numbers SET result = 'FAIL', state = 'doNotCall', close_time = 1")
        listed = await explain(client, url)
    kinds = [h["kind"] for h in listed["holds"]]
    assert kinds[0] == "number-final" and "do-not-call" in kinds and listed["next_at"] is None
    assert any("do-not-call list since 2024-08-21 13:10" in line for line in listed["text"])
    assert listed["text"][-1] == "not dialable again unless something changes"


async def test_csv_export_streams_every_number_with_the_listing_filters(v2: V2) -> None:
    import csv
    import io

    async with v2.client() as client:
        url = await campaign(client)
        numbers = [{"phone": f"7952000{i:04d}"} for i in range(2500)]
        numbers[1] = {"phone": "79520000001", "params": {"name": 'Ivan "the, first"', "n": 1}}
        assert (await add(client, url, numbers)).status_code == 200
        await v2.execute("UPDATE task_numbers SET result = 'SUCCESS', state = 'endCall', close_time = 1 WHERE id = 3")
        everything = await client.get(f"{url}/numbers.csv")
        done = await client.get(f"{url}/numbers.csv", params={"result": "SUCCESS"})
        missing = await client.get(f"{C}/77/numbers.csv")
        bad = await client.get(f"{url}/numbers.csv", params={"phone": "x"})
    assert everything.status_code == 200 and everything.headers["content-type"].startswith("text/csv")
    assert "attachment" in everything.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(everything.text)))
    assert len(table) == 2500 and [int(r["id"]) for r in table] == list(range(1, 2501))
    assert table[1]["params"] == '{"name":"Ivan \\"the, first\\"","n":1}'
    assert table[0]["result"] == "" and table[0]["closed_at"] == "" and table[0]["changed_at"].endswith("Z")
    assert everything.text.startswith("id,phone,phone_id,state,result,") and "\r\n" in everything.text
    assert [r["id"] for r in csv.DictReader(io.StringIO(done.text))] == ["3"]
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "phone"


def ndjson(reply: httpx.Response) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in reply.text.splitlines()]


async def test_csv_import_stores_good_rows_and_names_each_bad_one(v2: V2) -> None:
    good = [f"7952{i:07d},,Ivan {i}" for i in range(12_000)]
    lines = ["\ufeffphone,not_before,name", *good[:3], "call me,,x", '79529000100,"2024-08-22T09:00:00",""']
    lines += ["79529000101,tomorrow,y", "79529000102,1", *good[3:]]
    async with v2.client() as client:
        url = await campaign(client)
        reply = await client.post(f"{url}/numbers.csv", content="\r\n".join(lines).encode())
        first = await listing(client, url, limit=5)
        total = len(await listing(client, url, limit=1000))
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/x-ndjson")
    progress = ndjson(reply)
    assert [p["rows"] for p in progress[:-1]] == [5000, 10000]
    last = progress[-1]
    assert (last["done"], last["rows"], last["accepted"], last["rejected"]) == (True, 12_004, 12_001, 3)
    assert [(e["line"], e["field"]) for e in last["errors"]] == [(5, "phone"), (7, "not_before"), (8, "row")]
    assert [n["params"] for n in first[:3]] == [{"name": "Ivan 0"}, {"name": "Ivan 1"}, {"name": "Ivan 2"}]
    assert first[3]["phone"] == "79529000100" and first[3]["not_before"] == "2024-08-22T06:00:00Z"
    assert first[3]["params"] is None
    assert total == 1000


async def test_csv_import_refuses_a_bad_header_and_stops_at_broken_quoting(v2: V2) -> None:
    async with v2.client() as client:
        url = await campaign(client)
        no_phone = await client.post(f"{url}/numbers.csv", content=b"number,name\r\n1,x\r\n")
        twice = await client.post(f"{url}/numbers.csv", content=b"phone,phone\r\n1,2\r\n")
        empty = await client.post(f"{url}/numbers.csv", content=b"")
        missing = await client.post(f"{C}/77/numbers.csv", content=b"phone\r\n1\r\n")
        broken = await client.post(f"{url}/numbers.csv", content=b'phone,name\r\n201,a\r\n202,"b\r\n203,c\r\n')
        stored = await listing(client, url)
    for reply in (no_phone, twice, empty):
        assert reply.status_code == 422 and reply.json()["errors"][0]["field"] == "body"
    assert missing.status_code == 404
    last = ndjson(broken)[-1]
    assert last["done"] is True and last["accepted"] == 1 and last["errors"][0]["field"] == "row"
    assert [n["phone"] for n in stored] == ["201"]
