"""From our call facts to the MikoPBX event sequence, so /results shows what MikoPBX would have shown.

MikoPBX learns a call's fate from AGI scripts on several channels; we learn it from AMI (``call_events``) and from
our FastAGI handlers. Each function here returns the MikoPBX events that the same call would have produced there, in
order; feeding them to ``mikopbx_results.apply_event`` gives the row 1C expects:

* customer busy / no answer / congestion / 404 → afterDialOut(DIALSTATUS), endCall(cause), failedOriginate → FAIL
  (MikoPBX's provider hangup handler runs endCall before the failed extension runs failedOriginate);
* no route → failedOriginate straight after CreateCallFile → FAIL_ROUTE;
* provider unavailable and no provider channel ever existed → afterDialOut(CHANUNAVAIL) with no provider hangup
  (cause stays null) → FAIL_PROVIDER. A provider channel that was dialled and hung up (a DialEnd was seen: SIP
  502/500, cause 3/20 …) ran MikoPBX's hangup handler, so endCall set ``cause`` and failedOriginate gives FAIL
  (ConnectorDB::saveStateData: FAIL_PROVIDER needs ``cause === null``);
* answered: startDial → [allUserBusy | endDial(M_DIALSTATUS)] → endCall; who hung up first decides whether endDial
  ran before endCall (SUCCESS_USER_H) or not (SUCCESS_CLIENT_H).

Every event carries our call id as linkedId: it is the Asterisk Linkedid of every channel of the call (we pass it as
the Originate ChannelId), so 1C can find the CDR with it exactly as with MikoPBX's ``CHANNEL(linkedid)``.
"""

from __future__ import annotations

from dataclasses import replace

from autodialer.domain.call_events import CallEnded, CustomerFailed, CustomerOutcome
from autodialer.domain.mikopbx_results import ANSWER, EventName, ResultCode, ResultRow, RowEvent, apply_event

# DIALSTATUS Asterisk reports for each outcome, used when the adapter saw no DialEnd (README §6 table).
_DIAL_STATUS_FOR: dict[CustomerOutcome, str] = {
    CustomerOutcome.BUSY: "BUSY",
    CustomerOutcome.NO_ANSWER: "NOANSWER",
    CustomerOutcome.CONGESTION: "CONGESTION",
    CustomerOutcome.UNALLOCATED: "NOANSWER",
    CustomerOutcome.PROVIDER_UNAVAILABLE: "CHANUNAVAIL",
    CustomerOutcome.FAILED: "CHANUNAVAIL",
}

LOST_CAUSE = "call lost: PBX or autodialer restarted"
# The same, for a call whose customer answered (or may have): never dialled again automatically (ARCHITECTURE.md).
LOST_ANSWERED_CAUSE = "call lost after the customer answered: PBX or autodialer restarted"


def call_file_name(task_id: int, dial_digits: str, inner_num: str) -> str:
    """The ``callFile`` value MikoPBX would have written; we write no file but 1C stores the name."""
    return f"dialer-{task_id}-{dial_digits}-{inner_num}.call"


def attempt_started(call_id: str, call_file: str) -> RowEvent:
    return RowEvent(EventName.CREATE_CALL_FILE, call_file=call_file, linked_id=call_id)


def customer_dial_status(event: CustomerFailed) -> str:
    """The DIALSTATUS of the customer leg: as Asterisk reported it, else what Asterisk reports for the outcome."""
    if event.dial_status:
        return event.dial_status
    if event.outcome is CustomerOutcome.NO_ROUTE:
        return "CHANUNAVAIL"
    return _DIAL_STATUS_FOR[event.outcome]


# Causes app_dial's handle_cause() counts as nothing (NORMAL_CLEARING, NO_ANSWER), plus 0/None: no cause known (a
# Dial that timed out). Any other cause of a callee that hung up while ringing, except BUSY and CONGESTION which
# DialEnd already names, is counted as "nochan", so DIALSTATUS becomes CHANUNAVAIL.
_NOT_NOCHAN_CAUSES = frozenset({0, 16, 19})


