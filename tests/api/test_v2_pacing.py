"""v2 pacing fields (issue 13): stored and read back, every v1 task progressive, bad settings refused naming the
field, and the day's abandonment in the live stats."""

from __future__ import annotations

from typing import Any

from conftest import T0, V2

C = "/api/v2/campaigns"
QUEUE = {"kind": "extension", "value": "2200"}


async def test_predictive_and_power_settings_are_stored_and_read_back(v2: V2) -> None:
    pacing = {
        "mode": "predictive",
        "max_abandon_rate": 0.02,
        "abandon_after_s": 3,
        "safe_harbor": {"text": "We will call you back.", "lang": "en"},
    }
    async with v2.client() as client:
        made = await client.post(C, json={"target": QUEUE, "lines": 20, "pacing": pacing})
        assert made.status_code == 201, made.text
        url = f"{C}/{made.json()['id']}"
        read = (await client.get(url)).json()
        power = await client.patch(url, json={"pacing": {"mode": "power", "lines_per_agent": 2.5}})
        back = await client.patch(url, json={"pacing": {"mode": "progressive"}})
        renamed = await client.patch(url, json={"name": "kept"})
    assert read["pacing"] == {
        "mode": "predictive",
        "lines_per_agent": None,
        "max_abandon_rate": 0.02,
        "abandon_after_s": 3.0,
        "safe_harbor": {"text": "We will call you back.", "audio": None, "lang": "en"},
        "min_ring_s": None,  # the default: no ringing call is ended (opt in with 15 s or more)
    }
    assert power.json()["pacing"]["mode"] == "power" and power.json()["pacing"]["lines_per_agent"] == 2.5
    assert power.json()["pacing"]["min_ring_s"] is None  # power never ends a ringing call
    assert power.json()["pacing"]["abandon_after_s"] == 2.0  # the default
    assert back.json()["pacing"]["mode"] == "progressive"
    assert renamed.json()["pacing"]["mode"] == "progressive"
    stored = await v2.scalar("SELECT pacing FROM tasks WHERE id = :id", id=made.json()["id"])
    assert stored is None  # progressive is NULL, as every v1 task


async def test_min_ring_s_is_stored_and_read_back(v2: V2) -> None:
    async with v2.client() as client:
        made = await client.post(C, json={"target": QUEUE, "pacing": {"mode": "predictive", "min_ring_s": 20}})
        assert made.status_code == 201, made.text
        read = (await client.get(f"{C}/{made.json()['id']}")).json()
        refused = await client.patch(
            f"{C}/{made.json()['id']}", json={"pacing": {"mode": "predictive", "min_ring_s": 14.9}}
        )
    assert read["pacing"]["min_ring_s"] == 20.0
    assert refused.status_code == 422
    error = refused.json()["errors"][0]
    assert error["field"] == "pacing.min_ring_s" and "15" in error["message"], error


async def test_a_v1_task_is_progressive(v2: V2) -> None:
    async with v2.client() as client:
        v1 = await client.post("/pbxcore/api/module-dialer/v1/task", json={"innerNum": "2200", "numbers": ["201"]})
        task_id = v1.json()["data"]["id"]
        read = (await client.get(f"{C}/{task_id}")).json()
    assert read["pacing"] == {
        "mode": "progressive",
        "lines_per_agent": None,
        "max_abandon_rate": None,
        "abandon_after_s": None,
        "safe_harbor": None,
        "min_ring_s": None,
    }


async def test_bad_pacing_is_refused_naming_the_field(v2: V2) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"mode": "predictive", "max_abandon_rate": 0.5}, "pacing.max_abandon_rate"),
        ({"mode": "predictive", "max_abandon_rate": True}, "pacing.max_abandon_rate"),
        ({"mode": "power", "lines_per_agent": 0.5}, "pacing.lines_per_agent"),
        ({"mode": "power", "abandon_after_s": 0}, "pacing.abandon_after_s"),
        ({"mode": "predictive", "safe_harbor": {"text": "a\nb"}}, "pacing.safe_harbor.text"),
        ({"mode": "predictive", "safe_harbor": {"voice": "x"}}, "pacing.safe_harbor.voice"),
        ({"mode": "predictive", "target_rate": 0.01}, "pacing.target_rate"),
        ({"mode": "predictive", "min_ring_s": 10}, "pacing.min_ring_s"),  # under the legal 15 s
        ({"mode": "predictive", "min_ring_s": 301}, "pacing.min_ring_s"),
    ]
    async with v2.client() as client:
        for pacing, field in cases:
            reply = await client.post(C, json={"target": QUEUE, "pacing": pacing})
            assert reply.status_code == 422, pacing
            assert [e["field"] for e in reply.json()["errors"]] == [field], reply.json()
        poll = await client.post(C, json={"target": {"kind": "poll", "value": "1"}, "pacing": {"mode": "predictive"}})
        listed = (await client.get(C)).json()["items"]
    assert poll.status_code == 422
    assert listed == []


async def test_a_poll_campaign_cannot_become_predictive(v2: V2) -> None:
    async with v2.client() as client:
        made = (await client.post(C, json={"target": QUEUE, "pacing": {"mode": "predictive"}})).json()
        reply = await client.patch(f"{C}/{made['id']}", json={"target": {"kind": "poll", "value": "1"}})
    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] in (["pacing.mode"], ["target.value"])


async def test_the_days_abandonment_is_in_the_live_stats(v2: V2) -> None:
    async with v2.client() as client:
        made = (await client.post(C, json={"target": QUEUE, "pacing": {"mode": "predictive"}})).json()
        url = f"{C}/{made['id']}"
        await client.post(f"{url}/numbers", json={"numbers": [{"phone": "201"}]})
        # Yesterday (Moscow) an abandoned call; today two answered, one of them abandoned.
        for n, outcome, end in ((1, "abandoned", T0 - 86400), (2, "abandoned", T0 - 60), (3, "SUCCESS", T0 - 30)):
            await v2.execute(
                "INSERT INTO attempts (id, task_id, number_id, phone, attempt_no, mode, state, outcome, created_at,"
                " answered_at, ended_at) VALUES (:id, :task, 1, '201', :n, 'connect', 'ended', :outcome, :at, :at,"
                " :end)",
                id=f"call-{n}",
                task=made["id"],
                n=n,
                outcome=outcome,
                at=end - 20,
                end=end,
            )
        stats = (await client.get(f"{url}/stats")).json()
    assert (stats["answered_today"], stats["abandoned_today"], stats["abandon_rate_today"]) == (2, 1, 0.5)
    assert stats["answered"] == 3
