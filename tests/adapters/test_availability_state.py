"""AvailabilityState fed the recorded traces and small synthetic events."""

from __future__ import annotations

from itertools import groupby

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.adapters.trace_items import trace_events

from autodialer.adapters.asterisk.availability_state import AvailabilityState
from autodialer.protocols.ami import Event, ListResult, Response

STATE_EVENTS = {"ExtensionStatus", "DeviceStateChange", "QueueMemberStatus"}


def _initial_lists() -> list[ListResult]:
    """The ExtensionStateList, DeviceStateList, PJSIPShowEndpoints and QueueStatus answers recorded in trace 01."""
    return [i for i in trace_events("01") if isinstance(i, ListResult)]


def _primed() -> AvailabilityState:
    state = AvailabilityState()
    for result in _initial_lists():
        state.apply(result)
    return state


def _compressed(values: list[object]) -> list[object]:
    return [v for v, _ in groupby(values)]


def test_trace_01_extension_201_goes_idle_ringing_in_use_idle() -> None:
    state = AvailabilityState()
    statuses: list[object] = []
    free: list[object] = []
    for item in trace_events("01"):
        state.apply(item)
        statuses.append(state.extension_status("201"))
        free.append(state.free_agents("201"))
    assert _compressed(statuses) == [None, 0, 8, 1, 0]
    assert _compressed(free) == [frozenset(), {"PJSIP/201"}, frozenset(), {"PJSIP/201"}]
    assert state.free_agents("202") == {"PJSIP/202"}


def test_initial_queries_know_queue_members_and_hints() -> None:
    state = _primed()
    assert state.free_agents("2200") == {"PJSIP/201", "PJSIP/202"}
    assert state.free_agents("201") == {"PJSIP/201"}
    assert state.free_agents("999") == frozenset()
    member = state.queue_member("2200", "PJSIP/201")
    assert member is not None and member.status == 1 and not member.paused


def test_trace_12_queue_2200_members_ring_then_201_takes_the_call() -> None:
    state = _primed()
    free: list[object] = [state.free_agents("2200")]
    for item in trace_events("12"):
        state.apply(item)
        free.append(state.free_agents("2200"))
    assert _compressed(free) == [
        {"PJSIP/201", "PJSIP/202"},
        {"PJSIP/202"},  # 201 rings first
        frozenset(),  # both ring (ringall)
        {"PJSIP/202"},  # 201 answered, 202 is cancelled
        {"PJSIP/201", "PJSIP/202"},
    ]


def _change_groups(trace: str) -> list[tuple[bool, list[Event | ListResult]]]:
    """The trace split into runs; a run of consecutive state events is one state change (or a few at once)."""
    key = lambda i: isinstance(i, Event) and i.name in STATE_EVENTS  # noqa: E731
    return [(is_state, list(run)) for is_state, run in groupby(trace_events(trace), key=key)]


@settings(max_examples=50, deadline=None)
@given(data=st.data(), trace=st.sampled_from(["01", "02-originate-answer-bridge-customer-hangup", "06", "12"]))
def test_any_order_of_the_events_of_one_change_converges(data: st.DataObject, trace: str) -> None:
    baseline, shuffled = _primed(), _primed()
    for is_state, group in _change_groups(trace):
        for item in group:
            baseline.apply(item)
        for item in data.draw(st.permutations(group)) if is_state else group:
            shuffled.apply(item)
        assert shuffled.snapshot() == baseline.snapshot()
        assert shuffled.free_agents("2200") == baseline.free_agents("2200")
        assert shuffled.free_agents("201") == baseline.free_agents("201")


def _ev(name: str, **fields: str) -> Event:
    return Event.build(name, list(fields.items()))


def _list(*items: Event) -> ListResult:
    return ListResult(Response.build("Success", [("EventList", "start")]), items, _ev("Complete"))


def test_dnd_from_db_tree_and_user_event() -> None:
    state = _primed()
    assert state.apply(_list(_ev("DBGetTreeResponse", Key="/UserBuddyStatus/201", Val="1")))
    assert state.free_agents("201") == frozenset()
    assert state.free_agents("2200") == {"PJSIP/202"}
    assert state.apply(_ev("UserEvent", UserEvent="DB_UserBuddyStatus", key="201", val="0"))
    assert state.free_agents("201") == {"PJSIP/201"}
    state.apply(_ev("UserEvent", UserEvent="DB_UserBuddyStatus", key="UserBuddyStatus/202", val="busy"))
    assert state.free_agents("2200") == {"PJSIP/201"}
    # Other families and other user events are not DND.
    assert not state.apply(_list(_ev("DBGetTreeResponse", Key="/dialer/201", Val="1")))
    assert not state.apply(_ev("UserEvent", UserEvent="DialerAMD", key="201", val="1"))


