"""Call progress: AMI call events and the FastAGI /connect reports, applied in the engine's batches.

AMI call events (``enqueue``, called synchronously by the adapter) and the FastAGI handlers' reports (startDial,
endDial, allUserBusy, answered, abandoned; poll_reports adds the poll's) join one queue, in arrival order. They are
applied by the engine (``process_events``), in store batches of at most ``event_batch`` items, each batch holding
the engine lock (engine_state) for its one transaction and releasing it between batches; never in the handler's own
task (a handler cancelled after its hangup must not cut a write transaction short: on SQLite that left the write
lock held until the busy timeout and stalled every call, issue 11). What the events do to the rows (state machine,
retry decision, release) is the AttemptLedger's job.

Items about the calls of a round whose Originates are on their way (``hold_back``) wait until that round is settled
(``release_held``), so a call's row never sees its events before the answer to its Originate.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from autodialer.domain import call_results
from autodialer.domain.call_events import (
    AgentConnected,
    CallEnded,
    CallEvent,
    CustomerAnswered,
    CustomerFailed,
    CustomerRinging,
)
from autodialer.domain.mikopbx_results import ANSWER, EventName, RowEvent
from autodialer.services.call_progress import ConnectContext
from autodialer.services.dialer_store import Attempt
from autodialer.services.engine_state import EngineState

# The engine's parts log under the name they always had (AUTODIALER_LOG_LEVELS, docs).
log = logging.getLogger("autodialer.services.dialer_engine")


@dataclass(frozen=True, slots=True)
class _Report:
    """A FastAGI handler's report (``work``) about ``call_id``, queued with the call events; ``done`` is set once it
    was applied (or found nothing to apply): True when its unit of work committed, False when it was rolled back. A
    handler cancelled while it waits leaves the report queued: it still applies."""

    call_id: str
    work: Callable[[], Awaitable[None]]
    done: asyncio.Future[bool]


class CallReports:
    """The queue of call events and handler reports and the /connect reports. Takes the engine lock
    (``EngineState.lock``) per batch in ``process_events``; ``handle_queued``, ``reports_done`` and
    ``employee_step_ran`` are called holding it (by reconciliation and the watchdog). The queue itself is touched only
    on the event loop, without a lock."""

    def __init__(self, state: EngineState) -> None:
        self._state = state
        self._ledger = state.ledger
        self._pending: deque[CallEvent | _Report] = deque()
        # The calls of the round whose Originates are on their way (sent without the lock) and the events and reports
        # about them that arrived meanwhile: applied, in arrival order, once the round is settled.
        self._settling: set[str] = set()
        self._held: deque[CallEvent | _Report] = deque()
        self._drainer: asyncio.Task[None] | None = None  # applies handler reports when the loop is not running
        self._applied: list[asyncio.Future[bool]] = []  # handler reports applied, their batch not committed yet

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def enqueue(self, event: CallEvent) -> None:
        # Called synchronously by the adapter: keep arrival order, do the work in the loop.
        self._pending.append(event)
        self._state.wake()

    def hold_back(self, call_ids: Iterable[str]) -> None:
        """Items about these calls wait (their round's Originates are on their way) until ``release_held``."""
        self._settling.update(call_ids)

    def release_held(self) -> None:
        self._settling.clear()
        if self._held:  # back to the front of the queue, in their order: they arrived before what is there
            self._pending.extendleft(reversed(self._held))
            self._held.clear()
            self._state.wake()

    async def process_events(self) -> None:
        """Apply the call events and handler reports queued now, in arrival order, in store batches (one transaction
        each, at most ``event_batch`` items, the lock released between them); what arrives meanwhile waits for the
        next call, so planning is never held off by a steady stream. The AutoDialer UserEvents they cause are sent
        after each batch commits, never while it holds the write lock."""
        state = self._state
        remaining = len(self._pending)
        while remaining > 0 and self._pending:
            async with state.lock:
                if not state.reconciled:
                    return  # reconciliation applies them first (events before its verdict belong before it)
                self._ledger.defer_announcements()
                committed = False
                try:
                    async with state.store.batch():
                        count = min(remaining, state.settings.event_batch, len(self._pending))
                        remaining -= count
                        await self.handle_queued(count)
                    committed = True
                except Exception:
                    # The batch was rolled back while the ledger already moved on: drop its view and let
                    # reconciliation rebuild it from what the store kept, before anything else is planned.
                    self._ledger.forget_all()
                    state.reconciled = False
                    raise
                finally:
                    self.reports_done(committed)
                    await self._ledger.flush_announcements()

    async def handle_queued(self, count: int | None = None) -> None:
        """Apply the first ``count`` queued items (None: all), holding back those about calls still settling."""
        todo = len(self._pending) if count is None else count
        for _ in range(todo):
            item = self._pending.popleft()
            if self._settling and item.call_id in self._settling:
                self._held.append(item)  # its Originate's answer is not recorded yet: it applies after that
            else:
                await self._handle(item)

    def reports_done(self, committed: bool = True) -> None:
        applied, self._applied = self._applied, []
        for done in applied:
            if not done.done():  # cancelled when its handler was
                done.set_result(committed)

    def queue(self, call_id: str, work: Callable[[], Awaitable[None]]) -> asyncio.Future[bool]:
        """Queue a handler's report behind the events that arrived before it (now, before the caller's next step
        can cause any); the future is set once it was applied (True: committed).

        Before reconciliation (start-up, the PBX link back) reconciliation applies it, with the events queued
        before it, once the PBX answers."""
        report = _Report(call_id, work, asyncio.get_running_loop().create_future())
        self._pending.append(report)
        self._state.wake()
        if self._state.reconciled and (self._drainer is None or self._drainer.done()):
            self._drainer = asyncio.create_task(self._drain(), name="dialer-reports")
        return report.done

    async def submit(self, call_id: str, work: Callable[[], Awaitable[None]]) -> None:
        """Queue a handler's report and wait until it was applied."""
        await self.queue(call_id, work)

    async def report(self, call_id: str, events: Sequence[RowEvent]) -> None:
        """Apply ``events`` to the call's row, queued like any report, and wait until that was applied."""
        await self.queue_events(call_id, events)

    def queue_events(self, call_id: str, events: Sequence[RowEvent]) -> asyncio.Future[bool]:
        """Queue ``events`` for the call's row now; the future is set once applied (True: committed)."""

        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is not None:
                await self._ledger.apply(attempt, events, self._state.clock.now())

        return self.queue(call_id, work)

    async def _drain(self) -> None:
        """Apply the queue now (the run loop may be busy with a planning round, or not running at all)."""
        try:
            while self._pending and self._state.reconciled:
                await self.process_events()
        except Exception:
            log.exception("dialer: applying call events and reports failed; reconciling first")
            self._state.wake()

    async def _handle(self, event: CallEvent | _Report) -> None:
        if isinstance(event, _Report):
            try:
                await event.work()
            finally:
                self._applied.append(event.done)  # set once its unit of work committed (or failed)
            return
        attempt = self._ledger.get(event.call_id)
        if attempt is None:
            log.debug("event for a call that is not ours or already finished: %s", event)
            return
        now = self._state.clock.now()
        event = self._state.pacing.ended_by_us(event)  # a ringing call predictive ended: a no-answer of ours
        self._state.pacing.observe(attempt, event, now)
        match event:
            case CustomerRinging():
                pass
            case CustomerAnswered():
                await self._ledger.save(replace(attempt, answered=True))
            case AgentConnected():
                # Stored now, not only when the connect step ends: a call lost with us after this is a success.
                log.info("call %s: an employee answered", event.call_id)
                attempt = await self.employee_step_ran(attempt)
                await self._ledger.save(replace(attempt, answered=True, agent_connected=True))
            case CustomerFailed(pbx_shutdown=True) | CallEnded(pbx_shutdown=True):
                # We heard this call's events up to here, in order: whether its customer answered is known.
                log.info("call %s: hung up by the PBX shutting down", event.call_id)
                # No employee answered either (AgentConnected would have come first): retried under the policy.
                unserved = attempt.mode == "connect" and not attempt.agent_connected
                await self._ledger.close_lost(
                    attempt, now, proven_unanswered=not attempt.answered, proven_unserved=unserved
                )
            case CustomerFailed():
                status = call_results.customer_dial_status(event)
                events = call_results.customer_failed(event)
                await self._ledger.finish(attempt, now, dial_status=status, events=events, outcome=event.outcome)
            case CallEnded():
                cause = call_results.cause_text(event)
                # An employee answered (seen on AMI) but the connect step that reports endDial died with us (an
                # adopted call): the Dial's status is ANSWER, not "no endDial", which would blame the customer.
                m_dial_status = ANSWER if attempt.agent_connected else attempt.m_dial_status
                ended = call_results.call_ended(event.call_id, cause, m_dial_status)
                await self._ledger.finish(attempt, now, dial_status=ANSWER, events=[ended])

    async def employee_step_ran(self, attempt: Attempt) -> Attempt:
        """An employee answered this call, so the step that dialled them ran up to its Dial, and what it reports
        before the Dial must be on the row. A connect step queued startDial before its Dial: a row without it lost
        that report with us (killed between the Dial and the report's commit), so startDial is applied now and the
        call ends as the SUCCESS_CLIENT_H it is (endDial died with the step), not a bare SUCCESS. A poll transfers
        only after EVENT_POLLING_END committed: a row still open (that write rolled back) gets it now, so the poll
        is the SUCCESS_POLLING it was, never a FAIL_POLLING or lostOnRestart."""
        row = await self._ledger.row(attempt)
        if row is None or row.is_closed:
            return attempt
        now = self._state.clock.now()
        if attempt.mode == "poll":
            log.info(
                "call %s: transferred to an employee but its EVENT_POLLING_END is missing: recorded now",
                attempt.call_id,
            )
            return await self._ledger.apply(attempt, [call_results.poll_completed(attempt.call_id)], now)
        if attempt.mode != "connect" or row.state in (EventName.START_DIAL, EventName.END_DIAL):
            return attempt
        log.info("call %s: an employee answered but its startDial was lost with us: recorded now", attempt.call_id)
        return await self._ledger.apply(attempt, [call_results.connect_started(attempt.call_id)], now)

    # ---- CallProgress: the /connect step's reports

    async def connect_context(self, call_id: str) -> ConnectContext | None:
        attempt = self._ledger.get(call_id)
        if attempt is None or attempt.mode != "connect":
            return None
        pacing = self._state.pacing
        if pacing.is_paced(attempt):
            # Nobody was reserved: the customer goes to the queue and waits there at most abandon_after_s.
            settings = pacing.settings(attempt.task_id)
            return ConnectContext(
                call_id, attempt.task_id, attempt.inner_num, None, settings.abandon_after_s, settings.safe_harbor
            )
        return ConnectContext(call_id, attempt.task_id, attempt.inner_num, attempt.agent)

    async def customer_answered(self, call_id: str) -> None:
        """Stored (committed) before this returns: from here on a crash cannot make the call look unanswered, so
        the handler may delete the PBX's own mark of the answer."""

        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is not None and not attempt.answered:
                await self._ledger.save(replace(attempt, answered=True))

        await self.submit(call_id, work)

    def connect_started(self, call_id: str, verbose_call_id: str | None) -> asyncio.Future[bool]:
        """Queued now, ahead of every event the Dial that follows can cause, and not waited for: the customer is
        put through at once, whatever the store's backlog (issue 9: under load customers hung up waiting for this
        commit). Both facts (answered, startDial) go in one unit of work, the engine's next event batch with the
        reports of every other connect step started meanwhile; the future says when it committed."""

        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is None:
                return
            if not attempt.answered:
                attempt = replace(attempt, answered=True)
                await self._ledger.save(attempt)
            await self._ledger.apply(
                attempt, [call_results.connect_started(call_id, verbose_call_id)], self._state.clock.now()
            )

        return self.queue(call_id, work)

    def agent_busy(self, call_id: str) -> asyncio.Future[bool]:
        return self.queue_events(call_id, [call_results.agent_busy(call_id)])

    def abandoned(self, call_id: str) -> asyncio.Future[bool]:
        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is None:
                return
            now = self._state.clock.now()
            log.info("call %s: the answered customer was not put through to an agent in time: abandoned", call_id)
            self._state.pacing.abandoned(attempt, now)
            await self._ledger.apply(attempt, [call_results.abandoned(call_id)], now)

        return self.queue(call_id, work)

    def connect_ended(self, call_id: str, dial_status: str, customer_hung_up_first: bool) -> asyncio.Future[bool]:
        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is None:
                return
            status = dial_status
            if attempt.agent_connected:
                # AMI saw the employee answer (AgentConnected): an answered Dial's DIALSTATUS is ANSWER, whatever a
                # connect step cut off by a dying PBX link could still read ("NOANSWER" when it read nothing).
                status = ANSWER
            await self._ledger.save(replace(attempt, m_dial_status=status))
            events = call_results.connect_ended(call_id, status, customer_hung_up_first)
            await self._ledger.apply(self._ledger.get(call_id) or attempt, events, self._state.clock.now())

        return self.queue(call_id, work)
