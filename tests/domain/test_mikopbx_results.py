"""The §3.4 state machine: every result code from its MikoPBX event sequence, and the frozen-row invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.domain.mikopbx_results import (
    CREATE_TASK,
    EventName,
    ResultCode,
    ResultRow,
    RowEvent,
    apply_event,
)

E = EventName


def run(*events: RowEvent, start: float = 100.0) -> ResultRow:
    row = ResultRow()
    for i, event in enumerate(events):
        row = apply_event(row, event, start + i)
    return row


def ev(name: EventName, **kw: str | None) -> RowEvent:
    return RowEvent(name, **kw)  # type: ignore[arg-type]


CALL = ev(E.CREATE_CALL_FILE, call_file="dialer-1-79001234567-201.call")


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        # employee answered, customer hung up while the Dial was still running (no endDial)
        ([CALL, ev(E.START_DIAL), ev(E.END_CALL, m_dial_status="ANSWER")], ResultCode.SUCCESS_CLIENT_H),
        # employee answered and hung up first: endDial ran before endCall
        (
            [CALL, ev(E.START_DIAL), ev(E.END_DIAL, dial_status="ANSWER"), ev(E.END_CALL, m_dial_status="ANSWER")],
            ResultCode.SUCCESS_USER_H,
        ),
        # answered from any other state
        (
            [CALL, ev(E.AFTER_DIAL_OUT, dial_status="ANSWER"), ev(E.END_CALL, m_dial_status="ANSWER")],
            ResultCode.SUCCESS,
        ),
        ([CALL, ev(E.EVENT_POLLING), ev(E.EVENT_POLLING_END)], ResultCode.SUCCESS_POLLING),
        ([CALL, ev(E.EVENT_POLLING), ev(E.END_CALL, cause="16")], ResultCode.FAIL_POLLING),
        ([CALL, ev(E.START_DIAL), ev(E.END_CALL, cause="16")], ResultCode.FAIL_CLIENT_H_BEFORE_ANSWER),
        ([CALL, ev(E.START_DIAL), ev(E.END_DIAL, dial_status="NOANSWER")], ResultCode.FAIL_USER_NO_ANSWER),
        ([CALL, ev(E.START_DIAL), ev(E.ALL_USER_BUSY)], ResultCode.FAIL_USER_BUSY),
        ([CALL, ev(E.FAILED_ORIGINATE)], ResultCode.FAIL_ROUTE),
        ([CALL, ev(E.AFTER_DIAL_OUT, dial_status="CHANUNAVAIL"), ev(E.FAILED_ORIGINATE)], ResultCode.FAIL_PROVIDER),
        (
            [CALL, ev(E.AFTER_DIAL_OUT, dial_status="BUSY"), ev(E.END_CALL, cause="User busy"), ev(E.FAILED_ORIGINATE)],
            ResultCode.FAIL,
        ),
    ],
)
def test_every_result_code(events: list[RowEvent], expected: ResultCode) -> None:
    row = run(*events)
    assert row.result == expected.value
    assert row.close_time == int(100 + len(events) - 1)
    assert row.state == events[-1].name.value


def test_end_call_without_answer_and_without_start_dial_sets_no_result() -> None:
    row = run(CALL, ev(E.AFTER_DIAL_OUT, dial_status="BUSY"), ev(E.END_CALL, cause="User busy"))
    assert row.result == ""
    assert row.close_time == 0
    assert row.cause == "User busy"
    assert row.out_dial_state == "BUSY"


def test_fields_each_event_sets() -> None:
    row = run(
        ev(E.CREATE_CALL_FILE, call_file="f.call", linked_id="dlr-1"),
        ev(E.START_DIAL, verbose_call_id="[C-00000001]"),
        ev(E.END_DIAL, dial_status="ANSWER"),
    )
    assert (row.call_file, row.linked_id, row.verbose_call_id, row.in_dial_state) == (
        "f.call",
        "dlr-1",
        "[C-00000001]",
        "ANSWER",
    )
    assert row.state == "endDial"
    assert row.change_time == 102
    assert ResultRow().state == CREATE_TASK


def test_a_row_with_a_result_is_frozen() -> None:
    row = run(CALL, ev(E.FAILED_ORIGINATE))
    later = apply_event(row, ev(E.END_CALL, m_dial_status="ANSWER", cause="x"), 999.0)
    assert later is row


events_strategy = st.lists(
    st.builds(
        RowEvent,
        name=st.sampled_from(list(EventName)),
        dial_status=st.sampled_from([None, "ANSWER", "BUSY", "NOANSWER", "CHANUNAVAIL"]),
        cause=st.sampled_from([None, "16", "User busy"]),
        m_dial_status=st.sampled_from([None, "ANSWER", "NOANSWER"]),
    ),
    max_size=12,
)


@settings(deadline=None)  # a loaded CI box must not turn slowness into a failure
@given(events_strategy)
def test_any_event_sequence_never_unfreezes_and_close_time_iff_result(events: list[RowEvent]) -> None:
    row = ResultRow()
    frozen: ResultRow | None = None
    for i, event in enumerate(events):
        row = apply_event(row, event, 1000.0 + i)
        assert (row.close_time != 0) == (row.result != "")
        assert row.result in {"", *(code.value for code in ResultCode)}
        if frozen is not None:
            assert row == frozen
        elif row.result:
            frozen = row
