"""Result rows for customers who never answered, as MikoPBX writes them (spec §3.4, ConnectorDB::saveStateData).

outDialState is the DIALSTATUS *variable* that MikoPBX's afterDialOut AGI reads (agi-bin/change-state-task.php:
``get_variable('DIALSTATUS')``), not DialEnd's DialStatus. FAIL_PROVIDER needs ``cause === null``, i.e. no
provider channel whose hangup handler ran endCall. The CustomerFailed facts below are shaped as the call
tracker builds them from the Asterisk 22 traces (cause = the trunk leg's Hangup Cause, dial_status = its DialEnd
DialStatus).
"""

from __future__ import annotations

import pytest

from autodialer.domain import call_results
from autodialer.domain.call_events import CustomerFailed, CustomerOutcome
from autodialer.domain.mikopbx_results import ResultRow, apply_event


def final_row(event: CustomerFailed) -> ResultRow:
    row = call_results.begin_attempt(ResultRow(), event.call_id, "dialer-7-5551404-201.call", 100.0)
    for i, row_event in enumerate(call_results.customer_failed(event), start=1):
        row = apply_event(row, row_event, 100.0 + i)
    return row


def test_sip_404_gives_out_dial_state_chanunavail_as_the_dialplan_sees_it() -> None:
    # trace 05 lines 67-68: DialEnd ... DialStatus=NOANSWER, then NoOp "dialer-out result DIALSTATUS=CHANUNAVAIL
    # HANGUPCAUSE=1" on the same Local;2 channel.
    event = CustomerFailed(
        "dlr-cfb844a0dd0f", CustomerOutcome.UNALLOCATED, 1, "Unallocated (unassigned) number", "NOANSWER"
    )
    row = final_row(event)
    assert (row.result, row.state, row.out_dial_state, row.cause) == (
        "FAIL",
        "failedOriginate",
        "CHANUNAVAIL",
        "Unallocated (unassigned) number",
    )
    # The DialEnd-facing status (the EndCall UserEvent's DIAL_STATUS) is left as Asterisk reported it.
    assert call_results.customer_dial_status(event) == "NOANSWER"


@pytest.mark.parametrize(
    ("cause", "dial_end", "expected"),
    [
        (17, "BUSY", "BUSY"),  # trace 03: DialStatus=BUSY, DIALSTATUS=BUSY HANGUPCAUSE=17
        (34, "CONGESTION", "CONGESTION"),  # trace 05: DialStatus=CONGESTION, DIALSTATUS=CONGESTION HANGUPCAUSE=34
        (19, "CANCEL", "CANCEL"),  # trace 04: the Originate timeout cancels the Dial
        (19, "NOANSWER", "NOANSWER"),  # handle_cause: NO_ANSWER counts nothing, DIALSTATUS stays NOANSWER
        (16, "NOANSWER", "NOANSWER"),  # NORMAL_CLEARING likewise
        (0, "NOANSWER", "NOANSWER"),  # no cause: a Dial timeout, not a callee hangup
        (None, "NOANSWER", "NOANSWER"),
        (18, "NOANSWER", "CHANUNAVAIL"),  # any other cause is "nochan"
        (21, "NOANSWER", "CHANUNAVAIL"),
    ],
)
def test_out_dial_state_follows_app_dial_handle_cause(cause: int | None, dial_end: str, expected: str) -> None:
    event = CustomerFailed("dlr-1", CustomerOutcome.NO_ANSWER, cause, "", dial_end)
    assert call_results.out_dial_state(event) == expected
    assert final_row(event).out_dial_state == expected


def test_a_dialled_provider_leg_that_hung_up_with_a_nochan_cause_shows_chanunavail() -> None:
    row = final_row(
        CustomerFailed("dlr-1", CustomerOutcome.PROVIDER_UNAVAILABLE, 38, "Network out of order", "NOANSWER")
    )
    assert (row.result, row.out_dial_state) == ("FAIL", "CHANUNAVAIL")
