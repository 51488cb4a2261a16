"""v2 campaign schedules and attempt limits over HTTP (SQLite and PostgreSQL): stored in canonical form, bad input
refused naming the field and the rule, and applied by explain (the same verdict the engine uses)."""

from __future__ import annotations

from typing import Any

import httpx

from conftest import T0, V2

C = "/api/v2/campaigns"
TARGET = {"kind": "extension", "value": "201"}
SCHEDULE = {
    "hours": "09:00-21:00;sat,sun 10:00-20:00",
    "excluded_dates": "2027-02-23, 2027-01-01..2027-01-08",
    "starts_at": "2024-08-01T00:00:00+03:00",
    "ends_at": "2024-12-31T00:00:00Z",
    "default_zone": "Asia/Novosibirsk",
}


async def make(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    reply = await client.post(C, json={"target": TARGET, **body})
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


async def explain(client: httpx.AsyncClient, campaign: int, number: int = 1) -> dict[str, Any]:
    reply = await client.get(f"{C}/{campaign}/numbers/{number}/explain")
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def problem_fields(reply: httpx.Response) -> list[tuple[str, str]]:
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    return [(e["field"], e["message"]) for e in reply.json()["errors"]]


async def test_schedule_and_limits_are_stored_in_canonical_form_and_read_back(v2: V2) -> None:
    limits = {"max_per_day": 2, "max_total": 5, "min_gap_s": 3600, "max_per_day_all_campaigns": 3}
    async with v2.client() as client:
        made = await make(client, schedule=SCHEDULE, attempt_limits=limits)
        read = (await client.get(f"{C}/{made['id']}")).json()
    assert made == read
    assert read["schedule"] == {
        "hours": "mon-fri 09:00-21:00; sat,sun 10:00-20:00",
        "excluded_dates": "2027-01-01..2027-01-08, 2027-02-23",
        "starts_at": "2024-07-31T21:00:00Z",
        "ends_at": "2024-12-31T00:00:00Z",
        "default_zone": "Asia/Novosibirsk",
    }
    assert read["attempt_limits"] == limits


async def test_a_campaign_without_them_shows_the_global_default_and_no_limits(v2: V2) -> None:
    async with v2.client() as client:
        made = await make(client)
    assert made["schedule"] == {
        "hours": None,
        "excluded_dates": "",
        "starts_at": None,
        "ends_at": None,
        "default_zone": None,
    }
    assert made["attempt_limits"] == {
        "max_per_day": None,
        "max_total": None,
        "min_gap_s": None,
        "max_per_day_all_campaigns": None,
    }


async def test_bad_schedules_and_limits_name_the_field_and_the_rule(v2: V2) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"schedule": {"hours": "09:00-25:00"}}, "schedule.hours", "25:00 is not a time of day"),
        ({"schedule": {"hours": "22:00-02:00"}}, "schedule.hours", "may not cross midnight"),
        ({"schedule": {"hours": "mon 09:00-12:00; mon 13:00-14:00"}}, "schedule.hours", "mon is already given"),
        ({"schedule": {"excluded_dates": "2027-02-30"}}, "schedule.excluded_dates", "is not a date"),
        ({"schedule": {"excluded_dates": "2027-02-03..2027-01-01"}}, "schedule.excluded_dates", "end before"),
        ({"schedule": {"default_zone": "Mars/Olympus"}}, "schedule.default_zone", "is not an IANA time zone"),
        ({"schedule": {"starts_at": "2027-01-01T00:00:00"}}, "schedule.starts_at", "must carry a UTC offset"),
        (
            {"schedule": {"starts_at": "2027-01-02T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"}},
            "schedule.ends_at",
            "must be later than schedule.starts_at",
        ),
        ({"schedule": {"hour": "09:00-21:00"}}, "schedule.hour", "Extra inputs"),
        ({"attempt_limits": {"max_per_day": 0}}, "attempt_limits.max_per_day", "greater than or equal to 1"),
        ({"attempt_limits": {"max_total": True}}, "attempt_limits.max_total", "not true/false"),
        ({"attempt_limits": {"min_gap_s": -1}}, "attempt_limits.min_gap_s", "greater than or equal to 0"),
    ]
    async with v2.client() as client:
        for body, field, rule in cases:
            reply = await client.post(C, json={"target": TARGET, **body})
            found = problem_fields(reply)
            assert [f for f, _ in found] == [field], (body, found)
            assert rule in found[0][1], (body, found)
        listed = (await client.get(C)).json()["items"]
    assert listed == []  # nothing half-written


