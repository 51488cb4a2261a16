"""Our call facts → the MikoPBX event sequence → the row 1C would have read from MikoPBX."""

from __future__ import annotations

from dataclasses import replace

import pytest

from autodialer.domain import call_results
from autodialer.domain.call_events import CallEnded, CustomerFailed, CustomerOutcome
from autodialer.domain.call_results import LOST_CAUSE
from autodialer.domain.mikopbx_results import ResultCode, ResultRow, RowEvent, apply_event


def played(*groups: RowEvent | list[RowEvent]) -> ResultRow:
    row = call_results.begin_attempt(ResultRow(), "dlr-1", "dialer-7-79001234567-201.call", 100.0)
    t = 101.0
    for group in groups:
        for event in group if isinstance(group, list) else [group]:
            row = apply_event(row, event, t)
            t += 1
    return row


def failed(outcome: CustomerOutcome, cause: int | None, text: str, dial: str | None) -> list[RowEvent]:
    return call_results.customer_failed(CustomerFailed("dlr-1", outcome, cause, text, dial))


def test_customer_busy_gives_fail_with_out_dial_state_and_cause() -> None:
    row = played(failed(CustomerOutcome.BUSY, 17, "User busy", "BUSY"))
    assert (row.result, row.out_dial_state, row.cause, row.state) == ("FAIL", "BUSY", "User busy", "failedOriginate")
    assert row.linked_id == "dlr-1"
    assert row.close_time == 103


@pytest.mark.parametrize(
    ("outcome", "cause", "dial", "result", "out_dial_state"),
    [
        (CustomerOutcome.NO_ANSWER, 19, None, "FAIL", "NOANSWER"),
        (CustomerOutcome.CONGESTION, 34, "CONGESTION", "FAIL", "CONGESTION"),
        (CustomerOutcome.UNALLOCATED, 1, "NOANSWER", "FAIL", "CHANUNAVAIL"),  # DIALSTATUS, not DialEnd (trace 05)
        (CustomerOutcome.FAILED, None, None, "FAIL", "CHANUNAVAIL"),
        (CustomerOutcome.NO_ROUTE, 0, None, "FAIL_ROUTE", None),
        (CustomerOutcome.PROVIDER_UNAVAILABLE, None, None, "FAIL_PROVIDER", "CHANUNAVAIL"),
        (CustomerOutcome.PROVIDER_UNAVAILABLE, 20, "CHANUNAVAIL", "FAIL", "CHANUNAVAIL"),  # dialled: endCall ran
    ],
)
def test_customer_failures(
    outcome: CustomerOutcome, cause: int | None, dial: str | None, result: str, out_dial_state: str | None
) -> None:
    row = played(failed(outcome, cause, "", dial))
    assert row.result == result
    assert row.out_dial_state == out_dial_state


def test_connect_employee_hangs_up_first() -> None:
    row = played(
        call_results.connect_started("dlr-1", "[C-1]"),
        call_results.connect_ended("dlr-1", "ANSWER", customer_hung_up_first=False),
        call_results.call_ended("dlr-1", "Normal Clearing", "ANSWER"),
    )
    assert (row.result, row.in_dial_state, row.verbose_call_id) == ("SUCCESS_USER_H", "ANSWER", "[C-1]")


def test_connect_customer_hangs_up_first() -> None:
    row = played(
        call_results.connect_started("dlr-1"),
        call_results.connect_ended("dlr-1", "ANSWER", customer_hung_up_first=True),
        call_results.call_ended("dlr-1", "Normal Clearing", "ANSWER"),
    )
    assert row.result == "SUCCESS_CLIENT_H"


def test_employee_no_answer_and_busy() -> None:
    no_answer = played(call_results.connect_started("dlr-1"), call_results.connect_ended("dlr-1", "NOANSWER", False))
    assert (no_answer.result, no_answer.in_dial_state) == ("FAIL_USER_NO_ANSWER", "NOANSWER")
    busy = played(call_results.connect_started("dlr-1"), call_results.agent_busy("dlr-1"))
    assert busy.result == "FAIL_USER_BUSY"


def test_customer_hangs_up_while_employee_rings() -> None:
    row = played(
        call_results.connect_started("dlr-1"),
        call_results.connect_ended("dlr-1", "CANCEL", customer_hung_up_first=True),
        call_results.call_ended("dlr-1", "Normal Clearing", "CANCEL"),
    )
    # MikoPBX's dialplan stops when the caller leaves during Dial: no endDial, and endCall after startDial says
    # "the client hung up before the employee answered".
    assert (row.result, row.in_dial_state) == ("FAIL_CLIENT_H_BEFORE_ANSWER", None)


