"""LiveConditions on a real DialerEngine (fakes for the PBX): explain's snapshot of a campaign's target, lines and
link is what the engine's planning round sees, and eligibility names it (a held agent, every line in use, the
dispatch pause after a PBX refusal, a link down)."""

from __future__ import annotations

from tests.services.harness import Harness

from autodialer.domain.callee_zones import CalleeZones, ZoneSource
from autodialer.domain.campaigns import Campaign, CampaignState, Target, TargetKind
from autodialer.domain.eligibility import CampaignRules, HoldKind, NumberFacts, evaluate
from autodialer.domain.live_state import PbxLink
from autodialer.services.live_conditions import LiveConditions
from autodialer.services.ports import PbxUnavailable

ZONES = CalleeZones(("UTC",), ZoneSource.CAMPAIGN_DEFAULT)


def campaign(inner: str = "201", lines: int = 1, campaign_id: int = 1) -> Campaign:
    target = Target(TargetKind.EXTENSION, inner)
    return Campaign(campaign_id, "", "c", CampaignState.ACTIVE, target, lines, "", None, False, 0, 0)


def words(live: LiveConditions, h: Harness, made: Campaign) -> list[str]:
    verdict = evaluate(CampaignRules(1), NumberFacts("+15551002", ZONES), h.clock.now(), "UTC", live.conditions(made))
    assert not verdict.allowed and verdict.next_at is None
    return verdict.lines()


class Link:
    def __init__(self, state: PbxLink) -> None:
        self.state = state

    def link(self) -> PbxLink:
        return self.state

    def on_link_change(self, callback: object) -> None:
        return None


async def test_a_call_in_flight_holds_the_agent_and_the_only_line() -> None:
    h = Harness()
    await h.dial_one()
    live = LiveConditions(h.engine, h.availability)
    snapshot = live.conditions(campaign())
    assert (snapshot.lines_in_use, snapshot.lines_limit) == (1, 1)
    assert snapshot.target is not None and snapshot.target.reserved == frozenset({"PJSIP/201"})
    assert words(live, h, campaign()) == [
        "waits for a free line: all 1 of the campaign's lines (maxCountChannels) are in calls (1 in flight)",
        "waits for a free agent: extension 201 is held for another call of ours",
        "next dialable when that changes (no time can be known)",
    ]
    # Another campaign on the same extension: its lines are free, the agent is not.
    other = live.conditions(campaign(lines=3, campaign_id=2))
    verdict = evaluate(CampaignRules(2), NumberFacts("+15551003", ZONES), h.clock.now(), "UTC", other)
    assert [(hold.kind, hold.rule) for hold in verdict.holds] == [(HoldKind.TARGET_BUSY, "agent")]


async def test_a_queue_whose_members_are_needed_by_its_waiting_callers() -> None:
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/201"}, callers={"their-caller"})
    live = LiveConditions(h.engine, h.availability)
    made = campaign("2200", lines=2)
    assert live.conditions(made).target is not None
    assert words(live, h, made)[0] == (
        "waits for a free agent: queue 2200's 1 member able to take a call is needed by the 1 call already waiting "
        "for one (no members known)"
    )


async def test_the_dispatch_pause_after_a_pbx_refusal_and_a_link_down() -> None:
    h = Harness()
    h.calls.fail_next = [PbxUnavailable("Originate: Asterisk is shutting down")]
    await h.dial_one()
    assert h.calls.originated == []
    live = LiveConditions(h.engine, h.availability)
    assert words(live, h, campaign())[0] == (
        "dispatch paused since 2027-01-15 08:00:00 PBX time: the PBX refused calls (Originate: Asterisk is shutting "
        "down); tried again from 2027-01-15 08:00:05 PBX time or when the link reconnects"
    )
    h.availability.connected = False
    link = Link(PbxLink(False, "waiting", h.clock.now() - 30, "Connection refused", 1))
    live = LiveConditions(h.engine, h.availability, link=link)
    assert words(live, h, campaign())[0] == (
        "PBX link down (waiting) since 2027-01-15 07:59:30 PBX time (last error: Connection refused): no call is "
        "placed until it is back"
    )
