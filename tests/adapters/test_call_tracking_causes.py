"""Customer outcomes for trunk rejections the traces do not show, with the event shapes a real Asterisk 22 sends.

The recorded 404 call of trace 05 (cause 1, DialEnd NOANSWER) is replayed with the causes chan_pjsip gives other SIP
final responses (hangup_sip2cause: 500 -> 38, 502 -> 27, 420 -> 3; cause 42 from an ISDN-style trunk). Dial reports
``ast_hangup_cause_to_dial_status(cause)`` (main/dial.c) as the DialEnd DialStatus: BUSY for 17, CONGESTION for 34,
CHANUNAVAIL for 3/20 and NOANSWER for everything else, so these calls arrive with DialStatus NOANSWER, exactly as
the 404 did. The cause must still decide, as it does for the 404 (UNALLOCATED, not NO_ANSWER).
"""

from __future__ import annotations

import pytest
from tests.adapters.trace_items import trace_events

from autodialer.adapters.asterisk.call_tracking import CallTracker, customer_outcome
from autodialer.domain.call_events import CallEvent, CustomerFailed, CustomerOutcome
from autodialer.protocols.ami import Event

OC = CustomerOutcome
CALL_404 = "dlr-cfb844a0dd0f"  # trace 05: Local/5551404@dialer-out, the trunk answered 404


def _dial_status(cause: int) -> str:
    """main/dial.c ast_hangup_cause_to_dial_status."""
    return {17: "BUSY", 34: "CONGESTION", 3: "CHANUNAVAIL", 20: "CHANUNAVAIL"}.get(cause, "NOANSWER")


def _with_cause(event: Event, cause: int, text: str) -> Event:
    out: list[tuple[str, str]] = []
    for key, value in event.fields:
        if key == "Cause":
            value = str(cause)
        elif key == "Cause-txt":
            value = text
        elif key == "DialStatus":
            value = _dial_status(cause)
        out.append((key, value))
    return Event(tuple(out))


def _replay_404_as(cause: int, text: str) -> list[CallEvent]:
    tracker = CallTracker()
    tracker.expect(CALL_404)
    out: list[CallEvent] = []
    for event in trace_events("05"):
        if isinstance(event, Event) and CALL_404 in (event.get("Linkedid"), event.get("Uniqueid")):
            out.extend(tracker.feed(_with_cause(event, cause, text)))
    return out


def test_the_recorded_404_still_is_unallocated() -> None:
    assert _replay_404_as(1, "Unallocated (unassigned) number") == [
        CustomerFailed(CALL_404, OC.UNALLOCATED, 1, "Unallocated (unassigned) number", "NOANSWER")
    ]


@pytest.mark.parametrize(
    ("cause", "text", "outcome"),
    [
        (38, "Network out of order", OC.PROVIDER_UNAVAILABLE),  # SIP 500
        (27, "Destination out of order", OC.PROVIDER_UNAVAILABLE),  # SIP 502
        (42, "Switching equipment congestion", OC.CONGESTION),
        (19, "User alerting, no answer", OC.NO_ANSWER),  # SIP 480
    ],
)
def test_a_specific_cause_beats_the_generic_noanswer_dial_status(cause: int, text: str, outcome: OC) -> None:
    assert _replay_404_as(cause, text) == [CustomerFailed(CALL_404, outcome, cause, text, "NOANSWER")]


@pytest.mark.parametrize(
    ("cause", "outcome"),
    [(38, OC.PROVIDER_UNAVAILABLE), (27, OC.PROVIDER_UNAVAILABLE), (66, OC.PROVIDER_UNAVAILABLE), (42, OC.CONGESTION)],
)
def test_outcome_table_with_the_dial_status_asterisk_pairs_with_the_cause(cause: int, outcome: OC) -> None:
    result = customer_outcome(
        reason=0, cause=cause, dial_status=_dial_status(cause), had_channel=True, had_customer_leg=True
    )
    assert result == outcome


def test_a_cause_naming_nothing_specific_keeps_the_dial_status() -> None:
    # SIP 603 Decline -> cause 21 (Call rejected) -> DialStatus NOANSWER: nothing more specific to go on.
    assert customer_outcome(reason=0, cause=21, dial_status="NOANSWER", had_channel=True, had_customer_leg=True) == (
        OC.NO_ANSWER
    )