def test_poll_results() -> None:
    done = played(call_results.poll_started("dlr-1"), call_results.poll_completed("dlr-1"))
    assert done.result == "SUCCESS_POLLING"
    dropped = played(call_results.poll_started("dlr-1"), call_results.call_ended("dlr-1", "Normal Clearing", None))
    assert dropped.result == "FAIL_POLLING"


def test_a_lost_call_an_employee_answered_stays_a_success() -> None:
    answered = played(
        call_results.connect_started("dlr-1"),
        call_results.connect_ended("dlr-1", "ANSWER", False),
        *call_results.call_lost("dlr-1", m_dial_status="ANSWER"),
    )
    assert answered.result == "SUCCESS_USER_H"


@pytest.mark.parametrize("state", ["CreateCallFile", "afterDialOut", "startDial"])
def test_a_call_lost_on_restart_is_a_fail_of_its_own_never_the_customers(state: str) -> None:
    row = replace(ResultRow(), state=state, count_try=1)
    lost = call_results.lost_on_restart(row, "dlr-1", 1000.0)
    assert (lost.state, lost.result, lost.cause, lost.linked_id) == ("lostOnRestart", "FAIL", LOST_CAUSE, "dlr-1")
    assert lost.close_time == 1000 and lost.out_dial_state is None
    assert call_results.lost_on_restart(lost, "dlr-2", 2000.0) == lost  # a result is frozen


def test_close_unresolved_gives_fail_once() -> None:
    row = played(call_results.call_ended("dlr-1", "x", None))
    assert row.result == ""
    closed = call_results.close_unresolved(row, 500.0)
    assert (closed.result, closed.close_time) == (ResultCode.FAIL.value, 500)
    assert call_results.close_unresolved(closed, 900.0) is closed


def test_begin_attempt_clears_the_previous_attempt_and_counts() -> None:
    first = played(failed(CustomerOutcome.BUSY, 17, "User busy", "BUSY"))
    reopened = ResultRow(
        state=first.state, out_dial_state=first.out_dial_state, cause=first.cause, count_try=1, next_attempt_at=400.0
    )
    again = call_results.begin_attempt(reopened, "dlr-2", "f.call", 500.0)
    assert (again.count_try, again.cause, again.out_dial_state, again.next_attempt_at) == (2, None, None, 0.0)
    assert (again.state, again.linked_id, again.call_file) == ("CreateCallFile", "dlr-2", "f.call")
    # so a provider failure on the retry is FAIL_PROVIDER again, not FAIL from the old cause
    row = apply_event(
        again,
        call_results.customer_failed(CustomerFailed("dlr-2", CustomerOutcome.PROVIDER_UNAVAILABLE, None, "", None))[0],
        501.0,
    )
    row = apply_event(
        row,
        call_results.customer_failed(CustomerFailed("dlr-2", CustomerOutcome.PROVIDER_UNAVAILABLE, None, "", None))[1],
        502.0,
    )
    assert row.result == "FAIL_PROVIDER"
    with pytest.raises(ValueError):
        call_results.begin_attempt(row, "dlr-3", "f.call", 600.0)


def test_call_file_name_matches_mikopbx() -> None:
    assert call_results.call_file_name(41, "79522233446", "9") == "dialer-41-79522233446-9.call"


def test_cause_is_the_providers_tech_cause_and_the_q850_text_only_without_one() -> None:
    busy = CustomerFailed("c", CustomerOutcome.BUSY, 17, "User busy", "BUSY", tech_cause="SIP 486 Busy Here")
    end_call = [e for e in call_results.customer_failed(busy) if e.cause is not None]
    assert [e.cause for e in end_call] == ["SIP 486 Busy Here"]
    plain = CustomerFailed("c", CustomerOutcome.BUSY, 17, "User busy", "BUSY")
    assert call_results.cause_text(plain) == "User busy"
    assert call_results.cause_text(CallEnded("c", 16, "Normal Clearing", tech_cause="SIP 200 OK")) == "SIP 200 OK"
    assert call_results.cause_text(CallEnded("c", 16, "Normal Clearing")) == "Normal Clearing"