def test_unreachable_and_unavailable_devices_are_not_free() -> None:
    state = _primed()
    state.apply(_ev("PeerStatus", ChannelType="PJSIP", Peer="PJSIP/201", PeerStatus="Unreachable"))
    assert state.free_agents("201") == frozenset()
    assert state.free_agents("2200") == {"PJSIP/202"}
    state.apply(_ev("PeerStatus", ChannelType="PJSIP", Peer="PJSIP/201", PeerStatus="Reachable"))
    assert state.free_agents("201") == {"PJSIP/201"}
    state.apply(_list(_ev("EndpointList", ObjectName="202", DeviceState="Unavailable")))
    assert state.free_agents("202") == frozenset()


def test_queue_pause_add_and_remove() -> None:
    state = _primed()
    state.apply(_ev("QueueMemberPause", Queue="2200", Interface="PJSIP/202", Paused="1"))
    assert state.free_agents("2200") == {"PJSIP/201"}
    state.apply(_ev("QueueMemberRemoved", Queue="2200", Interface="PJSIP/201"))
    assert state.free_agents("2200") == frozenset()
    state.apply(
        _ev("QueueMemberAdded", Queue="2200", Interface="Local/203@internal/n", StateInterface="PJSIP/203", Status="1")
    )
    assert state.free_agents("2200") == {"PJSIP/203"}


def test_hint_survives_empty_boot_time_hint_and_removal_forgets_it() -> None:
    state = _primed()
    state.apply(_ev("ExtensionStatus", Exten="201", Context="internal", Hint="", Status="0"))
    assert state.free_agents("201") == {"PJSIP/201"}
    state.apply(_ev("ExtensionStatus", Exten="201", Context="internal", Hint="PJSIP/201", Status="-1"))
    assert state.free_agents("201") == frozenset()


def test_every_hint_device_must_be_free() -> None:
    state = AvailabilityState()
    state.apply(_ev("ExtensionStatus", Exten="301", Hint="PJSIP/301&PJSIP/301-mobile", Status="0"))
    assert state.free_agents("301") == {"PJSIP/301"}
    state.apply(_ev("DeviceStateChange", Device="PJSIP/301-mobile", State="INUSE"))
    assert state.free_agents("301") == frozenset()
    state.apply(_ev("DeviceStateChange", Device="PJSIP/301-mobile", State="UNKNOWN"))
    assert state.free_agents("301") == {"PJSIP/301"}
    state.apply(_ev("ExtensionStatus", Exten="301", Hint="PJSIP/301&PJSIP/301-mobile", Status="16"))
    assert state.free_agents("301") == frozenset()


def test_unrelated_events_change_nothing() -> None:
    state = _primed()
    before = state.snapshot()
    assert not state.apply(_ev("Newchannel", Channel="PJSIP/201-00000001", Uniqueid="x", Linkedid="x"))
    # One pseudo-device per dialled number would grow forever; they are nobody's phone.
    assert not state.apply(_ev("DeviceStateChange", Device="Local/5551001@dialer-out", State="INUSE"))
    assert not state.apply(_ev("DeviceStateChange", Device="Queue:2200_avail", State="INUSE"))
    # A repeated state is no change (on_change listeners are not woken for nothing).
    assert not state.apply(_ev("DeviceStateChange", Device="PJSIP/201", State="NOT_INUSE"))
    assert not state.apply(_list(*[i for r in _initial_lists() for i in r.items]))
    assert state.snapshot() == before
    assert state.apply(_ev("DeviceStateChange", Device="PJSIP/201", State="INUSE"))
    state.clear()
    assert state.free_agents("2200") == frozenset()


def _mikopbx_like() -> AvailabilityState:
    """MikoPBX's layout: hints with a WebRTC device, queues named by id, members Local/…/n with hint: interfaces."""
    state = AvailabilityState()
    for exten in ("201", "202"):
        hint = f"PJSIP/{exten}&PJSIP/{exten}-WS"
        state.apply(_ev("ExtensionStatus", Exten=exten, Context="internal-hints", Hint=hint, Status="0"))
        state.apply(_ev("DeviceStateChange", Device=f"PJSIP/{exten}", State="NOT_INUSE"))
        state.apply(_ev("DeviceStateChange", Device=f"PJSIP/{exten}-WS", State="UNAVAILABLE"))
    members = [
        _ev(
            "QueueMember",
            Queue="QUEUE-1A2B3C",
            Location=f"Local/{e}@internal/n",
            StateInterface=f"hint:{e}@internal-hints",
            Status="1",
            Paused="0",
        )
        for e in ("201", "202")
    ]
    state.apply(_list(_ev("QueueParams", Queue="QUEUE-1A2B3C"), *members))
    state.apply(
        _list(
            _ev(
                "ListDialplan", Context="internal", Extension="2200", Priority="1", Application="NoOp", AppData="Start"
            ),
            _ev(
                "ListDialplan",
                Context="internal",
                Extension="2200",
                Priority="8",
                Application="Queue",
                AppData="QUEUE-1A2B3C,kT",
            ),
            _ev(
                "ListDialplan",
                Context="internal",
                Extension="2300",
                Priority="2",
                Application="Queue",
                AppData="${Q},kT",
            ),
        )
    )
    return state


