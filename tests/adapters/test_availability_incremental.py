"""Free and able queue members are kept up to date event by event; they must always equal judging every member
again from the facts (what ``free_agents`` did on every call before, walking every queue member)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.adapters.asterisk.availability_state import AvailabilityState
from autodialer.protocols.ami import Event

EXTENS = ["201", "202", "203"]
DEVICES = ["PJSIP/201", "PJSIP/202", "PJSIP/203", "PJSIP/201-WS", "PJSIP/204"]
QUEUES = ["q1", "q2"]
INTERFACES = ["Local/201@internal/n", "Local/202@internal/n", "PJSIP/203", "PJSIP/204", "Local/203@internal/n"]
STATE_INTERFACES = [
    "hint:201@internal-hints",
    "hint:202@internal-hints",
    "hint:203@internal-hints",
    "PJSIP/203",
    "PJSIP/204",
]
DEVICE_STATES = ["NOT_INUSE", "INUSE", "BUSY", "RINGING", "UNAVAILABLE", "UNKNOWN", "ONHOLD"]


def _ev(name: str, fields: list[tuple[str, str]]) -> Event:
    return Event.build(name, fields)


events = st.one_of(
    st.builds(
        lambda e, status, hint: _ev("ExtensionStatus", [("Exten", e), ("Status", str(status)), ("Hint", hint)]),
        st.sampled_from(EXTENS),
        st.sampled_from([0, 0, 0, 1, 8, -1]),
        st.sampled_from(["", "PJSIP/201", "PJSIP/202", "PJSIP/203", "PJSIP/201&PJSIP/201-WS", "PJSIP/204&PJSIP/202"]),
    ),
    st.builds(
        lambda d, s: _ev("DeviceStateChange", [("Device", d), ("State", s)]),
        st.sampled_from(DEVICES),
        st.sampled_from(DEVICE_STATES),
    ),
    st.builds(
        lambda d, s: _ev("PeerStatus", [("Peer", d), ("PeerStatus", s)]),
        st.sampled_from(DEVICES),
        st.sampled_from(["Reachable", "Unreachable"]),
    ),
    st.builds(
        lambda e, v: _ev("UserEvent", [("UserEvent", "DB_UserBuddyStatus"), ("key", e), ("val", v)]),
        st.sampled_from(EXTENS),
        st.sampled_from(["0", "1"]),
    ),
    st.builds(
        lambda name, q, i, si, status, paused: _ev(
            name, [("Queue", q), ("Interface", i), ("StateInterface", si), ("Status", str(status)), ("Paused", paused)]
        ),
        st.sampled_from(["QueueMemberAdded", "QueueMemberStatus", "QueueMember"]),
        st.sampled_from(QUEUES),
        st.sampled_from(INTERFACES),
        st.sampled_from(STATE_INTERFACES),
        st.sampled_from([0, 1, 1, 1, 2, 5, 6]),
        st.sampled_from(["0", "0", "1"]),
    ),
    st.builds(
        lambda name, q, i: _ev(name, [("Queue", q), ("Interface", i), ("Paused", "1" if name.endswith("e") else "0")]),
        st.sampled_from(["QueueMemberRemoved", "QueueMemberPause"]),
        st.sampled_from(QUEUES),
        st.sampled_from(INTERFACES),
    ),
    st.builds(
        lambda name, q, i, uid: _ev(name, [("Queue", q), ("Interface", i), ("Uniqueid", uid), ("Linkedid", uid)]),
        st.sampled_from(["AgentCalled", "AgentRingNoAnswer", "AgentConnect"]),
        st.sampled_from(QUEUES),
        st.sampled_from(INTERFACES),
        st.sampled_from(["c1", "c2"]),
    ),
    st.builds(lambda q: _ev("QueueParams", [("Queue", q)]), st.sampled_from(QUEUES)),
)


def _scanned(state: AvailabilityState, queue: str, able: bool) -> frozenset[str]:
    """Every member judged again (the rule itself, as free_agents and queue_load applied it on every call)."""
    members = state._queues.get(queue, {}).values()
    if able:
        return frozenset(state._member_key(m) for m in members if state._member_able(queue, m))
    return frozenset(state._member_key(m) for m in members if state._member_free(m))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(events, st.sampled_from([True, True, True, False])), min_size=1, max_size=60))
def test_kept_free_and_able_members_equal_judging_every_member_again(history: list[tuple[Event, bool]]) -> None:
    state = AvailabilityState()
    for event, ask in history:
        state.apply(event)
        if ask:  # asked between some events only: what changed meanwhile piles up
            for queue in QUEUES:
                assert state.free_agents(queue) == _scanned(state, queue, able=False)
                load = state.queue_load(queue)
                if load is not None:
                    assert load.able == _scanned(state, queue, able=True)
    for queue in QUEUES:
        assert state.free_agents(queue) == _scanned(state, queue, able=False)
    state.clear()
    assert state.free_agents("q1") == frozenset()


def _e(name: str, **fields: str) -> Event:
    return Event.build(name, list(fields.items()))


def test_a_hint_device_changing_changes_the_members_of_its_extension() -> None:
    state = AvailabilityState()
    state.apply(_e("ExtensionStatus", Exten="201", Status="0", Hint="PJSIP/201&PJSIP/201-WS"))
    member = {"Queue": "q1", "Interface": "Local/201@internal/n", "StateInterface": "hint:201@internal-hints"}
    state.apply(_e("QueueMemberAdded", **member, Status="1", Paused="0"))
    assert state.free_agents("q1") == {"PJSIP/201"}
    state.apply(_e("DeviceStateChange", Device="PJSIP/201-WS", State="INUSE"))  # its second device
    assert state.free_agents("q1") == frozenset()
    state.apply(_e("DeviceStateChange", Device="PJSIP/201-WS", State="NOT_INUSE"))
    state.apply(_e("UserEvent", UserEvent="DB_UserBuddyStatus", key="201", val="1"))  # do-not-disturb
    assert state.free_agents("q1") == frozenset()


def test_a_member_rung_for_the_queues_caller_stays_able() -> None:
    state = AvailabilityState()
    state.apply(_e("QueueMemberAdded", Queue="q1", Interface="PJSIP/204", StateInterface="PJSIP/204", Status="1"))
    assert state.queue_load("q1") is not None
    state.apply(_e("AgentCalled", Queue="q1", Interface="PJSIP/204", Uniqueid="c1", Linkedid="c1"))
    state.apply(_e("DeviceStateChange", Device="PJSIP/204", State="RINGING"))
    load = state.queue_load("q1")
    assert load is not None and load.able == {"PJSIP/204"} and state.free_agents("q1") == frozenset()
    state.apply(_e("AgentRingNoAnswer", Queue="q1", Interface="PJSIP/204", Uniqueid="c1"))
    load = state.queue_load("q1")
    assert load is not None and load.able == frozenset()
