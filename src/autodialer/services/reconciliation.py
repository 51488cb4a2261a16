"""Reconciliation and the watchdog: the calls in flight checked against what the PBX lists.

On start, and whenever the PBX link comes back, the stored in-flight attempts are reconciled with
``CallControl.live_calls()``: live ones are adopted (their numbers and agents stay held), vanished ones are closed.
An attempt is never originated twice: a new call for the same number is a new attempt with a new id, made only
after the old one finished. A call the PBX no longer lists is judged with the PBX's own marks of an answer
(``CallControl.call_marks``, docs/dialplan.md): the customer's mark and the employee's answer mark
(``dialer-agent-answered/<call id>``). One whose employee answered ends as the success it was; one without an
answer by a dialplan that marks every answer was provably never answered (dialled again untouched); any other is
lostOnRestart (charged, retried under the policy; ARCHITECTURE.md). The watchdog periodically closes attempts the
PBX no longer knows, so a lost event cannot hold a channel slot forever.

Both run holding the engine lock (engine_state): the engine's ``start`` takes it around ``reconcile``, a planning
round around ``watchdog``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from autodialer.domain import call_results
from autodialer.domain.mikopbx_results import ANSWER
from autodialer.services.call_reports import CallReports
from autodialer.services.dialer_store import Attempt
from autodialer.services.engine_state import NO_PAUSE, EngineState
from autodialer.services.ports import CallMarks, LiveCall

log = logging.getLogger("autodialer.services.dialer_engine")


class Reconciliation:
    """Adopts, releases or closes calls in flight. ``reconcile`` and ``watchdog`` are called holding the engine
    lock (``EngineState.lock``), which guards the ledger and the rows they change; the queued events they apply
    first go through ``CallReports`` under that same lock."""

    def __init__(self, state: EngineState, reports: CallReports) -> None:
        self._state = state
        self._ledger = state.ledger
        self._store = state.store
        self._calls = state.calls
        self._clock = state.clock
        self._settings = state.settings
        self._reports = reports
        self._next_watchdog = 0.0
        self._unlisted_since: float | None = None  # when reconciliation first missed a written, unconfirmed call

    async def reconcile(self) -> bool:
        """Adopt, release or close the in-flight attempts (stored ones after a restart, held ones after the PBX link
        was down); False while the PBX cannot tell which are live.

        A call the PBX lists is adopted and followed to its real end (never dialled again). One it does not list
        was either never sent (stored, not written: released, the number queued again untouched) or may have rung
        and died while we could not hear it (lostOnRestart, charged and retried under the policy; ARCHITECTURE.md)."""
        for attempt in await self._store.attempts_in_flight():
            self._ledger.add(attempt)
        if not len(self._ledger):
            await self._after_reconcile()
            return True
        try:
            live = {call.call_id: call for call in await self._calls.live_calls()}
        except ConnectionError:
            log.warning("PBX unreachable: %d attempts held until it answers", len(self._ledger))
            return False
        await self._adopt_listed(live)
        if self._awaiting_unconfirmed(live):
            return False
        # Events that arrived before the verdict belong before it: a call that ended normally is not lost.
        await self._reports.handle_queued()
        self._reports.reports_done()
        now = self._clock.now()
        held = self._ledger.all()
        try:
            # Asked after the listing: a call the PBX no longer lists set its mark (if it was answered) before it
            # ended, so a missing mark is a call that never reached the customer.
            marked = await self._answered_on_pbx([a for a in held if a.written and a.call_id not in live])
        except ConnectionError:
            log.warning("PBX unreachable: %d attempts held until it answers", len(self._ledger))
            return False
        unsent: list[Attempt] = []
        for attempt in held:
            call = live.get(attempt.call_id)
            if call is None and not attempt.written:
                unsent.append(attempt)
            elif call is None:
                log.info("call %s vanished while we could not hear the PBX: lost", attempt.call_id)
                await self._close_lost(attempt, now, marked)
            elif call.state == "Up" and not attempt.answered:
                # Adopted (and, if bridged to an employee, stored so by _adopt_listed): the customer answered.
                await self._ledger.save(replace(attempt, answered=True))
        await self._ledger.release(unsent)
        log.info(
            "reconciled %d attempts in flight: %d still live, %d never reached the PBX",
            len(held),
            len(self._ledger),
            len(unsent),
        )
        await self._after_reconcile()
        return True

    async def _adopt_listed(self, live: Mapping[str, LiveCall]) -> None:
        """What a listing shows, applied as it is seen, even while the verdict waits for a call not yet listed.

        A listed call was taken by the PBX after all: its row begins first, so that what queued meanwhile (a connect
        step may have run while we were judging) applies on top of it, not under a row begun afresh. A listed call
        whose originated half is bridged was answered by an employee (the connect step that would report endDial
        died with the old process): stored now, so that its end, heard while the verdict waits, is the success it
        was, not a hang-up before the answer blamed on the customer."""
        now = self._clock.now()
        for attempt in self._ledger.all():
            call = live.get(attempt.call_id)
            if call is None:
                continue
            if not attempt.confirmed:
                await self._confirm_adopted(attempt, now)
            current = self._ledger.get(attempt.call_id) or attempt
            if call.agent_connected and not current.agent_connected:
                log.info("call %s: bridged to an employee when listed: an employee answered", attempt.call_id)
                await self._employee_answered(current)

    def _awaiting_unconfirmed(self, live: Mapping[str, object]) -> bool:
        """True while an Originate we wrote, unconfirmed and not listed by the PBX, is inside its grace: the whole
        verdict waits (nothing is planned meanwhile) so that a call the PBX starts late is adopted, never redialled.
        """
        missing = [a.call_id for a in self._ledger.all() if a.written and not a.confirmed and a.call_id not in live]
        now = self._clock.now()
        if not missing:
            self._unlisted_since = None
            return False
        if self._unlisted_since is None:
            self._unlisted_since = now
        if now - self._unlisted_since < self._settings.unconfirmed_grace_s:
            log.info("%d calls written but not yet listed by the PBX: asking again before judging", len(missing))
            return True
        self._unlisted_since = None
        return False

    async def _after_reconcile(self) -> None:
        """The PBX answers again: dispatching resumes and the UserEvents it refused meanwhile go out."""
        self._state.pbx_pause = NO_PAUSE
        await self._ledger.resend_announcements()

    async def _close_lost(self, attempt: Attempt, now: float, marks: CallMarks) -> None:
        """A call the PBX does not list any more. One we never heard confirmed may have rung (its Originate was
        written): it is charged its try and lost, like a confirmed one, rather than dialled again for free. Only
        one that provably never reached its customer may be dialled again (ledger.close_lost). One whose employee
        answered by the PBX's mark (we died before storing it) is the success it was, as if AMI had told us."""
        if not attempt.confirmed:
            await self._confirm_adopted(attempt, now)
            attempt = self._ledger.get(attempt.call_id) or attempt
        if not attempt.agent_connected and attempt.call_id in (marks.employee or ()):
            log.info("call %s: an employee answered by the PBX's mark, not stored before we lost it", attempt.call_id)
            attempt = await self._employee_answered(attempt)
        await self._ledger.close_lost(
            attempt,
            now,
            proven_unanswered=_proven_unanswered(attempt, marks),
            proven_unserved=_proven_unserved(attempt, marks),
        )

    async def _employee_answered(self, attempt: Attempt) -> Attempt:
        """Store what the PBX showed (a bridge in its listing, an employee's mark) and we did not hear: an employee
        answered this call, so its Dial's status is ANSWER and the connect step ran up to it (employee_step_ran)."""
        ran = await self._reports.employee_step_ran(attempt)
        connected = replace(ran, answered=True, agent_connected=True, m_dial_status=ANSWER)
        await self._ledger.save(connected)
        return connected

    async def _answered_on_pbx(self, lost: Sequence[Attempt]) -> CallMarks:
        """Of the ``lost`` attempts without an employee's answer stored here, those whose customer and those whose
        employee answered by the PBX's own record (the dialplan's marks, docs/dialplan.md); a record is None when
        the installed dialplan does not write it (then no lost call is provably unanswered, or no lost employee's
        answer is found). ConnectionError: cannot ask now."""
        unknown = [a.call_id for a in lost if not a.agent_connected]
        if not unknown:
            return CallMarks(frozenset(), frozenset())
        marks = await self._calls.call_marks(unknown)
        unanswered = sum(1 for a in lost if not (a.answered or a.agent_connected))
        if marks.customer is None and unanswered:
            log.warning(
                "the PBX's dialplan does not mark answered calls (docs/dialplan.md): %d lost calls are not "
                "dialled again, as their customers may have answered",
                unanswered,
            )
        if marks.employee is None:
            log.warning(
                "the PBX's dialplan does not mark an employee's answer (docs/dialplan.md): %d lost calls an "
                "employee may have taken end lostOnRestart, not the success they may have been",
                len(unknown),
            )
        return marks

    async def _confirm_adopted(self, attempt: Attempt, now: float) -> None:
        """An unconfirmed attempt that (maybe) went out: its number's row gets its try now."""
        number = await self._store.get_number(attempt.number_id)
        if number is None:
            return
        call_file = call_results.call_file_name(attempt.task_id, number.dial_digits, attempt.inner_num)
        row = (
            number.row
            if number.row.is_closed
            else call_results.begin_attempt(number.row, attempt.call_id, call_file, now)
        )
        await self._store.confirm_attempts([(attempt, row)])
        self._ledger.forget(attempt.call_id)
        self._ledger.add(replace(attempt, written=True, confirmed=True), row)

    async def watchdog(self, now: float) -> float:
        """Every ``watchdog_interval_s``: close the attempts older than the grace that the PBX no longer lists, hang
        up those up longer than ``max_call_s``; return when it is due again."""
        if now < self._next_watchdog:
            return self._next_watchdog
        self._next_watchdog = now + self._settings.watchdog_interval_s
        old = [a for a in self._ledger.all() if now - a.created_at >= self._settings.watchdog_grace_s]
        if old:
            try:
                live = {call.call_id for call in await self._calls.live_calls()}
            except ConnectionError:
                return self._next_watchdog
            # Events that arrived while we asked belong before the verdict: a call that ended normally is not lost.
            await self._reports.handle_queued()
            self._reports.reports_done()
            gone = [c for a in old if a.call_id not in live and (c := self._ledger.get(a.call_id)) is not None]
            try:
                marked = await self._answered_on_pbx([a for a in gone if a.written])
            except ConnectionError:
                return self._next_watchdog
            unsent: list[Attempt] = []
            for attempt in old:
                current = self._ledger.get(attempt.call_id)
                if current is not None and attempt.call_id not in live and not current.written:
                    log.warning("call %s: Originate never sent and unknown to the PBX: released", attempt.call_id)
                    unsent.append(current)
                elif current is not None and attempt.call_id not in live:
                    log.warning("call %s is unknown to the PBX: closing it", attempt.call_id)
                    await self._close_lost(current, now, marked)
                elif attempt.call_id in live and now - attempt.created_at >= self._settings.max_call_s:
                    log.warning("call %s exceeded %.0fs: hanging it up", attempt.call_id, self._settings.max_call_s)
                    await self._calls.hangup(attempt.call_id)
            await self._ledger.release(unsent)
        return self._next_watchdog


def _proven_unanswered(attempt: Attempt, marks: CallMarks) -> bool:
    """A lost call provably never reached its customer: no answer heard or stored, and the PBX, which marks every
    answered call of ours, has no mark for it."""
    marked = marks.customer
    return not (attempt.answered or attempt.agent_connected) and marked is not None and attempt.call_id not in marked


def _proven_unserved(attempt: Attempt, marks: CallMarks) -> bool:
    """A lost connect call provably never reached an employee: none answered by what we stored, and the PBX, which
    marks every employee's answer to our Dial (the connect context's ``s`` step, U()), has no mark for it. A poll's
    customer may have answered its questions: it is not judged so."""
    marked = marks.employee
    return (
        attempt.mode == "connect"
        and not attempt.agent_connected
        and marked is not None
        and attempt.call_id not in marked
    )