def test_mikopbx_queue_number_maps_to_its_id_and_members_to_their_extensions() -> None:
    state = _mikopbx_like()
    assert state.free_agents("201") == {"PJSIP/201"}  # the absent WebRTC device does not block
    assert state.free_agents("2200") == {"PJSIP/201", "PJSIP/202"}
    assert state.free_agents("QUEUE-1A2B3C") == {"PJSIP/201", "PJSIP/202"}
    assert state.free_agents("2300") == frozenset()  # a queue chosen at run time is not guessed
    state.apply(_ev("UserEvent", UserEvent="DB_UserBuddyStatus", key="202", val="1"))
    assert state.free_agents("2200") == {"PJSIP/201"}
    state.apply(_ev("DeviceStateChange", Device="PJSIP/201-WS", State="INUSE"))  # talking on the web phone
    assert state.free_agents("201") == frozenset()
    assert state.free_agents("2200") == frozenset()


def test_an_extension_with_every_device_absent_is_not_free() -> None:
    state = _mikopbx_like()
    state.apply(_ev("DeviceStateChange", Device="PJSIP/202", State="UNAVAILABLE"))
    assert state.free_agents("202") == frozenset()
    assert state.free_agents("2200") == {"PJSIP/201"}


def test_trace_12_queue_load_counts_members_ringing_for_the_queue_caller_as_able() -> None:
    state = _primed()
    loads = [state.queue_load("2200")]
    for item in trace_events("12"):
        state.apply(item)
        loads.append(state.queue_load("2200"))
    able = _compressed([load.able if load else None for load in loads])
    # Both members ring for the caller of the queue: still its capacity. Once 201 takes the call it is busy; 202,
    # cancelled, still says "ringing" until its status arrives a moment later, and stays able all along: the queue
    # never looks busy to a second customer answering in the middle of this.
    assert able == [{"PJSIP/201", "PJSIP/202"}, {"PJSIP/202"}, {"PJSIP/201", "PJSIP/202"}]
    callers = _compressed([load.callers if load else None for load in loads])
    assert callers == [frozenset(), {"dlr-30e37f004aa4"}, frozenset()]
    served = _compressed([load.served if load else None for load in loads])
    assert served == [frozenset(), {"dlr-30e37f004aa4"}, frozenset()]
    assert state.queue_load("201") is None and state.queue_load("999") is None


def test_queue_load_callers_from_events_and_from_queue_status() -> None:
    state = _primed()
    state.apply(_ev("QueueCallerJoin", Queue="2200", Uniqueid="u-1", Linkedid="dlr-1", Position="1"))
    state.apply(_list(_ev("QueueEntry", Queue="2200", Uniqueid="u-2", Position="2")))
    load = state.queue_load("2200")
    assert load is not None and load.callers == {"dlr-1", "u-2"}
    state.apply(_ev("AgentCalled", Queue="2200", Uniqueid="u-1", Linkedid="dlr-1", Interface="PJSIP/201"))
    state.apply(_ev("QueueMemberStatus", Queue="2200", Interface="PJSIP/201", Status="6"))
    state.apply(_ev("QueueMemberStatus", Queue="2200", Interface="PJSIP/202", Status="2"))
    assert state.queue_load("2200") == load.__class__(frozenset({"PJSIP/201"}), load.callers, frozenset())
    state.apply(_ev("AgentRingNoAnswer", Queue="2200", Uniqueid="u-1", Interface="PJSIP/201"))
    still_ringing = state.queue_load("2200")
    assert still_ringing is not None and still_ringing.able == frozenset()  # ringing for nobody of the queue
    state.apply(_ev("QueueCallerAbandon", Queue="2200", Uniqueid="u-2"))
    state.apply(_ev("QueueCallerLeave", Queue="2200", Uniqueid="u-2"))
    state.apply(_ev("QueueCallerLeave", Queue="2200", Uniqueid="u-1", Linkedid="dlr-1"))
    state.apply(_ev("AgentConnect", Queue="2200", Uniqueid="u-1", Linkedid="dlr-1", Interface="PJSIP/201"))
    after = state.queue_load("2200")
    assert after is not None and after.callers == frozenset() and after.served == {"dlr-1"}
    assert state.apply(_ev("Hangup", Uniqueid="u-1", Linkedid="dlr-1"))
    assert state.queue_load("2200") == load.__class__(frozenset(), frozenset(), frozenset())


def test_queue_load_members_paused_on_dnd_or_unreachable_are_not_able() -> None:
    state = _mikopbx_like()
    load = state.queue_load("2200")
    assert load is not None and load.able == {"PJSIP/201", "PJSIP/202"}
    state.apply(_ev("UserEvent", UserEvent="DB_UserBuddyStatus", key="202", val="1"))
    state.apply(_ev("QueueMemberPause", Queue="QUEUE-1A2B3C", Interface="Local/201@internal/n", Paused="1"))
    paused = state.queue_load("QUEUE-1A2B3C")
    assert paused is not None and paused.able == frozenset()
