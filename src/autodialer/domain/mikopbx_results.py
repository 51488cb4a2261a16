"""The MikoPBX ModuleAutoDialer result state machine (ConnectorDB::saveStateData), as a pure function.

1C reads one row per number through ``/results`` and decides "done" from ``closeTime``/``result``; the row fields
and their values must be what MikoPBX would have written for the same call (spec §3.4). Invariants:

* once ``result`` is non-empty the row is frozen: every later event returns the row unchanged;
* ``close_time`` is non-zero exactly when ``result`` is non-empty (set to ``now`` when the result is set);
* every applied event sets ``state`` to the event name and ``change_time`` to ``now``.

``count_try``, ``requeues`` and ``next_attempt_at`` belong to the row but not to MikoPBX (which never retries);
only the retry policy and the engine touch them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class ResultCode(StrEnum):
    SUCCESS = "SUCCESS"
    SUCCESS_CLIENT_H = "SUCCESS_CLIENT_H"  # the customer hung up first, after the employee answered
    SUCCESS_USER_H = "SUCCESS_USER_H"  # the employee hung up first
    SUCCESS_POLLING = "SUCCESS_POLLING"
    FAIL = "FAIL"  # unclassified; for busy/no-answer customers outDialState and cause tell why
    FAIL_CLIENT_H_BEFORE_ANSWER = "FAIL_CLIENT_H_BEFORE_ANSWER"
    FAIL_USER_NO_ANSWER = "FAIL_USER_NO_ANSWER"
    FAIL_USER_BUSY = "FAIL_USER_BUSY"
    FAIL_ROUTE = "FAIL_ROUTE"
    FAIL_PROVIDER = "FAIL_PROVIDER"
    FAIL_POLLING = "FAIL_POLLING"


class EventName(StrEnum):
    """Event names, written verbatim into the row's ``state`` column."""

    CREATE_CALL_FILE = "CreateCallFile"
    AFTER_DIAL_OUT = "afterDialOut"
    START_DIAL = "startDial"
    ALL_USER_BUSY = "allUserBusy"
    END_DIAL = "endDial"
    EVENT_POLLING = "EVENT_POLLING"
    EVENT_POLLING_END = "EVENT_POLLING_END"
    END_CALL = "endCall"
    FAILED_ORIGINATE = "failedOriginate"
    # Ours (issue 13): a power/predictive call answered and no agent took it within abandonAfterS; the customer
    # heard the safe-harbor message. MikoPBX's nearest words: "target busy at answer, call ended".
    ABANDONED = "abandoned"


CREATE_TASK = "CreateTask"  # the state of a row no call has touched yet
ANSWER = "ANSWER"


@dataclass(frozen=True, slots=True)
class ResultRow:
    """The mutable part of one ``m_TaskResults`` row (identity, phone, params and timeCallAllow live elsewhere)."""

    state: str = CREATE_TASK
    result: str = ""
    out_dial_state: str | None = None
    in_dial_state: str | None = None
    cause: str | None = None
    linked_id: str | None = None
    verbose_call_id: str | None = None
    call_file: str | None = None
    change_time: float = 0.0  # seconds; the API shows int(change_time)
    close_time: int = 0
    count_try: int = 0  # attempts started (ours: MikoPBX never writes it)
    requeues: int = 0  # ours: attempts that ended "every employee busy", not charged to the customer
    next_attempt_at: float = 0.0  # ours: a retry is not due before this

    @property
    def is_closed(self) -> bool:
        return self.result != ""


@dataclass(frozen=True, slots=True)
class RowEvent:
    """One event as the MikoPBX AGI scripts would have published it.

    ``dial_status`` is DIALSTATUS for ``afterDialOut`` (→ outDialState) and M_DIALSTATUS for ``endDial``
    (→ inDialState). ``m_dial_status`` is the channel's M_DIALSTATUS as ``endCall`` sees it (``ANSWER`` once an
    employee answered). ``linked_id``/``verbose_call_id`` are set when the event carries a CALL_ID.
    """

    name: EventName
    dial_status: str | None = None
    cause: str | None = None
    m_dial_status: str | None = None
    call_file: str | None = None
    linked_id: str | None = None
    verbose_call_id: str | None = None


def apply_event(row: ResultRow, event: RowEvent, now: float) -> ResultRow:
    """The row after ``event`` at ``now``. A row with a result is returned unchanged (frozen)."""
    if row.is_closed:
        return row
    result = _result_for(row, event)
    new = replace(row, state=event.name.value, change_time=now)
    if event.linked_id is not None:
        new = replace(new, linked_id=event.linked_id)
    if event.verbose_call_id is not None:
        new = replace(new, verbose_call_id=event.verbose_call_id)
    match event.name:
        case EventName.CREATE_CALL_FILE:
            new = replace(new, call_file=event.call_file)
        case EventName.AFTER_DIAL_OUT:
            new = replace(new, out_dial_state=event.dial_status)
        case EventName.END_DIAL:
            new = replace(new, in_dial_state=event.dial_status)
        case EventName.END_CALL:
            new = replace(new, cause=event.cause)
        case _:
            pass
    if result is not None:
        new = replace(new, result=result.value, close_time=int(now))
    return new


def _result_for(row: ResultRow, event: RowEvent) -> ResultCode | None:
    """The result ``event`` sets given the row before it (ConnectorDB.php:250-346), or None."""
    previous = row.state
    match event.name:
        case EventName.ALL_USER_BUSY | EventName.ABANDONED:
            return ResultCode.FAIL_USER_BUSY
        case EventName.END_DIAL:
            return None if event.dial_status == ANSWER else ResultCode.FAIL_USER_NO_ANSWER
        case EventName.EVENT_POLLING_END:
            return ResultCode.SUCCESS_POLLING
        case EventName.END_CALL:
            return _end_call_result(previous, event.m_dial_status)
        case EventName.FAILED_ORIGINATE:
            if previous == EventName.CREATE_CALL_FILE:
                return ResultCode.FAIL_ROUTE
            if previous == EventName.AFTER_DIAL_OUT and row.cause is None:
                return ResultCode.FAIL_PROVIDER
            return ResultCode.FAIL
        case _:
            return None


def _end_call_result(previous: str, m_dial_status: str | None) -> ResultCode | None:
    if previous == EventName.EVENT_POLLING:
        return ResultCode.FAIL_POLLING
    if m_dial_status == ANSWER:
        if previous == EventName.START_DIAL:
            return ResultCode.SUCCESS_CLIENT_H
        if previous == EventName.END_DIAL:
            return ResultCode.SUCCESS_USER_H
        return ResultCode.SUCCESS
    if previous == EventName.START_DIAL:
        return ResultCode.FAIL_CLIENT_H_BEFORE_ANSWER
    return None