def out_dial_state(event: CustomerFailed) -> str:
    """The DIALSTATUS variable Dial leaves on the calling channel: what MikoPBX's afterDialOut stores as outDialState.

    It is not always DialEnd's DialStatus. A callee that hangs up while ringing gets a DialEnd with
    ``ast_hangup_cause_to_dial_status(cause)`` (NOANSWER for every cause but 17/34/3/20), while DIALSTATUS follows
    app_dial's ``handle_cause``, where any cause but 16/19 counts as "nochan" → CHANUNAVAIL. Trace 05: the SIP 404
    (cause 1) ends with DialEnd DialStatus=NOANSWER and ``DIALSTATUS=CHANUNAVAIL HANGUPCAUSE=1`` in the dialplan.
    """
    status = customer_dial_status(event)
    if status == "NOANSWER" and event.cause is not None and event.cause not in _NOT_NOCHAN_CAUSES:
        return "CHANUNAVAIL"
    return status


def customer_failed(event: CustomerFailed) -> list[RowEvent]:
    """The events for a customer leg that never answered (ends with the result set)."""
    call_id = event.call_id
    failed = RowEvent(EventName.FAILED_ORIGINATE, linked_id=call_id)
    if event.outcome is CustomerOutcome.NO_ROUTE:
        return [failed]
    after_dial = RowEvent(EventName.AFTER_DIAL_OUT, dial_status=out_dial_state(event), linked_id=call_id)
    if event.outcome is CustomerOutcome.PROVIDER_UNAVAILABLE and event.dial_status is None:
        # No DialEnd for a provider leg: the channel was never created, so no hangup handler ran endCall.
        return [after_dial, failed]
    return [after_dial, RowEvent(EventName.END_CALL, cause=cause_text(event), linked_id=call_id), failed]


def cause_text(event: CustomerFailed | CallEnded) -> str:
    """MikoPBX's ``cause``: HANGUPCAUSE(<provider channel>,tech), e.g. "SIP 486 Busy Here", when the PBX reported
    it (docs/dialplan.md: the hangup handler of the customer half); else Asterisk's Q.850 text ("User busy")."""
    if event.tech_cause:
        return event.tech_cause
    return event.cause_text or (str(event.cause) if event.cause is not None else "")


def connect_started(call_id: str, verbose_call_id: str | None = None) -> RowEvent:
    return RowEvent(EventName.START_DIAL, linked_id=call_id, verbose_call_id=verbose_call_id)


def agent_busy(call_id: str) -> RowEvent:
    return RowEvent(EventName.ALL_USER_BUSY, linked_id=call_id)


ABANDONED_STATE = EventName.ABANDONED.value  # the row's state and the attempt's outcome of an abandoned call


def abandoned(call_id: str) -> RowEvent:
    """No agent took the answered customer within abandonAfterS: the safe-harbor message was played. v1 shows
    FAIL_USER_BUSY with state ``abandoned`` (retried as an agent-busy call: not the customer's doing)."""
    return RowEvent(EventName.ABANDONED, linked_id=call_id)


def connect_ended(call_id: str, dial_status: str, customer_hung_up_first: bool) -> list[RowEvent]:
    """After the Dial/Queue to the employee returned. When the customer was the one who left (during the bridge or
    while the employee still rang), MikoPBX's dialplan never reached endDial: the channel was gone. endCall then
    decides: after an answer SUCCESS_CLIENT_H (vs SUCCESS_USER_H when endDial ran), before one
    FAIL_CLIENT_H_BEFORE_ANSWER."""
    if customer_hung_up_first:
        return []
    return [RowEvent(EventName.END_DIAL, dial_status=dial_status, linked_id=call_id)]


def call_ended(call_id: str, cause_text: str, m_dial_status: str | None) -> RowEvent:
    return RowEvent(EventName.END_CALL, cause=cause_text, m_dial_status=m_dial_status, linked_id=call_id)


