"""Result rows for customers who never answered, as MikoPBX writes them (spec §3.4, ConnectorDB::saveStateData).

FAIL_PROVIDER needs ``cause === null``, i.e. no provider channel whose hangup handler ran endCall. The
CustomerFailed facts below are shaped as the call tracker builds them from the Asterisk 22 traces (cause = the
trunk leg's Hangup Cause, dial_status = its DialEnd DialStatus).
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


@pytest.mark.parametrize(
    ("cause", "text", "dial_end"), [(38, "Network out of order", "NOANSWER"), (20, "", "CHANUNAVAIL")]
)
def test_a_provider_leg_that_was_dialled_and_hung_up_is_fail_with_its_cause(
    cause: int, text: str, dial_end: str
) -> None:
    # The provider channel existed (DialBegin/DialEnd), so MikoPBX's hangup handler ran endCall and set cause:
    # failedOriginate after afterDialOut with cause !== null is FAIL, not FAIL_PROVIDER.
    row = final_row(CustomerFailed("dlr-1", CustomerOutcome.PROVIDER_UNAVAILABLE, cause, text, dial_end))
    assert row.result == "FAIL"
    assert row.cause == (text or str(cause))


def test_a_provider_channel_that_never_existed_is_fail_provider_with_null_cause() -> None:
    row = final_row(CustomerFailed("dlr-1", CustomerOutcome.PROVIDER_UNAVAILABLE, 3, "No route to destination", None))
    assert (row.result, row.out_dial_state, row.cause) == ("FAIL_PROVIDER", "CHANUNAVAIL", None)


def test_polling_rows_carry_the_verbose_call_id() -> None:
    # spec §3.2 GET /task/{id}: a SUCCESS_POLLING row has "verboseCallId": "[C-0000001b]"; change-state-task.php
    # sends CALL_ID = CHANNEL(callid) with EVENT_POLLING.
    row = call_results.begin_attempt(ResultRow(), "dlr-1", "dialer-41-79522233446-9.call", 100.0)
    row = apply_event(row, call_results.poll_started("dlr-1", "[C-0000001b]"), 101.0)
    row = apply_event(row, call_results.poll_completed("dlr-1"), 102.0)
    assert (row.result, row.state, row.verbose_call_id, row.linked_id) == (
        "SUCCESS_POLLING",
        "EVENT_POLLING_END",
        "[C-0000001b]",
        "dlr-1",
    )
    assert (row.out_dial_state, row.in_dial_state, row.cause, row.close_time) == (None, None, None, 102)