async def test_patch_replaces_the_schedule_and_null_clears_it(v2: V2) -> None:
    async with v2.client() as client:
        made = await make(client, schedule=SCHEDULE, attempt_limits={"max_per_day": 2})
        url = f"{C}/{made['id']}"
        renamed = (await client.patch(url, json={"name": "x"})).json()
        assert renamed["schedule"] == made["schedule"] and renamed["attempt_limits"] == made["attempt_limits"]
        changed = (await client.patch(url, json={"schedule": {"hours": "10:00-19:00"}})).json()
        assert changed["schedule"]["hours"] == "10:00-19:00" and changed["schedule"]["default_zone"] is None
        bad = await client.patch(url, json={"schedule": {"hours": "sun"}})
        assert [f for f, _ in problem_fields(bad)] == ["schedule.hours"]
        assert (await client.get(url)).json()["schedule"]["hours"] == "10:00-19:00"
        cleared = (await client.patch(url, json={"schedule": None, "attempt_limits": None})).json()
    assert cleared["schedule"]["hours"] is None and cleared["attempt_limits"]["max_per_day"] is None


async def test_explain_applies_the_campaigns_hours_holidays_and_end(v2: V2) -> None:
    # T0 is Wednesday 2024-08-21 10:11 UTC: 17:11 in Novosibirsk, 13:11 in Moscow.
    async with v2.client() as client:
        made = await make(client, schedule={"hours": "09:00-17:00", "default_zone": "Asia/Novosibirsk"})
        url = f"{C}/{made['id']}"
        await client.post(f"{url}/numbers", json={"numbers": [{"phone": "101"}]})  # no zone: the default's
        closed = await explain(client, made["id"])
        assert [h["kind"] for h in closed["holds"]] == ["outside-call-window"]
        assert "outside 09:00–17:00 Asia/Novosibirsk" in closed["text"][0]
        assert closed["next_at"] == "2024-08-22T02:00:00Z"  # 09:00 on Thursday there

        await client.patch(url, json={"schedule": {"hours": "09:00-18:00", "excluded_dates": "2024-08-21"}})
        holiday = await explain(client, made["id"])
        assert "2024-08-21 is an excluded date in Europe/Moscow" in holiday["text"][0]
        assert holiday["next_at"] == "2024-08-22T06:00:00Z"  # 09:00 Moscow, the PBX's zone

        await client.patch(url, json={"schedule": {"ends_at": "2024-08-21T10:00:00Z"}})
        ended = await explain(client, made["id"])
    assert [h["kind"] for h in ended["holds"]] == ["campaign-ended"] and ended["next_at"] is None
    assert ended["text"][0] == "the campaign ended at 2024-08-21 13:00 Wed PBX time"


async def test_explain_counts_attempts_across_campaigns_against_the_caps(v2: V2) -> None:
    async with v2.client() as client:
        first = await make(client, attempt_limits={"max_per_day_all_campaigns": 2, "max_per_day": 5})
        other = await make(client, external_id="other")
        for campaign in (first, other):
            body = {"numbers": [{"phone": "8 952 223-34-46", "params": {"tz": "Europe/Moscow"}}]}
            assert (await client.post(f"{C}/{campaign['id']}/numbers", json=body)).status_code == 200
        assert (await explain(client, first["id"]))["allowed"] is True
        for k, (campaign, number) in enumerate(((first, 1), (other, 2))):
            await v2.execute(
                "INSERT INTO attempts (id, task_id, number_id, phone, attempt_no, state, created_at, ended_at, callee)"
                f" VALUES ('c{k}', {campaign['id']}, {number}, '89522233446', 1, 'ended', {T0 - 600 * (k + 1)},"
                f" {T0 - 600 * (k + 1) + 30}, '+79522233446')"
            )
        capped = await explain(client, first["id"])
    assert [h["kind"] for h in capped["holds"]] == ["attempt-limit"]
    assert capped["text"][0] == "2 of 2 calls today to this number across all campaigns (Europe/Moscow)"
    assert capped["next_at"] == "2024-08-21T21:00:00Z"  # midnight in Moscow
