"""AvailabilityState against the field values Asterisk 22 (and MikoPBX) really send, beyond the recorded traces."""

from __future__ import annotations

from tests.adapters.trace_items import trace_events

from autodialer.adapters.asterisk.availability_state import AvailabilityState
from autodialer.protocols.ami import Event, ListResult, Response


def _ev(name: str, **fields: str) -> Event:
    return Event.build(name, list(fields.items()))


def _list(*items: Event) -> ListResult:
    return ListResult(Response.build("Success", [("EventList", "start")]), items, _ev("Complete"))


def _primed() -> AvailabilityState:
    """Trace 01's initial answers: queue 2200 with members PJSIP/201 and PJSIP/202, both Status 1."""
    state = AvailabilityState()
    for item in trace_events("01"):
        if isinstance(item, ListResult):
            state.apply(item)
    return state


def _member_status(interface: str, status: str, paused: str = "0") -> Event:
    # Field set of app_queue's QueueMemberStatus as recorded in trace 01 (agent class).
    return _ev(
        "QueueMemberStatus",
        Queue="2200",
        MemberName=f"Employee {interface[-3:]}",
        Interface=interface,
        StateInterface=interface,
        Membership="static",
        Penalty="0",
        InCall="0",
        Status=status,
        Paused=paused,
        PausedReason="",
        Ringinuse="0",
        Wrapuptime="0",
    )


def test_queue_member_with_unknown_device_state_is_rung_by_app_queue_so_it_is_free() -> None:
    # app_queue.c is_member_available: AST_DEVICE_NOT_INUSE and AST_DEVICE_UNKNOWN (Status 0) are both callable
    # when the member is not paused; the others are not (ringinuse=no in the lab's queues.conf).
    state = _primed()
    state.apply(_member_status("PJSIP/202", "0"))
    assert state.free_agents("2200") == {"PJSIP/201", "PJSIP/202"}
    state.apply(_member_status("PJSIP/202", "0", paused="1"))
    assert state.free_agents("2200") == {"PJSIP/201"}
    for busy in ("2", "3", "4", "5", "6", "7", "8"):
        state.apply(_member_status("PJSIP/202", busy))
        assert state.free_agents("2200") == {"PJSIP/201"}, busy


def test_one_unreachable_contact_of_an_endpoint_with_several_does_not_make_it_absent() -> None:
    # ContactStatus (res_pjsip) is per contact URI; the endpoint stays online, and its device state NOT_INUSE, while
    # any contact is reachable. Only the endpoint-level PeerStatus / DeviceStateChange say it is gone.
    state = _primed()
    state.apply(
        _ev(
            "ContactStatus",
            URI="sip:201@10.0.0.7:5060",
            ContactStatus="Unreachable",
            AOR="201",
            EndpointName="201",
            RoundtripUsec="0",
        )
    )
    assert state.free_agents("201") == {"PJSIP/201"}
    assert state.free_agents("2200") == {"PJSIP/201", "PJSIP/202"}
    state.apply(_ev("PeerStatus", ChannelType="PJSIP", Peer="PJSIP/201", PeerStatus="Unreachable"))
    assert state.free_agents("201") == frozenset()


def test_dnd_key_is_the_last_component_of_the_astdb_key() -> None:
    # MikoPBX reads UserBuddyStatus by the key's basename (older keys were "/UserBuddyStatus/SIP/201"); the
    # UserEvent path already did so, the DBGetTree path must agree.
    state = _primed()
    assert state.apply(_list(_ev("DBGetTreeResponse", Key="/UserBuddyStatus/SIP/201", Val="1")))
    assert state.free_agents("201") == frozenset()
    assert state.free_agents("2200") == {"PJSIP/202"}
    assert state.apply(_list(_ev("DBGetTreeResponse", Key="/UserBuddyStatus/SIP/201", Val="0")))
    assert state.free_agents("201") == {"PJSIP/201"}
    assert not state.apply(_list(_ev("DBGetTreeResponse", Key="/UserBuddyStatus/", Val="1")))
