"""The live wallboard on v2 over real HTTP (uvicorn on a loopback port, SQLite and PostgreSQL): the read routes, the
event stream read as a browser does (hello, events within a second, heartbeat, Last-Event-ID, resync), a slow client
dropped without slowing the publisher, a server shutdown that open streams do not hold, and the auth gate."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.services.test_live_board import FakeEngine, FakeLink, FakeRoster, attempt

from autodialer.adapters.db.transactions import write_transaction
from autodialer.api.app import create_app
from autodialer.bootstrap import _HttpServer, build_campaign_service, build_context
from autodialer.domain.live_state import AgentFacts, AgentState, PbxLink, is_abandoned
from autodialer.domain.mikopbx_results import ResultRow
from autodialer.services.live_board import LiveBoard
from autodialer.services.live_events import LiveEvents
from autodialer.settings import load_settings
from conftest import FakeClock

V2 = "/api/v2"


@dataclass
class Live:
    http: httpx.AsyncClient
    url: str
    board: LiveBoard
    roster: FakeRoster
    engine: FakeEngine
    link: FakeLink
    db: AsyncEngine
    server: _HttpServer
    serve: asyncio.Task[None]
    app: Any


@contextlib.asynccontextmanager
async def served(
    db: AsyncEngine, tmp_path: Path, queue_size: int = 1000, lifetime_s: float = 600.0
) -> AsyncIterator[Live]:
    settings = load_settings(
        environment="test", data_dir=tmp_path, pbx_timezone="Europe/Moscow", jwt_secret="x" * 40, admin_password="pw"
    )
    clock = FakeClock(t=time.time())
    context = build_context(settings, db, clock.now)
    context.sse_heartbeat_s, context.sse_lifetime_s = 0.3, lifetime_s
    context.dnc = context.idempotency = context.polls = None  # the live routes only
    roster, engine, link = FakeRoster(), FakeEngine(), FakeLink()
    board = LiveBoard(LiveEvents(queue_size=queue_size), None, roster=roster, calls=engine, link=link, settle_s=0.05)  # type: ignore[arg-type]
    context.campaigns = build_campaign_service(settings, db, clock.now, board.campaigns_changed)
    board._campaigns = context.campaigns
    context.live = board
    app = create_app(context)
    server = _HttpServer(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", access_log=False)
    )
    server.on_shutdown = board.close
    serve = asyncio.create_task(server.serve())
    while not server.started:
        assert not serve.done()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            yield Live(http, url, board, roster, engine, link, db, server, serve, app)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serve, 5)


class Stream:
    """An SSE reader: events as (id, event, data), comments counted."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        self.comments = 0
        self.retry: str | None = None

    async def next(self, timeout: float = 2.0) -> tuple[str | None, str, Any] | None:
        """The next event; None at the end of the stream."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if line == "":
                    if "event" in fields or "data" in fields:
                        return fields.get("id"), fields.get("event", "message"), json.loads(fields.get("data", "null"))
                    continue
                if line.startswith(":"):
                    self.comments += 1
                    continue
                name, _, value = line.partition(":")
                if name == "retry":
                    self.retry = value.strip()
                fields[name] = value.removeprefix(" ")
        return None

    async def until(self, kind: str, timeout: float = 2.0) -> tuple[str | None, str, Any]:
        while True:
            event = await self.next(timeout)
            assert event is not None, f"the stream ended before a {kind!r} event"
            if event[1] == kind:
                return event


@contextlib.asynccontextmanager
async def stream(live: Live, path: str = "/events", **headers: str) -> AsyncIterator[Stream]:
    async with live.http.stream("GET", V2 + path, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Stream(response)


async def test_the_read_routes_show_agents_calls_campaigns_and_the_link(
    migrated_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with served(migrated_engine, tmp_path) as live:
        live.roster.facts = [
            AgentFacts("PJSIP/201", "201", AgentState.FREE, ("2200",)),
            AgentFacts("PJSIP/202", "202", AgentState.PAUSED, ("2200",)),
        ]
        live.engine.attempts["c1"] = attempt("c1")
        live.link.state = PbxLink(True, "connected", 1_700_000_000.0, None, 2)
        created = await live.http.post(
            V2 + "/campaigns", json={"name": "Live", "target": {"kind": "extension", "value": "201"}}
        )
        campaign_id = created.json()["id"]
        await live.http.post(f"{V2}/campaigns/{campaign_id}/numbers", json={"numbers": [{"phone": "5551001"}]})

        agents = (await live.http.get(V2 + "/live/agents")).json()
        assert [(a["agent"], a["state"], a["queues"]) for a in agents["items"]] == [
            ("PJSIP/201", "reserved", ["2200"]),
            ("PJSIP/202", "paused", ["2200"]),
        ]
        assert agents["counts"] == {"free": 0, "reserved": 1, "ringing": 0, "talking": 0, "paused": 1, "unavailable": 0}
        calls = (await live.http.get(V2 + "/live/calls")).json()
        assert [(c["call_id"], c["phase"], c["agent"]) for c in calls["items"]] == [("c1", "ringing", "PJSIP/201")]
        assert calls["by_campaign"] == [{"campaign_id": 7, "ringing": 1, "talking": 0}]
        summary = (await live.http.get(V2 + "/live")).json()
        assert summary["pbx_link"]["connected"] and summary["pbx_link"]["since"].startswith("2023-11-14T22:13:20")
        assert (summary["calls_ringing"], summary["calls_talking"], summary["agents"]["reserved"]) == (1, 0, 1)
        assert summary["event_id"] == live.board.events.last_id
        lines = (await live.http.get(V2 + "/live/campaigns")).json()
        [line] = lines["items"]
        assert (line["campaign_id"], line["name"], line["numbers_total"], line["numbers_open"]) == (
            campaign_id,
            "Live",
            1,
            1,
        )
        assert (line["answer_rate"], line["abandon_rate"], line["abandoned"]) == (None, None, 0)
        one = (await live.http.get(f"{V2}/live/campaigns/{campaign_id}")).json()
        assert one["numbers_open"] == 1
        missing = await live.http.get(f"{V2}/live/campaigns/999")
        assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "campaign_id"
        bad = await live.http.get(V2 + "/live/campaigns", params={"limit": 0})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "limit"
        pbx = (await live.http.get(V2 + "/live/pbx")).json()
        assert pbx == {
            "dialing": True,
            "connected": True,
            "state": "connected",
            "since": pbx["since"],
            "last_error": None,
            "logins": 2,
        }
        paths = (await live.http.get(V2 + "/openapi.json")).json()["paths"]
        assert {
            "/live",
            "/live/agents",
            "/live/calls",
            "/live/campaigns",
            "/live/campaigns/{campaign_id}",
            "/live/pbx",
            "/events",
        } <= set(paths)


async def test_abandonment_counts_the_rows_the_domain_rule_names(migrated_engine: AsyncEngine, tmp_path: Path) -> None:
    async with served(migrated_engine, tmp_path) as live:
        created = await live.http.post(V2 + "/campaigns", json={"target": {"kind": "extension", "value": "201"}})
        campaign_id = created.json()["id"]
        rows = [  # mode, answered, outcome, dial_status
            ("connect", True, "SUCCESS_USER_H", "ANSWER"),
            ("connect", True, "FAIL_USER_NO_ANSWER", "NOANSWER"),  # nobody took it: abandoned
            ("connect", True, "FAIL_CLIENT_H_BEFORE_ANSWER", None),  # hung up waiting: abandoned
            ("connect", True, "lostOnRestart", "ANSWER"),  # an employee had answered
            ("connect", False, "FAIL", None),  # never answered
            ("poll", True, "FAIL_POLLING", None),  # polls have nobody to take them
        ]
        for i, (mode, answered, outcome, dial_status) in enumerate(rows):
            await _insert_attempt(migrated_engine, f"a{i}", campaign_id, mode, answered, outcome, dial_status)
        expected = sum(is_abandoned(mode=m, answered=a, outcome=o, dial_status=d) for m, a, o, d in rows)
        assert expected == 2
        line = (await live.http.get(f"{V2}/live/campaigns/{campaign_id}")).json()
        assert (line["abandoned"], line["answered"], line["attempts_ended"]) == (2, 5, 6)
        assert line["abandon_rate"] == pytest.approx(2 / 5) and line["answer_rate"] == pytest.approx(5 / 6)
        stats = (await live.http.get(f"{V2}/campaigns/{campaign_id}/stats")).json()
        assert (stats["abandoned"], stats["abandon_rate"]) == (2, pytest.approx(0.4))


async def _insert_attempt(
    db: AsyncEngine, call_id: str, task_id: int, mode: str, answered: bool, outcome: str, dial_status: str | None
) -> None:
    from sqlalchemy import insert

    from autodialer.adapters.db.tables import attempts

    now = time.time()
    values = dict(
        id=call_id,
        task_id=task_id,
        number_id=1,
        phone="1",
        attempt_no=1,
        mode=mode,
        inner_num="201",
        state="ended",
        outcome=outcome,
        dial_status=dial_status,
        created_at=now - 10,
        answered_at=now - 5 if answered else None,
        ended_at=now,
    )
    async with write_transaction(db) as connection:
        await connection.execute(insert(attempts).values(**values))


async def test_events_arrive_within_a_second_with_heartbeats_and_resume_from_last_event_id(
    migrated_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with served(migrated_engine, tmp_path) as live:
        live.roster.facts = [AgentFacts("PJSIP/201", "201", AgentState.FREE)]
        async with stream(live) as events:
            hello = await events.next()
            assert hello is not None and hello[1] == "hello" and hello[0] == live.board.events.last_id
            assert events.retry == "2000"
            started = time.monotonic()
            live.engine.attempts["c1"] = attempt("c1")
            live.board.call_changed(attempt("c1"))
            event_id, _, data = await events.until("call")
            assert time.monotonic() - started < 1.0
            assert (data["call_id"], data["phase"], data["ended"]) == ("c1", "ringing", False)
            # the reservation, after one coalesced diff
            _, _, agent = await events.until("agent")
            assert (agent["agent"], agent["state"]) == ("PJSIP/201", "reserved")
            later = []
            with contextlib.suppress(TimeoutError):  # (the stream is not read after this)
                async with asyncio.timeout(0.8):
                    while True:
                        later.append((await events.next(timeout=1))[1])  # type: ignore[index]
            assert later == ["campaign_gone"]  # the fake call's campaign 7 does not exist
            assert events.comments >= 1  # heartbeats while nothing happens (every 0.3 s here)
        # Missed while disconnected: given on reconnect, in order, from the id the client saw last.
        del live.engine.attempts["c1"]
        live.board.call_finished(attempt("c1"), ResultRow(state="endCall", result="FAIL", count_try=1))
        async with stream(live, **{"Last-Event-ID": event_id or ""}) as events:
            kinds = [(await events.next())[1] for _ in range(4)]  # type: ignore[index]
            assert kinds == ["agent", "campaign_gone", "call", "number"]
        async with stream(live, path="/events?after=" + (event_id or "")) as events:
            assert (await events.next())[1] == "agent"  # type: ignore[index]
        async with stream(live, **{"Last-Event-ID": "from-another-process-9"}) as events:
            assert (await events.next())[1] == "resync"  # type: ignore[index]


async def test_a_client_that_does_not_read_is_dropped_and_the_publisher_never_waits(
    migrated_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with served(migrated_engine, tmp_path, queue_size=20) as live, stream(live) as events:
        await events.next()  # hello: subscribed
        started = time.monotonic()
        for _ in range(5000):
            live.board.events.publish("campaigns", None)
        assert time.monotonic() - started < 1.0
        assert live.board.events.subscribers == 0  # dropped at once: 20 queued
        seen = 0
        while await events.next() is not None:
            seen += 1
        assert seen <= 20  # the stream ended after what was queued; the client reconnects from there


async def test_shutdown_is_not_held_by_open_streams(migrated_engine: AsyncEngine, tmp_path: Path) -> None:
    async with served(migrated_engine, tmp_path) as live, stream(live) as first, stream(live) as second:
        await first.next()
        await second.next()
        started = time.monotonic()
        live.server.should_exit = True
        await asyncio.wait_for(live.serve, 3)
        assert time.monotonic() - started < 2.0
        assert await first.next() is None and await second.next() is None


async def test_the_gate_guards_the_live_routes(migrated_engine: AsyncEngine, tmp_path: Path) -> None:
    async with served(migrated_engine, tmp_path) as live:
        transport = httpx.ASGITransport(app=live.app, client=("203.0.113.9", 50123))
        async with httpx.AsyncClient(transport=transport, base_url="http://pbx") as outside:
            for path in ("/live", "/live/agents", "/live/calls", "/live/campaigns", "/live/pbx", "/events"):
                reply = await outside.get(V2 + path)
                assert reply.status_code == 401, path
                assert reply.headers["content-type"] == "application/problem+json"


async def test_a_stream_ends_after_its_lifetime_and_resumes_where_it_ended(
    migrated_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with served(migrated_engine, tmp_path, lifetime_s=0.5) as live:
        async with stream(live) as events:
            started = time.monotonic()
            assert (await events.next())[1] == "hello"  # type: ignore[index]
            live.board.campaigns_changed()
            last_id, _, _ = await events.until("campaigns")
            assert await events.next() is None  # ended by the server
            assert 0.4 < time.monotonic() - started < 2.0
        live.board.campaigns_changed()
        async with stream(live, **{"Last-Event-ID": last_id or ""}) as events:
            event = await events.next()
            assert event is not None and event[1] == "campaigns" and event[0] != last_id