def poll_started(call_id: str, verbose_call_id: str | None = None) -> RowEvent:
    """EVENT_POLLING; like every MikoPBX AGI event it carries CHANNEL(callid), the verboseCallId of polling rows."""
    return RowEvent(EventName.EVENT_POLLING, linked_id=call_id, verbose_call_id=verbose_call_id)


def poll_completed(call_id: str) -> RowEvent:
    return RowEvent(EventName.EVENT_POLLING_END, linked_id=call_id)


LOST_ON_RESTART_STATE = "lostOnRestart"


def employee_talked(m_dial_status: str | None) -> bool:
    """The connect step's Dial was answered: the call did its job, whatever ended it."""
    return m_dial_status == ANSWER


def call_lost(call_id: str, m_dial_status: str | None) -> list[RowEvent]:
    """A call that reached an employee and then vanished without an end we saw (restart, lost events): endCall
    with M_DIALSTATUS=ANSWER, a SUCCESS as MikoPBX would have recorded it."""
    return [call_ended(call_id, LOST_CAUSE, m_dial_status)]


def lost_on_restart(row: ResultRow, call_id: str, now: float, answered: bool = False) -> ResultRow:
    """The row of a call that died with the PBX or with the autodialer before an employee talked to the customer.

    Not a MikoPBX outcome (MikoPBX loses such calls silently): state ``lostOnRestart``, result FAIL with our cause,
    never a customer's result (no FAIL_CLIENT_H_BEFORE_ANSWER, no outDialState). One that provably never reached
    the customer may then be reopened by the retry policy (class ``lost_on_restart``); one whose customer answered,
    or may have (``answered``), says so in its cause and stays final: dialling it again could call a customer who
    was already served.
    """
    if row.is_closed:
        return row
    return replace(
        row,
        state=LOST_ON_RESTART_STATE,
        result=ResultCode.FAIL.value,
        cause=LOST_ANSWERED_CAUSE if answered else LOST_CAUSE,
        linked_id=call_id,
        close_time=int(now),
        change_time=now,
    )


DO_NOT_CALL_STATE = "doNotCall"
DO_NOT_CALL_CAUSE = "Do not call list"


def do_not_call(row: ResultRow, now: float) -> ResultRow:
    """The final row of a number that is on the do-not-call list: never dialed, closed so its task can close."""
    return replace(
        row,
        result=ResultCode.FAIL.value,
        state=DO_NOT_CALL_STATE,
        cause=DO_NOT_CALL_CAUSE,
        close_time=int(now),
        change_time=now,
    )


def close_unresolved(row: ResultRow, now: float) -> ResultRow:
    """Give FAIL to a row whose call is over but whose events set no result.

    MikoPBX leaves such a row open for ever (e.g. an answered call whose connect step never ran), which keeps the
    1C document and the task open; we close it so that every finished attempt leaves a final or retried row.
    """
    if row.is_closed:
        return row
    return replace(row, result=ResultCode.FAIL.value, close_time=int(now), change_time=now)


def begin_attempt(row: ResultRow, call_id: str, call_file: str, now: float) -> ResultRow:
    """The row as a new attempt starts: one more try, the previous attempt's call facts cleared, CreateCallFile.

    MikoPBX dials a number once, so its rows never needed clearing; with retries the last attempt's outDialState or
    cause would otherwise leak into the next attempt's result (e.g. turn FAIL_PROVIDER into FAIL). A closed row is
    never dialed again: ValueError.
    """
    if row.is_closed:
        raise ValueError("a number with a result is never dialed again")
    fresh = replace(
        row,
        out_dial_state=None,
        in_dial_state=None,
        cause=None,
        verbose_call_id=None,
        count_try=row.count_try + 1,
        next_attempt_at=0.0,
    )
    return apply_event(fresh, attempt_started(call_id, call_file), now)
