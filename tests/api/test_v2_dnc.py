"""v2 do-not-call lists over HTTP (SQLite and PostgreSQL): the global list and a campaign's; add, read, remove,
pages, CSV import with per-row errors and export; numbers normalised to E.164; bad input named by field and rule;
listing closes the open numbers it covers (and only the campaign's own for its list)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from conftest import T0, V2

C = "/api/v2/campaigns"
TARGET = {"kind": "extension", "value": "201"}


async def campaign(client: httpx.AsyncClient, *phones: str, external_id: str | None = None) -> int:
    body: dict[str, Any] = {"target": TARGET}
    if external_id:
        body["external_id"] = external_id
    made = (await client.post(C, json=body)).json()
    if phones:
        reply = await client.post(f"{C}/{made['id']}/numbers", json={"numbers": [{"phone": p} for p in phones]})
        assert reply.status_code == 200, reply.text
    return int(made["id"])


async def states(client: httpx.AsyncClient, campaign_id: int) -> list[tuple[str, str | None]]:
    items = (await client.get(f"{C}/{campaign_id}/numbers")).json()["items"]
    return [(n["state"], n["result"]) for n in items]


def problem(reply: httpx.Response, status: int = 422) -> list[tuple[str, str]]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    body = reply.json()
    return [(e["field"], e["message"]) for e in body["errors"]] or [("", body["detail"])]


async def test_every_spelling_is_one_entry_and_listing_closes_the_open_numbers(v2: V2) -> None:
    async with v2.client() as client:
        task = await campaign(client, "8 952 223-34-46", "84953334455")
        first = await client.post("/api/v2/dnc", json={"phone": "+7 952 2233446", "note": "asked"})
        assert first.status_code == 201
        assert first.json() == {
            "phone": "+79522233446",
            "listed_as": "+79522233446",
            "note": "asked",
            "source": "api",
            "listed_at": "2024-08-21T10:11:13Z",
            "campaign_id": None,
        }
        again = await client.post("/api/v2/dnc", json={"phone": "79522233446", "note": "other"})
        assert again.status_code == 200 and again.json()["note"] == "asked"  # kept as first listed
        assert (await client.get("/api/v2/dnc/8%20952%20223-34-46")).json()["phone"] == "+79522233446"
        assert await states(client, task) == [("doNotCall", "FAIL"), ("CreateTask", None)]
        assert (await client.delete("/api/v2/dnc/+79522233446")).status_code == 204
        gone = await client.get("/api/v2/dnc/+79522233446")
        assert problem(gone, 404) == [("phone", "+79522233446 is not on the global do-not-call list")]
        assert await states(client, task) == [("doNotCall", "FAIL"), ("CreateTask", None)]  # reported: stays
    assert v2.wakeups


async def test_a_campaigns_list_holds_only_that_campaign(v2: V2) -> None:
    async with v2.client() as client:
        mine = await campaign(client, "8 952 223-34-46")
        other = await campaign(client, "8 952 223-34-46", external_id="other")
        added = await client.post(f"{C}/{mine}/dnc", json={"phone": "89522233446"})
        assert added.status_code == 201 and added.json()["campaign_id"] == mine
        assert await states(client, mine) == [("doNotCall", "FAIL")]
        assert await states(client, other) == [("CreateTask", None)]
        assert (await client.get("/api/v2/dnc")).json() == {"items": [], "next_cursor": None}
        listed = (await client.get(f"{C}/{mine}/dnc")).json()["items"]
        assert [e["phone"] for e in listed] == ["+79522233446"]
        missing = await client.get(f"{C}/999/dnc")
        assert problem(missing, 404) == [("campaign_id", "campaign 999 does not exist")]
        await client.delete(f"{C}/{mine}")
        assert problem(await client.post(f"{C}/{mine}/dnc", json={"phone": "1"}), 422)[0][0] == "phone"


async def test_bad_input_names_the_field_and_the_rule(v2: V2) -> None:
    async with v2.client() as client:
        cases = [
            ({"phone": "not a number"}, "phone", "'not a number' is not a phone number"),
            ({"phone": "+7 952 223"}, "phone", "is too short for a number of its country"),
            ({"phone": "+79522233446", "note": "x" * 201}, "note", "at most 200 characters"),
            ({"phone": "+79522233446", "reason": "x"}, "reason", "Extra inputs"),
        ]
        for body, field, rule in cases:
            found = problem(await client.post("/api/v2/dnc", json=body))
            assert found[0][0] == field and rule in found[0][1], (body, found)
        cursor = problem(await client.get("/api/v2/dnc?cursor=xyz"))
        assert cursor[0][0] == "cursor"
        assert problem(await client.delete("/api/v2/dnc/abc"))[0][0] == "phone"
        assert (await client.get("/api/v2/dnc")).json()["items"] == []


async def test_pages_follow_the_cursor_in_number_order(v2: V2) -> None:
    async with v2.client() as client:
        for k in range(5):
            await client.post("/api/v2/dnc", json={"phone": f"+7952223344{k}"})
        seen: list[str] = []
        cursor = ""
        while True:
            page = (await client.get(f"/api/v2/dnc?limit=2&cursor={cursor}")).json()
            seen += [e["phone"] for e in page["items"]]
            if page["next_cursor"] is None:
                break
            cursor = page["next_cursor"]
    assert seen == [f"+7952223344{k}" for k in range(5)]


async def test_csv_import_reports_each_bad_row_and_stores_the_good_ones_then_export(v2: V2) -> None:
    body = (
        "\ufeffPhone;Note\r\n"
        "8 952 223-34-46;asked on the phone\r\n"
        "not a number;x\r\n"
        "+7 952 2233446;repeat\r\n"
        "\r\n"
        "+7 (383) 333-44-55;\r\n"
        f"+79130000001;{'n' * 201}\r\n"
    )
    async with v2.client() as client:
        task = await campaign(client, "83833334455", "84950000000")
        reply = await client.post("/api/v2/dnc.csv", content=body.encode(), headers={"content-type": "text/csv"})
        assert reply.status_code == 200, reply.text
        assert reply.json() == {
            "entries": 2,
            "added": 2,
            "duplicates": 1,
            "rejected": 2,
            "closed": 1,
            "errors": [
                {"row": 3, "field": "phone", "message": "phone: 'not a number' is not a phone number"},
                {"row": 7, "field": "note", "message": "must be at most 200 characters"},
            ],
        }
        assert await states(client, task) == [("doNotCall", "FAIL"), ("CreateTask", None)]
        exported = await client.get("/api/v2/dnc.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows == [
        ["phone", "note", "source", "listed_at", "listed_as"],
        ["+73833334455", "", "csv import", "2024-08-21T10:11:13Z", "+73833334455"],
        ["+79522233446", "asked on the phone", "csv import", "2024-08-21T10:11:13Z", "+79522233446"],
    ]
    assert T0 == 1_724_235_073.0


async def test_a_file_that_cannot_be_read_stores_nothing(v2: V2) -> None:
    async with v2.client() as client:
        task = await campaign(client)
        no_phone = await client.post(f"{C}/{task}/dnc.csv", content=b"name,note\r\nx,y\r\n")
        assert problem(no_phone)[0][0] == "body" and "phone column" in problem(no_phone)[0][1]
        latin = await client.post(
            f"{C}/{task}/dnc.csv", content=b"phone,note\r\n+79522233446,ok\r\n+79522233447,\xe9\r\n"
        )
        assert problem(latin) == [("body", "is not UTF-8 text; nothing was stored")]
        assert (await client.get(f"{C}/{task}/dnc")).json()["items"] == []
        good = await client.post(f"{C}/{task}/dnc.csv", content=b"phone\n+79522233446\n")
        assert good.json()["added"] == 1
        exported = (await client.get(f"{C}/{task}/dnc.csv")).text.splitlines()
        assert exported[1].startswith("+79522233446,,csv import,")
        assert problem(await client.get(f"{C}/999/dnc.csv"), 404)[0][0] == "campaign_id"
