"""AvailabilityState.agents(): one word per agent for the wallboard, from the same facts dialing uses (the recorded
trace of a call to 201, and synthetic events for pause, DND, unreachable devices and bare queue members)."""

from __future__ import annotations

from itertools import groupby

from tests.adapters.trace_items import trace_events

from autodialer.adapters.asterisk.availability_state import AvailabilityState
from autodialer.domain.live_state import AgentState
from autodialer.protocols.ami import Event, ListResult


def ev(name: str, **fields: str) -> Event:
    return Event.build(name, list(fields.items()))


def primed() -> AvailabilityState:
    state = AvailabilityState()
    for item in trace_events("01"):
        if isinstance(item, ListResult):
            state.apply(item)
    return state


def word(state: AvailabilityState, agent: str) -> AgentState:
    return {a.agent: a.pbx_state for a in state.agents()}[agent]


def test_trace_01_agent_201_goes_free_ringing_talking_free() -> None:
    state = AvailabilityState()
    words: list[object] = []
    for item in trace_events("01"):
        state.apply(item)
        words.append({a.agent: a.pbx_state for a in state.agents()}.get("PJSIP/201"))
    assert [w for w, _ in groupby(words)] == [None, "free", "ringing", "talking", "free"]


def test_agents_carry_their_extension_and_queues() -> None:
    state = primed()
    agents = {a.agent: a for a in state.agents()}
    assert agents["PJSIP/201"].extension == "201"
    assert agents["PJSIP/201"].queues == ("2200",)
    assert agents["PJSIP/202"].pbx_state is AgentState.FREE


def test_paused_in_a_queue_or_on_dnd_is_paused_and_in_a_call_outranks_it() -> None:
    state = primed()
    state.apply(ev("QueueMemberPause", Queue="2200", Interface="PJSIP/201", Paused="1"))
    assert word(state, "PJSIP/201") is AgentState.PAUSED
    state.apply(ev("ExtensionStatus", Exten="201", Context="internal-hints", Hint="PJSIP/201", Status="1"))
    assert word(state, "PJSIP/201") is AgentState.TALKING
    state.apply(ev("UserEvent", UserEvent="DB_UserBuddyStatus", key="202", val="1"))
    assert word(state, "PJSIP/202") is AgentState.PAUSED


def test_unreachable_or_unknown_is_unavailable() -> None:
    state = primed()
    state.apply(ev("PeerStatus", Peer="PJSIP/202", PeerStatus="Unreachable"))
    assert word(state, "PJSIP/202") is AgentState.UNAVAILABLE
    state.apply(ev("ExtensionStatus", Exten="203", Context="internal-hints", Hint="PJSIP/203", Status="4"))
    assert word(state, "PJSIP/203") is AgentState.UNAVAILABLE


def test_a_queue_member_without_a_hint_is_an_agent_of_its_own() -> None:
    state = AvailabilityState()
    state.apply(ev("QueueParams", Queue="sales"))
    state.apply(ev("QueueMember", Queue="sales", Location="SIP/300", StateInterface="SIP/300", Status="6", Paused="0"))
    [agent] = state.agents()
    assert (agent.agent, agent.extension, agent.pbx_state, agent.queues) == ("SIP/300", None, "ringing", ("sales",))
    state.apply(ev("QueueMemberStatus", Queue="sales", Interface="SIP/300", Status="2"))
    assert word(state, "SIP/300") is AgentState.TALKING
