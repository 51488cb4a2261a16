"""Explain on a service with a dialer (SQLite and PostgreSQL): the campaign's target, lines and PBX link as the
engine sees them (LiveConditions, here on fakes of the engine and the PBX trackers) name why a number waits: a busy
extension, a down link, with no next time. Without a dialer in the process explain says it could not know."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.api.app import create_app
from autodialer.bootstrap import build_context
from autodialer.domain.eligibility import LIVE_UNKNOWN
from autodialer.domain.live_state import AgentFacts, AgentState, PbxLink
from autodialer.services.dialer_store import Attempt
from autodialer.services.engine_state import PbxPause
from autodialer.services.live_conditions import LiveConditions
from autodialer.services.ports import QueueLoad
from autodialer.settings import load_settings
from conftest import T0, V2, FakeClock

C = "/api/v2/campaigns"


@dataclass
class Pbx:
    """The engine's and the PBX trackers' reads LiveConditions makes, as plain data a test changes."""

    free: dict[str, frozenset[str]] = field(default_factory=dict)
    roster: list[AgentFacts] = field(default_factory=list)
    connected: bool = True
    shown: PbxLink = field(default_factory=lambda: PbxLink(True, "connected", T0 - 3600, None, 1))
    calls: list[Attempt] = field(default_factory=list)

    # AvailabilityView
    def free_agents(self, inner_num: str) -> frozenset[str]:
        return self.free.get(inner_num, frozenset())

    def queue_load(self, inner_num: str) -> QueueLoad | None:
        return None

    def is_connected(self) -> bool:
        return self.connected

    def on_change(self, callback: Callable[[], None]) -> None:
        return None

    # AgentRoster, PbxLinkView
    def agents(self) -> list[AgentFacts]:
        return list(self.roster)

    def link(self) -> PbxLink:
        return self.shown

    def on_link_change(self, callback: Callable[[], None]) -> None:
        return None

    # the engine
    def calls_now(self) -> list[Attempt]:
        return list(self.calls)

    def reserved_agents(self) -> frozenset[str]:
        return frozenset(a.agent for a in self.calls if a.agent)

    def is_paced(self, attempt: Attempt) -> bool:
        return False

    def dispatch_pause(self) -> PbxPause:
        return PbxPause(0.0, 0.0, None)


async def explain(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    reply = await client.get(f"{url}/numbers/1/explain")
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


async def test_explain_names_a_busy_extension_and_a_down_link_without_a_time(
    migrated_engine: AsyncEngine, tmp_path: Path
) -> None:
    settings = load_settings(environment="test", data_dir=tmp_path, pbx_timezone="Europe/Moscow")
    pbx = Pbx(free={"201": frozenset({"PJSIP/201"})}, roster=[AgentFacts("PJSIP/201", "201", AgentState.FREE)])
    live = LiveConditions(pbx, pbx, roster=pbx, link=pbx)
    clock = FakeClock()
    context = build_context(settings, migrated_engine, clock.now, live=live)
    transport = httpx.ASGITransport(app=create_app(context), client=("127.0.0.1", 50123))
    async with httpx.AsyncClient(transport=transport, base_url="http://pbx") as client:
        made = await client.post(C, json={"target": {"kind": "extension", "value": "201"}, "lines": 2})
        url = f"{C}/{made.json()['id']}"
        await client.post(f"{url}/numbers", json={"numbers": [{"phone": "+7 952 223-34-46"}]})
        free = await explain(client, url)
        assert free["allowed"] is True and free["text"] == ["may be dialled now"]

        pbx.free = {}
        pbx.roster = [AgentFacts("PJSIP/201", "201", AgentState.TALKING)]
        busy = await explain(client, url)
        assert busy["allowed"] is False and busy["next_at"] is None
        assert busy["waits_for_change"] is True and busy["earliest_at"] == busy["at"]
        assert [(h["kind"], h["until"]) for h in busy["holds"]] == [("target-busy", None)]
        assert busy["text"] == [
            "waits for a free agent: extension 201 is in a call",
            "next dialable when that changes (no time can be known)",
        ]

        await client.post(
            f"{url}/numbers", json={"numbers": [{"phone": "+7 952 223-34-46", "not_before": "2024-08-21T18:00:00"}]}
        )
        pbx.connected = False
        pbx.shown = PbxLink(False, "waiting", T0 - 60, "[Errno 111] Connection refused", 3)
        down = await explain(client, url)
        assert [h["kind"] for h in down["holds"]] == ["pbx-link", "not-before"]
        assert down["text"] == [
            "PBX link down (waiting) since 2024-08-21 13:10:13 PBX time (last error: [Errno 111] Connection refused): "
            "no call is placed until it is back",
            "not before 2024-08-21 18:00 Wed PBX time (timeCallAllow)",
            "next dialable when that changes (no time can be known), and not before 2024-08-21 18:00 Wed PBX time",
        ]
        assert down["next_at"] is None and down["earliest_at"] == "2024-08-21T15:00:00Z"

        await client.post(f"{url}/pause")
        paused = await explain(client, url)  # paused for good: the agent and the link are not what it waits for
        assert [h["kind"] for h in paused["holds"]] == ["campaign-paused", "not-before"]
        assert paused["waits_for_change"] is False and paused["earliest_at"] is None


async def test_without_a_dialer_explain_says_the_live_state_is_unknown(v2: V2) -> None:
    async with v2.client() as client:
        made = await client.post(C, json={"target": {"kind": "extension", "value": "201"}})
        url = f"{C}/{made.json()['id']}"
        await client.post(f"{url}/numbers", json={"numbers": [{"phone": "+7 952 223-34-46"}]})
        verdict = await explain(client, url)
    assert verdict["allowed"] is True and verdict["text"] == ["may be dialled now", LIVE_UNKNOWN]
