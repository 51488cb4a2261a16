"""AttemptLedger: the calls in flight and how what happens to them changes their numbers' rows.

Every change of a number's row during a call goes through ``apply``: the MikoPBX events run through the state
machine, and when they set a result the retry policy decides, in the same write, whether it stands or the number is
reopened for a later attempt. ``finish`` ends an attempt on every path (failed, ended, rejected, lost), which is
what releases its number and its reserved agent; ``release`` gives back, untouched, numbers whose Originate never
reached the PBX.

Invariants: an attempt gives its row at most one verdict (``settled``), so events that arrive after it (the end of
a call whose customer was already requeued) never touch the row again; an attempt that ends without a verdict
leaves a FAIL, never an open row nobody will dial.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from autodialer.domain import call_results
from autodialer.domain.call_events import CustomerOutcome
from autodialer.domain.dial_waits import clock_text
from autodialer.domain.mikopbx_results import ANSWER, ResultRow, RowEvent, apply_event
from autodialer.domain.retry_policy import InvalidRetryPolicy, RetryClass, RetryPolicy, decide, retry_class_for
from autodialer.services.call_observer import CallObserver, NoObserver
from autodialer.services.dialer_store import Attempt, DialerStore, DialTask
from autodialer.services.pbx_events import AUTODIALER_EVENT, UserEventSink, end_call_fields

log = logging.getLogger(__name__)


class AttemptLedger:
    def __init__(
        self,
        store: DialerStore,
        events: UserEventSink,
        retry_policy: RetryPolicy,
        on_finished: Callable[[], None],
        outbox_size: int = 50_000,
    ) -> None:
        self._store = store
        self._events = events
        self._retry_policy = retry_policy
        self._overrides: dict[int, Mapping[str, object] | None] = {}
        self._deferred: list[dict[str, str]] | None = None
        # UserEvents the PBX did not take (shutting down, link down): resent in order once it is back. In memory
        # only: it bridges a PBX restart or outage; a crash of this service meanwhile loses the notices (never a
        # call or a result: those are in the store).
        self._outbox: deque[dict[str, str]] = deque(maxlen=outbox_size)
        self._rows: dict[str, ResultRow] = {}  # call id -> its number's row as last written by us
        self._on_finished = on_finished
        self._attempts: dict[str, Attempt] = {}
        self.observer: CallObserver = NoObserver()  # the live wallboard (services/live_board.py)

    # ---- what is in flight

    def get(self, call_id: str) -> Attempt | None:
        return self._attempts.get(call_id)

    def all(self) -> list[Attempt]:
        return list(self._attempts.values())

    def __len__(self) -> int:
        return len(self._attempts)

    def forget_all(self) -> None:
        """Drop the in-memory view (after a store batch was rolled back): reconciliation rebuilds it from the store."""
        for attempt in self._attempts.values():
            self._safely(self.observer.call_finished, attempt, None)
        self._attempts.clear()
        self._rows.clear()

    def add(self, attempt: Attempt, row: ResultRow | None = None) -> None:
        """Hold ``attempt`` (already stored); an attempt known already is kept as it is. ``row`` is its number's
        row as just stored: while the call lasts only the engine writes a row's result fields, so later events
        start from it instead of reading it back (an adopted attempt has none and is read once)."""
        if attempt.call_id not in self._attempts:
            self._attempts[attempt.call_id] = attempt
            self._safely(self.observer.call_changed, attempt)
        if row is not None:
            self._rows.setdefault(attempt.call_id, row)

    def reserved_agents(self) -> frozenset[str]:
        return frozenset(a.agent for a in self._attempts.values() if a.agent is not None)

    def numbers_in_call(self) -> frozenset[int]:
        return frozenset(a.number_id for a in self._attempts.values())

    def in_progress(self, task_id: int) -> int:
        return sum(1 for a in self._attempts.values() if a.task_id == task_id)

    # ---- changes

    async def save(self, attempt: Attempt) -> None:
        """Store the progress of an attempt still in flight (a finished one is left alone)."""
        if attempt.call_id in self._attempts:
            self._attempts[attempt.call_id] = attempt
            await self._store.update_attempt(attempt)
            self._safely(self.observer.call_changed, attempt)

    async def apply(
        self,
        attempt: Attempt,
        events: Sequence[RowEvent],
        now: float,
        outcome: CustomerOutcome | None = None,
        rejected: bool = False,
    ) -> Attempt:
        """Run ``events`` through the state machine on the attempt's number; decide retry vs final on a result.

        Returns the attempt as it is now (``settled`` once it gave its verdict).
        """
        if attempt.settled:
            return attempt  # the row already has this attempt's verdict (possibly reopened for a retry)
        settled, row = await self._resolve(attempt, events, now, outcome, rejected)
        if row is None:
            return attempt
        if settled.settled:
            await self.save(settled)
        await self._store.save_row(attempt.number_id, row)
        if attempt.call_id in self._attempts:
            self._rows[attempt.call_id] = row
        if settled.settled:
            self._safely(self.observer.call_settled, settled, row)
        return settled

    async def finish(
        self,
        attempt: Attempt,
        now: float,
        dial_status: str,
        events: Sequence[RowEvent] = (),
        outcome: CustomerOutcome | None = None,
        rejected: bool = False,
        announce: bool = True,
    ) -> None:
        """The call is over: ``events`` (its last) give the row its result as ``apply`` would, a row still left
        without one becomes a FAIL; the attempt, its row and the release of the number (and agent) are one write."""
        row: ResultRow | None = None
        if not attempt.settled:
            attempt, row = await self._resolve(attempt, events, now, outcome, rejected)
            if row is not None and not attempt.settled:
                row = call_results.close_unresolved(row, now)
        await self._store.finish_attempt(attempt, now, row)
        self._forget(attempt.call_id)
        self._safely(self.observer.call_finished, attempt, row)
        if announce:
            await self.announce(end_call_fields(attempt.phone, attempt.task_id, dial_status))
        self._on_finished()

    async def close_lost(
        self, attempt: Attempt, now: float, *, proven_unanswered: bool, proven_unserved: bool = False
    ) -> None:
        """Close an attempt whose call the PBX no longer lists although we never saw it end: it died with the PBX
        or with us (restart, lost events, watchdog). A call an employee had answered is the success it was; any
        other is ``lostOnRestart``, never put down to the customer, and is retried under the policy (class
        ``lost_on_restart``) when it provably never reached its customer (``proven_unanswered``) or provably
        never reached an employee (``proven_unserved``: the PBX marks every employee's answer and has no mark for
        it, or we heard the call to its end). Any other stays final: dialling it again could call a customer who
        was already served."""
        if attempt.agent_connected or call_results.employee_talked(attempt.m_dial_status):
            events = call_results.call_lost(attempt.call_id, ANSWER)
            await self.finish(attempt, now, dial_status=ANSWER, events=events)
            return
        row: ResultRow | None = None
        if not attempt.settled:
            row = await self._row(attempt)
            if row is not None:
                lost = call_results.lost_on_restart(row, attempt.call_id, now, answered=not proven_unanswered)
                policy = await self._policy(attempt.task_id)
                retry = proven_unanswered or proven_unserved
                row = decide(policy, lost, RetryClass.LOST_ON_RESTART if retry else None, now)
                attempt = replace(attempt, settled=True, outcome=call_results.LOST_ON_RESTART_STATE)
                why = (
                    "never reached the customer"
                    if proven_unanswered
                    else "the customer answered, no employee did"
                    if proven_unserved
                    else "the customer answered or may have"
                )
                log.info(
                    "call %s: lost on restart (%s)%s", attempt.call_id, why, "" if row.is_closed else ", retry later"
                )
        await self._store.finish_attempt(attempt, now, row)
        self._forget(attempt.call_id)
        self._safely(self.observer.call_finished, attempt, row)
        await self.announce(
            end_call_fields(attempt.phone, attempt.task_id, ANSWER if attempt.answered else "CHANUNAVAIL")
        )
        self._on_finished()

    async def release(self, unsent: Sequence[Attempt]) -> None:
        """These Originates never reached the PBX: the numbers go back to the queue exactly as they were."""
        if not unsent:
            return
        await self._store.release_attempts(unsent)
        for attempt in unsent:
            self._forget(attempt.call_id)
            self._safely(self.observer.call_finished, attempt, None)
        log.info("%d calls never reached the PBX: their numbers are queued again, untouched", len(unsent))
        self._on_finished()

    def confirm(self, call_id: str) -> None:
        """The PBX took the Originate (the row was stored by ``DialerStore.confirm_attempts``)."""
        attempt = self._attempts.get(call_id)
        if attempt is not None:
            self._attempts[call_id] = replace(attempt, confirmed=True)

    @staticmethod
    def _safely(notify: Callable[..., None], *args: object) -> None:
        # An observer's bug must never stop a call's bookkeeping (it runs inside the engine's unit of work).
        try:
            notify(*args)
        except Exception:
            log.exception("call observer failed")

    def row_of(self, call_id: str) -> ResultRow | None:
        return self._rows.get(call_id)

    async def row(self, attempt: Attempt) -> ResultRow | None:
        """The attempt's number's row as it is now (read from the store when not held here); None: it is gone."""
        return await self._row(attempt)

    def forget(self, call_id: str) -> None:
        """Drop one attempt from the in-memory view (it is re-added with new facts)."""
        self._forget(call_id)

    def _forget(self, call_id: str) -> None:
        self._attempts.pop(call_id, None)
        self._rows.pop(call_id, None)

    async def _resolve(
        self,
        attempt: Attempt,
        events: Sequence[RowEvent],
        now: float,
        outcome: CustomerOutcome | None,
        rejected: bool,
    ) -> tuple[Attempt, ResultRow | None]:
        """The attempt and its number's row after ``events`` (None: the number is gone); nothing is stored."""
        row = await self._row(attempt)
        if row is None:
            return attempt, None
        for event in events:
            row = apply_event(row, event, now)
        if row.is_closed:
            result = row.result
            row = decide(await self._policy(attempt.task_id), row, retry_class_for(result, outcome, rejected), now)
            # An abandoned call (safe harbor played) keeps its own outcome: the stats count it per campaign day.
            outcome_word = call_results.ABANDONED_STATE if row.state == call_results.ABANDONED_STATE else result
            attempt = replace(attempt, settled=True, outcome=outcome_word)
            log.info("%s", outcome_line(attempt, row, result))
        return attempt, row

    async def _row(self, attempt: Attempt) -> ResultRow | None:
        row = self._rows.get(attempt.call_id)
        if row is None:
            number = await self._store.get_number(attempt.number_id)
            row = None if number is None else number.row
        return row

    def defer_announcements(self) -> None:
        """Hold AutoDialer UserEvents (e.g. while a store batch is open) until ``flush_announcements``."""
        if self._deferred is None:
            self._deferred = []

    async def flush_announcements(self) -> None:
        deferred, self._deferred = self._deferred or [], None
        # Written in order, answers awaited together (one PBX round trip for the lot).
        await asyncio.gather(*(self.announce(fields) for fields in deferred))

    async def announce(self, fields: dict[str, str]) -> None:
        """Send an AutoDialer UserEvent. One the PBX refuses or cannot take (shutting down, link down) waits in the
        outbox and is sent again, in order, by ``resend_announcements`` once the PBX is back."""
        if self._deferred is not None:
            self._deferred.append(fields)
            return
        if self._outbox:  # keep the order: nothing overtakes what waits
            self._hold(fields)
            return
        try:
            await self._events.user_event(AUTODIALER_EVENT, fields)
        except ConnectionError as e:
            log.warning("AutoDialer UserEvent not sent (%s), kept to send again: %s", e, fields)
            self._hold(fields)

    async def resend_announcements(self) -> None:
        """Send what the outbox holds, oldest first; stop at the first refusal (the PBX is not back after all)."""
        while self._outbox:
            fields = self._outbox[0]
            try:
                await self._events.user_event(AUTODIALER_EVENT, fields)
            except ConnectionError as e:
                log.warning("AutoDialer UserEvents still refused (%s): %d kept", e, len(self._outbox))
                return
            self._outbox.popleft()

    @property
    def unsent_announcements(self) -> int:
        return len(self._outbox)

    def _hold(self, fields: dict[str, str]) -> None:
        if len(self._outbox) == self._outbox.maxlen:
            log.error("AutoDialer UserEvent outbox full: the oldest notice is dropped: %s", self._outbox[0])
        self._outbox.append(fields)

    def note_tasks(self, tasks: Sequence[DialTask]) -> None:
        """The open tasks as the engine just read them: their retry overrides save a read per settled call."""
        self._overrides = {task.task_id: task.retry_overrides for task in tasks}

    async def _policy(self, task_id: int) -> RetryPolicy:
        base = self._retry_policy
        if task_id in self._overrides:
            overrides = self._overrides[task_id]
        else:  # closed or deleted since the last planning round: ask the store
            task = await self._store.get_task(task_id)
            overrides = task.retry_overrides if task is not None else None
        if not overrides:
            return base
        try:
            return base.with_overrides(overrides)
        except InvalidRetryPolicy as e:
            log.warning("task %s: stored retry policy ignored: %s", task_id, e)
            return base


def outcome_line(attempt: Attempt, row: ResultRow, result: str) -> str:
    """The INFO line for a settled attempt: task, call, number, result, why (dial status, cause) and what next."""
    parts = (
        row.out_dial_state and f"customer {row.out_dial_state}",
        row.in_dial_state and f"agent {row.in_dial_state}",
        row.cause and f"cause {row.cause!r}",
    )
    why = ", ".join(part for part in parts if part)
    details = f" ({why})" if why else ""
    later = "" if row.is_closed else f"; dialled again from {clock_text(row.next_attempt_at)}"
    return f"task {attempt.task_id}: call {attempt.call_id} to {attempt.phone}: {result}{details}{later}"
