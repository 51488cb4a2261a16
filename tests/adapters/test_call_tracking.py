"""CallTracker against the recorded Asterisk 22 traces: the domain call events each call produces, exactly once,
whatever the position of OriginateResponse among the call's channel events."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.adapters.trace_items import trace_events

from autodialer.adapters.asterisk.call_tracking import CallTracker, customer_outcome
from autodialer.domain.call_events import (
    AgentConnected,
    CallEnded,
    CallEvent,
    CustomerAnswered,
    CustomerFailed,
    CustomerOutcome,
    CustomerRinging,
)
from autodialer.protocols.ami import Event

OC = CustomerOutcome


def _failed(call_id: str, outcome: CustomerOutcome, cause: int | None, text: str, dial: str | None) -> CustomerFailed:
    return CustomerFailed(call_id, outcome, cause, text, dial)


def _answered(call_id: str, channel: str) -> CustomerAnswered:
    return CustomerAnswered(call_id, linked_id=call_id, channel=channel)


EXPECTED: dict[str, list[CallEvent]] = {
    "02-originate-answer-bridge-customer-hangup": [
        CustomerRinging("dlr-68c70912c8de"),
        _answered("dlr-68c70912c8de", "Local/5551001@dialer-out-000007d0;1"),
        AgentConnected("dlr-68c70912c8de"),  # ;1's DialEnd to PJSIP/201, DialStatus ANSWER
        CallEnded("dlr-68c70912c8de", 16, "Normal Clearing"),
    ],
    "03": [_failed("dlr-72fc7bd0783c", OC.BUSY, 17, "User busy", "BUSY")],
    "04": [
        CustomerRinging("dlr-2bc08d14894c"),
        _failed("dlr-2bc08d14894c", OC.NO_ANSWER, 19, "User alerting, no answer", "CANCEL"),
    ],
    "05": [
        _failed("dlr-e3a04bed5bb1", OC.CONGESTION, 34, "Circuit/channel congestion", "CONGESTION"),
        _failed("dlr-cfb844a0dd0f", OC.UNALLOCATED, 1, "Unallocated (unassigned) number", "NOANSWER"),
        _failed("dlr-19fa02bbd645", OC.NO_ROUTE, 0, "Unknown", None),
        _failed("dlr-badendpoint", OC.PROVIDER_UNAVAILABLE, None, "", None),
    ],
    "06": [
        CustomerRinging("dlr-13832ba0c9c4"),
        _answered("dlr-13832ba0c9c4", "Local/5551003@dialer-out-000007d7;1"),
        CallEnded("dlr-13832ba0c9c4", 16, "Normal Clearing"),
        CustomerRinging("dlr-a46254a8e55c"),
        _answered("dlr-a46254a8e55c", "Local/5551003@dialer-out-000007d8;1"),
        CallEnded("dlr-a46254a8e55c", 16, "Normal Clearing"),
    ],
    "10": [
        _failed("direct-5551486", OC.BUSY, 17, "User busy", "BUSY"),
        _failed("direct-5551503", OC.CONGESTION, 34, "Circuit/channel congestion", "CONGESTION"),
        _failed("direct-5551404", OC.UNALLOCATED, 1, "Unallocated (unassigned) number", "NOANSWER"),
        CustomerRinging("direct-5551999"),
        _failed("direct-5551999", OC.NO_ANSWER, 19, "User alerting, no answer", None),
        CustomerRinging("direct-5551001"),
        _answered("direct-5551001", "PJSIP/trunk-00000016"),
        CallEnded("direct-5551001", 0, "Unknown"),
    ],
    "11": [_answered("sample-10", "Local/10@load-00000000;1"), CallEnded("sample-10", 16, "Normal Clearing")],
    "12": [
        CustomerRinging("dlr-30e37f004aa4"),
        _answered("dlr-30e37f004aa4", "Local/5551001@dialer-out-000007dc;1"),
        AgentConnected("dlr-30e37f004aa4"),  # Queue(2200): ;1's DialEnd to the member, DialStatus ANSWER
        CallEnded("dlr-30e37f004aa4", 16, "Normal Clearing"),
    ],
}


def _events(trace: str) -> list[Event]:
    return [e for e in trace_events(trace) if isinstance(e, Event)]


def _run(events: list[Event], call_ids: set[str]) -> list[CallEvent]:
    tracker = CallTracker()
    for call_id in call_ids:
        tracker.expect(call_id)
    out: list[CallEvent] = []
    for event in events:
        out.extend(tracker.feed(event))
    for call_id in sorted(call_ids):  # the gateway's grace timer: a failure still without channels gives up
        out.extend(tracker.channels_overdue(call_id))
    return out


def _call_ids(trace: str) -> set[str]:
    return {e.call_id for e in EXPECTED[trace]}


@pytest.mark.parametrize("trace", sorted(EXPECTED))
def test_trace_produces_the_expected_call_events(trace: str) -> None:
    assert _run(_events(trace), _call_ids(trace)) == EXPECTED[trace]


def test_calls_we_did_not_originate_are_ignored() -> None:
    # Trace 01 originates PJSIP/201 (ChannelId state-test-201) outside the dialer; trace 02 has one of ours.
    assert _run(_events("01"), set()) == []
    assert _run(_events("02-originate-answer-bridge-customer-hangup"), set()) == []


def test_originate_response_matched_by_action_id_when_uniqueid_is_unknown() -> None:
    tracker = CallTracker()
    tracker.expect("c1", action_id="orig-c1")
    response = Event.build("OriginateResponse", [("Response", "Failure"), ("Reason", "0")], action_id="orig-c1")
    assert tracker.originate_call_id(response) == "c1"
    assert tracker.feed(response) == []  # its channels' events may still be on their way
    assert tracker.awaiting_channels("c1")
    assert tracker.channels_overdue("c1") == [_failed("c1", OC.PROVIDER_UNAVAILABLE, None, "", None)]
    assert not tracker.is_tracking("c1")
    assert tracker.channels_overdue("c1") == []


def test_a_failure_that_overtakes_its_channels_waits_for_their_causes() -> None:
    """OriginateResponse reaches AMI directly, channel events through stasis: a no-route failure may be reported
    before its Local pair's Newchannel; it must still end as NO_ROUTE, decided by the channels' causes."""
    call_id = "dlr-19fa02bbd645"
    own = [e for e in _events("05") if e.get("Linkedid") == call_id or e.get("Uniqueid") == call_id]
    response = next(e for e in own if e.name == "OriginateResponse")
    tracker = CallTracker()
    tracker.expect(call_id)
    assert tracker.feed(response) == [] and tracker.awaiting_channels(call_id)
    out = [event for e in own if e is not response for event in tracker.feed(e)]
    assert out == [_failed(call_id, OC.NO_ROUTE, 0, "Unknown", None)]
    assert not tracker.awaiting_channels(call_id) and tracker.channels_overdue(call_id) == []


def test_events_after_the_terminal_event_are_ignored() -> None:
    events = _events("03")
    assert _run(events + events, _call_ids("03")) == EXPECTED["03"]


def test_live_channels_follow_newchannel_and_hangup() -> None:
    tracker = CallTracker()
    tracker.expect("dlr-68c70912c8de")
    seen: set[tuple[str, ...]] = set()
    for event in _events("02-originate-answer-bridge-customer-hangup"):
        tracker.feed(event)
        seen.add(tracker.live_channels("dlr-68c70912c8de"))
    assert (
        "Local/5551001@dialer-out-000007d0;1",
        "Local/5551001@dialer-out-000007d0;2",
        "PJSIP/trunk-00000005",
        "PJSIP/201-00000006",
    ) in seen
    assert tracker.live_channels("dlr-68c70912c8de") == ()


@settings(max_examples=60, deadline=None)
@given(data=st.data(), trace=st.sampled_from(sorted(EXPECTED)))
def test_originate_response_position_does_not_change_the_outcome(data: st.DataObject, trace: str) -> None:
    events = _events(trace)
    responses = [i for i, e in enumerate(events) if e.name == "OriginateResponse"]
    index = data.draw(st.sampled_from(responses))
    moved = events.pop(index)
    call_id = moved.get("Uniqueid")
    # Anywhere up to just after the call's last event: OriginateResponse may even overtake the Newchannel of the
    # channel it reports on (it skips stasis), and it never comes after the call is over by more than that.
    lo = 0
    last_own = max((i for i, e in enumerate(events) if e.get("Linkedid") == call_id), default=lo)
    events.insert(data.draw(st.integers(lo, max(lo, last_own + 1))), moved)

    out = _run(events, _call_ids(trace))
    expected = EXPECTED[trace]
    for call_id in _call_ids(trace):
        # Per call, everything but CustomerRinging is identical; Ringing can only vanish if the answer comes first.
        assert [e for e in out if e.call_id == call_id and not isinstance(e, CustomerRinging)] == [
            e for e in expected if e.call_id == call_id and not isinstance(e, CustomerRinging)
        ]
        mine = [type(e) for e in out if e.call_id == call_id]
        assert mine.count(CustomerRinging) <= 1
        assert mine[-1] in (CustomerFailed, CallEnded)
        assert sum(t in (CustomerFailed, CallEnded) for t in mine) == 1
        assert mine in (
            [CustomerRinging, CustomerFailed],
            [CustomerFailed],
            [CustomerRinging, CustomerAnswered, CallEnded],
            [CustomerAnswered, CallEnded],
            [CustomerRinging, CustomerAnswered, AgentConnected, CallEnded],
            [CustomerAnswered, AgentConnected, CallEnded],
        )


@pytest.mark.parametrize(
    ("reason", "cause", "dial", "channel", "leg", "outcome"),
    [
        (0, 17, "BUSY", True, True, OC.BUSY),
        (0, 34, "CONGESTION", True, True, OC.CONGESTION),
        (0, 1, "NOANSWER", True, True, OC.UNALLOCATED),
        (3, 19, "CANCEL", True, True, OC.NO_ANSWER),
        (3, 19, "NOANSWER", True, True, OC.NO_ANSWER),
        (0, 0, None, True, False, OC.NO_ROUTE),
        (0, 16, None, True, False, OC.NO_ROUTE),  # MikoPBX: "cannot complete" played, then a normal clearing
        (3, 16, None, True, False, OC.NO_ANSWER),
        (0, 20, None, True, False, OC.PROVIDER_UNAVAILABLE),
        (0, 3, None, True, False, OC.PROVIDER_UNAVAILABLE),  # Dial could not create the trunk channel (chan_pjsip)
        (0, None, None, False, False, OC.PROVIDER_UNAVAILABLE),
        (0, 66, "CHANUNAVAIL", True, False, OC.PROVIDER_UNAVAILABLE),
        (0, 38, None, True, True, OC.PROVIDER_UNAVAILABLE),
        (5, 0, None, True, True, OC.BUSY),
        (8, 0, None, True, True, OC.CONGESTION),
        (0, 21, "ANSWER", True, True, OC.FAILED),
    ],
)
def test_outcome_table(
    reason: int, cause: int | None, dial: str | None, channel: bool, leg: bool, outcome: CustomerOutcome
) -> None:
    result = customer_outcome(reason=reason, cause=cause, dial_status=dial, had_channel=channel, had_customer_leg=leg)
    assert result == outcome


@settings(max_examples=30, deadline=None)
@given(data=st.data(), traces=st.lists(st.sampled_from(sorted(EXPECTED)), min_size=2, max_size=3, unique=True))
def test_concurrent_calls_do_not_disturb_each_other(data: st.DataObject, traces: list[str]) -> None:
    """Events of several calls interleaved in any way (each call's own order kept) give each call its own events."""
    queues = [_events(t) for t in traces]
    merged: list[Event] = []
    while any(queues):
        queue = data.draw(st.sampled_from([q for q in queues if q]))
        merged.append(queue.pop(0))
    call_ids = set().union(*(_call_ids(t) for t in traces))
    out = _run(merged, call_ids)
    for trace in traces:
        for call_id in _call_ids(trace):
            assert [e for e in out if e.call_id == call_id] == [e for e in EXPECTED[trace] if e.call_id == call_id]


def _with_tech_causes(trace: str, causes: dict[str, str]) -> list[Event]:
    """The trace with our snippet's hangup-handler UserEvents added where Asterisk sends them: just before the
    customer half's (;2) Hangup."""
    events = _events(trace)
    call_id = next(iter(_call_ids(trace)))
    at = next(i for i, e in enumerate(events) if e.name == "Hangup" and e.get("Uniqueid") == f"{call_id}-2")
    reports = [
        Event.build(
            "UserEvent",
            [
                ("Channel", events[at].get("Channel") or ""),
                ("Uniqueid", f"{call_id}-2"),
                ("Linkedid", call_id),
                ("UserEvent", "DialerHangupCause"),
                ("Peer", peer),
                ("TechCause", cause),
            ],
        )
        for peer, cause in causes.items()
    ]
    return events[:at] + reports + events[at:]


def _trunk(trace: str) -> str:
    return next(
        c for e in _events(trace) if e.name == "DialBegin" and (c := e.get("DestChannel") or "").startswith("PJSIP/")
    )


def test_the_provider_tech_cause_reported_by_the_dialplan_is_kept() -> None:
    trunk = _trunk("03")
    [failed] = _run(_with_tech_causes("03", {trunk: "SIP%20486%20Busy%20Here"}), _call_ids("03"))
    assert isinstance(failed, CustomerFailed) and failed.tech_cause == "SIP 486 Busy Here"
    assert (failed.cause, failed.cause_text) == (17, "User busy")  # the Q.850 cause stays for the outcome
    ended = _run(
        _with_tech_causes(
            "02-originate-answer-bridge-customer-hangup",
            {_trunk("02-originate-answer-bridge-customer-hangup"): "SIP%20200%20OK"},
        ),
        _call_ids("02-originate-answer-bridge-customer-hangup"),
    )[-1]
    assert isinstance(ended, CallEnded) and ended.tech_cause == "SIP 200 OK"
    assert EXPECTED["03"][0].tech_cause is None  # without the snippet's handler: none


def test_with_several_providers_tried_the_one_dialled_last_gives_the_cause() -> None:
    trunk = _trunk("03")
    causes = {trunk: "SIP%20486%20Busy%20Here", "PJSIP/backup-00000001": "SIP%20503%20Service%20Unavailable"}
    [failed] = _run(_with_tech_causes("03", causes), _call_ids("03"))
    assert isinstance(failed, CustomerFailed) and failed.tech_cause == "SIP 486 Busy Here"  # the only one dialled


def test_calls_hung_up_by_a_pbx_shutdown_say_so() -> None:
    """channel.c ast_softhangup_all (core stop/restart) sends SoftHangupRequest Cause 4 on every channel first."""
    events = _events("02-originate-answer-bridge-customer-hangup")
    call_id = "dlr-68c70912c8de"
    first_hangup = next(i for i, e in enumerate(events) if e.name == "Hangup")
    shutdown = Event.build(
        "SoftHangupRequest", [("Channel", "PJSIP/trunk-00000001"), ("Linkedid", call_id), ("Cause", "4")]
    )
    out = _run([*events[:first_hangup], shutdown, *events[first_hangup:]], {call_id})
    assert out[-1] == CallEnded(call_id, 16, "Normal Clearing", pbx_shutdown=True)
    assert _run(events, {call_id})[-1] == CallEnded(call_id, 16, "Normal Clearing")
