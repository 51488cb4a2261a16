"""The live holds: a campaign's target without a free agent, its lines all in use, the PBX link down or dispatch
paused. In words, with no next time (they end when the state changes), and decided by the same functions the
engine's planning uses (dial_capacity.agents_free / lines_free, held to plan_dials by a Hypothesis test)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.domain.test_eligibility import CAMPAIGN, PBX, PHONE, WINDOW, cases

from autodialer.domain.callee_zones import CalleeZones, ZoneSource
from autodialer.domain.dial_capacity import (
    DialConditions,
    LinkBlock,
    LinkFacts,
    TargetLoad,
    agents_free,
    lines_free,
    link_block,
)
from autodialer.domain.dialing import DialSnapshot, DueNumber, TaskSlice, TaskState, plan_dials
from autodialer.domain.eligibility import LIVE_KINDS, CampaignRules, HoldKind, NumberFacts, Verdict, evaluate
from autodialer.domain.live_state import AgentState

NOW = datetime(2026, 12, 4, 9, tzinfo=UTC).timestamp()  # 12:00 Fri in Moscow; 16:00 in Novosibirsk
NSK = CalleeZones(("Asia/Novosibirsk",), ZoneSource.CRM_PARAM)
UP = LinkFacts(connected=True, state="connected", since=NOW - 3600)
FREE_201 = TargetLoad("201", False, frozenset({"PJSIP/201"}), frozenset(), states=(AgentState.FREE,))


def conditions(
    target: TargetLoad | None = FREE_201, link: LinkFacts = UP, in_use: int = 0, limit: int = 2
) -> DialConditions:
    return DialConditions(link, limit, in_use, target)


def verdict_with(live: DialConditions, now: float = NOW, rules: CampaignRules | None = None) -> Verdict:
    return evaluate(rules or CampaignRules(CAMPAIGN), NumberFacts(PHONE, NSK), now, PBX, live)


def test_a_free_extension_an_up_link_and_a_free_line_hold_nothing() -> None:
    verdict = evaluate(CampaignRules(CAMPAIGN), NumberFacts(PHONE, NSK), NOW, PBX, conditions())
    assert verdict.allowed and verdict.next_at == NOW and verdict.lines() == ["may be dialled now"]


def test_an_extension_in_a_call_waits_for_a_free_agent_without_a_time() -> None:
    busy = TargetLoad("201", False, frozenset(), frozenset(), states=(AgentState.TALKING,))
    verdict = evaluate(CampaignRules(CAMPAIGN), NumberFacts(PHONE, NSK), NOW, PBX, conditions(busy))
    (hold,) = verdict.holds
    assert (hold.kind, hold.rule, hold.until) == (HoldKind.TARGET_BUSY, "agent", None)
    assert hold.text == "waits for a free agent: extension 201 is in a call"
    assert verdict.next_at is None and verdict.earliest_at == NOW and verdict.waits_for_change
    assert verdict.lines() == [hold.text, "next dialable when that changes (no time can be known)"]


def test_each_agent_state_in_words() -> None:
    words = {
        AgentState.RINGING: "extension 201 is ringing",
        AgentState.PAUSED: "extension 201 is paused or on do-not-disturb",
        AgentState.UNAVAILABLE: "extension 201 is unavailable (not registered)",
        AgentState.RESERVED: "extension 201 is held for another call of ours",
    }
    for state, text in words.items():
        target = TargetLoad("201", False, frozenset(), frozenset(), states=(state,))
        assert (
            evaluate(CampaignRules(CAMPAIGN), NumberFacts(PHONE, NSK), NOW, PBX, conditions(target))
            .holds[0]
            .text.endswith(text)
        )
    held = TargetLoad("201", False, frozenset({"PJSIP/201"}), frozenset({"PJSIP/201"}), states=(AgentState.FREE,))
    assert "extension 201 is held for another call of ours" in verdict_with(conditions(held)).lines()[0]
    unknown = TargetLoad("209", False, frozenset(), frozenset())
    assert "extension 209 is not known to the PBX" in verdict_with(conditions(unknown)).lines()[0]


def test_a_queue_without_an_able_member_and_one_whose_members_are_spoken_for() -> None:
    states = (AgentState.TALKING, AgentState.TALKING, AgentState.PAUSED)
    nobody = TargetLoad("2200", True, frozenset(), frozenset(), states=states)
    verdict = verdict_with(conditions(nobody))
    assert verdict.holds[0].rule == "queue"
    assert verdict.holds[0].text == (
        "waits for a free agent: queue 2200 has no member able to take a call "
        "(3 members: 2 in a call, 1 paused or on do-not-disturb)"
    )
    two = frozenset({"PJSIP/201", "PJSIP/202"})
    spoken = TargetLoad("2200", True, two, frozenset(), demand=2, states=(AgentState.FREE, AgentState.FREE))
    assert verdict_with(conditions(spoken)).holds[0].text == (
        "waits for a free agent: queue 2200's 2 members able to take a call are needed by the 2 calls already "
        "waiting for one (2 members: 2 free)"
    )
    one_left = TargetLoad("2200", True, two, frozenset(), demand=1)
    assert verdict_with(conditions(one_left)).allowed


def test_every_line_in_use_and_a_paced_campaign_dialling_ahead_of_busy_agents() -> None:
    full = verdict_with(conditions(in_use=2, limit=2))
    assert [(h.kind, h.rule) for h in full.holds] == [(HoldKind.TARGET_BUSY, "lines")]
    assert full.holds[0].text == (
        "waits for a free line: all 2 of the campaign's lines (maxCountChannels) are in calls (2 in flight)"
    )
    paced = TargetLoad("2200", True, frozenset(), frozenset(), paced=True)
    assert verdict_with(conditions(paced)).allowed  # its policy's decision
    assert verdict_with(conditions(None)).allowed  # a poll needs no agent


def test_a_link_down_says_since_when_and_the_last_error_and_hides_the_agents() -> None:
    down = LinkFacts(False, "waiting", since=NOW - 60, last_error="Connection refused")
    verdict = verdict_with(conditions(TargetLoad("201", False, frozenset(), frozenset()), link=down))
    (hold,) = verdict.holds
    assert (hold.kind, hold.rule, hold.until) == (HoldKind.PBX_LINK, "down", None)
    assert hold.text == (
        "PBX link down (waiting) since 2026-12-04 11:59:00 PBX time (last error: Connection refused): "
        "no call is placed until it is back"
    )
    resync = LinkFacts(False, "connected", since=NOW - 1)
    assert (
        verdict_with(conditions(link=resync))
        .holds[0]
        .text.startswith("PBX link re-syncing the agents' states since 2026-12-04 11:59:59 PBX time")
    )


def test_dispatch_paused_after_a_pbx_refusal() -> None:
    paused = LinkFacts(True, "connected", NOW - 600, None, NOW - 2, NOW + 3, "Originate: shutting down")
    (hold,) = verdict_with(conditions(link=paused)).holds
    assert (hold.kind, hold.rule, hold.until) == (HoldKind.PBX_LINK, "paused", None)
    assert hold.text == (
        "dispatch paused since 2026-12-04 11:59:58 PBX time: the PBX refused calls (Originate: shutting down); "
        "tried again from 2026-12-04 12:00:03 PBX time or when the link reconnects"
    )
    assert verdict_with(conditions(link=paused), now=NOW + 3).allowed


def test_with_a_time_rule_too_the_words_say_not_before_it() -> None:
    busy = TargetLoad("201", False, frozenset(), frozenset(), states=(AgentState.TALKING,))
    later = NOW + 3 * 3600
    verdict = evaluate(CampaignRules(CAMPAIGN), NumberFacts(PHONE, NSK, not_before=later), NOW, PBX, conditions(busy))
    assert [h.kind for h in verdict.holds] == [HoldKind.TARGET_BUSY, HoldKind.NOT_BEFORE]
    assert verdict.next_at is None and verdict.earliest_at == later
    assert verdict.lines()[-1] == (
        "next dialable when that changes (no time can be known), and not before 2026-12-04 15:00 Fri PBX time"
    )
    listed = evaluate(CampaignRules(CAMPAIGN, WINDOW), NumberFacts(PHONE, NSK), NOW + 86400 * 365, PBX)
    assert listed.earliest_at is None


def test_the_shared_rules() -> None:
    agents = frozenset({"a", "b", "c"})
    assert agents_free(agents, set()) == 3
    assert agents_free(agents, {"a", "z"}) == 2
    assert agents_free(agents, {"a"}, demand=5) == 0
    assert lines_free(3, 1) == 2 and lines_free(3, 4) == 0
    assert link_block(False, 0.0, NOW) is LinkBlock.DOWN
    assert link_block(True, NOW + 1, NOW) is LinkBlock.PAUSED
    assert link_block(True, NOW, NOW) is None


@st.composite
def live(draw: st.DrawFn, *, busy: bool | None = None) -> DialConditions:
    """Conditions at random (the link's pause relative to NOW); ``busy`` True: the target has no free agent or
    line, or the link is down or paused; False: none of these."""
    members = draw(st.lists(st.sampled_from([f"PJSIP/{n}" for n in range(201, 206)]), unique=True, max_size=4))
    able = frozenset(members)
    reserved = frozenset(draw(st.lists(st.sampled_from(sorted(able) or ["PJSIP/299"]), unique=True, max_size=3)))
    queue = draw(st.booleans())
    demand = draw(st.integers(0, 3)) if queue else 0
    limit = draw(st.integers(1, 4))
    in_use = draw(st.integers(0, 5))
    connected = draw(st.booleans())
    paused_until = draw(st.sampled_from([0.0, NOW + 5]))
    if busy is False:
        able = able | {"PJSIP/210"}
        reserved = reserved - {"PJSIP/210"}
        demand = min(demand, len(able - reserved) - 1)
        in_use, connected, paused_until = min(in_use, limit - 1), True, 0.0
    target = TargetLoad("2200" if queue else "201", queue, able, reserved, demand)
    found = DialConditions(LinkFacts(connected, "connected", 0.0, None, 0.0, paused_until), limit, in_use, target)
    if busy:
        blocked = link_block(connected, paused_until, NOW) is not None
        assume(blocked or target.free <= 0 or lines_free(limit, in_use) <= 0)
    return found


@settings(max_examples=150, deadline=None)
@given(cases(), live(busy=True))
def test_a_busy_target_or_a_down_link_is_never_dialable_now_and_gives_no_time(
    case: tuple[CampaignRules, NumberFacts, float], snapshot: DialConditions
) -> None:
    rules, number, now = case
    if snapshot.link.paused_until:  # the pause as drawn for NOW, moved to this case's instant
        snapshot = replace(snapshot, link=replace(snapshot.link, paused_until=now + 5))
    verdict = evaluate(rules, number, now, PBX, snapshot)
    without = evaluate(rules, number, now, PBX)
    assert not verdict.allowed and verdict.next_at is None
    assert any(h.kind in LIVE_KINDS and h.until is None for h in verdict.holds)
    assert verdict.earliest_at == without.next_at  # what the other rules allow, unchanged
    assert [h for h in verdict.holds if h.kind not in LIVE_KINDS] == list(without.holds)


@settings(max_examples=100, deadline=None)
@given(cases(), live(busy=False))
def test_free_conditions_change_nothing(
    case: tuple[CampaignRules, NumberFacts, float], snapshot: DialConditions
) -> None:
    rules, number, now = case
    assert snapshot.link.block(now) is None
    assert evaluate(rules, number, now, PBX, snapshot) == evaluate(rules, number, now, PBX)


@settings(max_examples=200, deadline=None)
@given(live())
def test_plan_dials_starts_a_call_exactly_when_eligibility_sees_a_free_agent_and_line(snapshot: DialConditions) -> None:
    target = snapshot.target
    assert target is not None
    task = TaskSlice(
        task_id=CAMPAIGN,
        state=TaskState.OPEN,
        inner_num=target.target,
        needs_agent=True,
        max_channels=snapshot.lines_limit,
        in_progress=snapshot.lines_in_use,
        numbers=[DueNumber(1, NOW - 1), DueNumber(2, NOW - 1)],
    )
    plan = plan_dials(
        DialSnapshot(
            now=NOW,
            tasks=[task],
            free_agents={target.target: target.able},
            reserved=target.reserved,
            numbers_in_call=frozenset(),
            queue_demand={target.target: target.demand} if target.is_queue else {},
        )
    )
    up = DialConditions(UP, snapshot.lines_limit, snapshot.lines_in_use, target)
    verdict = evaluate(CampaignRules(CAMPAIGN), NumberFacts(PHONE, NSK), NOW, PBX, up)
    assert bool(plan.starts) == verdict.allowed
