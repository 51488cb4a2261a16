"""DialerEngine: places the campaign calls and keeps every number's MikoPBX result row current.

The loop is event driven: it wakes on an availability change, a call event, a task change (``task_changed``, called
by the API) or the next due time the domain computed (``plan_dials``), never on a fixed timer. For each call:
reserve an agent → store the attempt (``start_attempts``) BEFORE the Originate, with our call id that becomes the
Asterisk ChannelId/Linkedid → ``CallControl.originate`` → call events and FastAGI reports update the row through
the result state machine → the reservation is released on every outcome (rejected, failed, ended, lost).

Crash safety: on start, stored in-flight attempts are reconciled with ``CallControl.live_calls()``: live ones are
adopted (their numbers and agents stay held), vanished ones are closed. An attempt is never originated twice: a
new call for the same number is a new attempt with a new id, made only after the old one finished. A watchdog
periodically closes attempts the PBX no longer knows, so a lost event cannot hold a channel slot forever.

This module composes the parts, each in a module of its own, around their shared state and its one lock
(engine_state.EngineState: the engine lock guards the calls in flight, their rows and the pacing book):

- dial_rounds.DialRounds: planning rounds and their Originates (the lock held to plan and to settle, never across
  the PBX round trip);
- call_reports.CallReports: AMI call events and the FastAGI /connect reports, one queue applied in store batches
  under the lock (never in the handler's own task: a handler cancelled after its hangup must not cut a write
  transaction short; on SQLite that left the write lock held until the busy timeout and stalled every call, issue
  11);
- poll_reports.PollReports: the /poll step's reports (answers, opt-out), through the same queue;
- reconciliation.Reconciliation: start-up/reconnect reconciliation and the watchdog, under the lock.

What the events do to the rows (state machine, retry decision, release) is the AttemptLedger's job. The FastAGI
handlers reach the engine through CallProgress, which it implements by delegating to the parts.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

from autodialer.services.call_observer import CallObserver
from autodialer.services.call_progress import ConnectContext, PollContext
from autodialer.services.call_reports import CallReports
from autodialer.services.dial_rounds import DialRounds
from autodialer.services.dialer_store import Attempt, DialerStore
from autodialer.services.engine_state import EngineSettings, EngineState, PbxPause
from autodialer.services.number_eligibility import NumberEligibility
from autodialer.services.pbx_events import UserEventSink
from autodialer.services.poll_reports import PollReports
from autodialer.services.ports import AvailabilityView, CallControl, Clock
from autodialer.services.reconciliation import Reconciliation
from autodialer.services.timing import Sleeper

__all__ = ["DialerEngine", "EngineSettings", "new_call_id"]

log = logging.getLogger(__name__)


def new_call_id() -> str:
    return f"dlr-{uuid.uuid4().hex[:16]}"


class DialerEngine:
    """Implements services.call_progress.CallProgress for the FastAGI handlers.

    Holds no lock itself beyond ``start``, which takes the engine lock (``EngineState.lock``) around
    reconciliation; each part takes it as its docstring says."""

    def __init__(
        self,
        store: DialerStore,
        calls: CallControl,
        availability: AvailabilityView,
        clock: Clock,
        sleeper: Sleeper,
        events: UserEventSink,
        settings: EngineSettings | None = None,
        call_ids: Callable[[], str] = new_call_id,
        eligibility: NumberEligibility | None = None,  # the call window (AUTODIALER_CALL_WINDOW) when one is set
    ) -> None:
        self._state = EngineState(store, calls, clock, events, settings or EngineSettings())
        self._settings = self._state.settings
        self._calls = calls
        self._availability = availability
        self._clock = clock
        self._sleeper = sleeper
        self._ledger = self._state.ledger
        self._reports = CallReports(self._state)
        self._polls = PollReports(self._state, self._reports)
        self._reconciliation = Reconciliation(self._state, self._reports)
        self._rounds = DialRounds(self._state, self._reports, self._reconciliation, availability, call_ids, eligibility)
        self._subscribed = False

    # ---- lifecycle

    async def start(self) -> None:
        """Subscribe to the PBX and reconcile the attempts a previous run left in flight (idempotent).

        Until reconciliation succeeded no call is placed: ``step`` retries it first.
        """
        if not self._subscribed:
            self._subscribed = True
            self._calls.on_call_event(self._reports.enqueue)
            self._availability.on_change(self.wake)
        async with self._state.lock:
            if not self._state.reconciled:
                self._state.reconciled = await self._reconciliation.reconcile()

    async def run(self) -> None:
        """Start, then loop until cancelled: handle events, plan, sleep until the next deadline or a wake-up.

        This is the engine's task supervisor: an unexpected error is logged and the loop resumes after a capped
        backoff, so one bad row cannot stop every campaign.
        """
        failures = 0
        while True:
            try:
                await self.start()
                deadline = await self.step()
                failures = 0
            except Exception:
                failures += 1
                backoff = min(self._settings.max_backoff_s, 0.5 * 2**failures)
                log.exception("dialer engine step failed, retrying in %.1fs", backoff)
                deadline = self._clock.now() + backoff
            await self._wait(deadline)

    async def step(self) -> float | None:
        """Handle the queued call events, then plan and start calls; return the next deadline (None: events only)."""
        await self.start()
        if not self._state.reconciled:
            # The PBX did not answer yet (at start-up the AMI link is still connecting): no call is placed before
            # we know which stored attempts are still live; the re-sync after the login wakes us to try again.
            return self._clock.now() + self._settings.reconcile_retry_s
        await self.process_events()
        return await self._rounds.run()

    async def process_events(self) -> None:
        """Apply the call events and handler reports queued now (call_reports.CallReports.process_events)."""
        await self._reports.process_events()

    def wake(self) -> None:
        self._state.wake()

    def task_changed(self) -> None:
        """The API created, changed, paused, resumed or deleted a task or its numbers."""
        self._rounds.check_do_not_call()  # new numbers may be on the do-not-call list
        self.wake()

    @property
    def calls_in_flight(self) -> int:
        return len(self._ledger)

    def reserved_agents(self) -> frozenset[str]:
        return self._ledger.reserved_agents()

    def calls_now(self) -> list[Attempt]:
        """The calls in flight (the wallboard's read; a copy)."""
        return self._ledger.all()

    def is_paced(self, attempt: Attempt) -> bool:
        """A call its campaign's pacing placed without reserving anyone (not a queue's demand)."""
        return self._state.pacing.is_paced(attempt)

    def dispatch_pause(self) -> PbxPause:
        """Dispatch paused after a PBX refusal: since, until, what the PBX said (explain's words)."""
        return self._state.pbx_pause

    def observe_calls(self, observer: CallObserver) -> None:
        """Tell ``observer`` of every call's start, progress and end (one observer: the live wallboard)."""
        self._ledger.observer = observer

    @property
    def state(self) -> EngineState:
        """What the engine's parts share: the engine lock (whoever holds ``state.lock`` holds every part back, as a
        planning round does), the calls in flight, the pacing book."""
        return self._state

    async def watchdog(self, now: float) -> float:
        """Check the calls in flight against the PBX if the watchdog is due (a step does this; the caller holds
        ``state.lock``); the next time it is due."""
        return await self._reconciliation.watchdog(now)

    # ---- waiting

    async def _wait(self, deadline: float | None) -> None:
        wakeup = self._state.wakeup
        due_now = deadline is not None and deadline <= self._clock.now()
        if wakeup.is_set() or self._reports.pending or due_now:
            wakeup.clear()
            return
        waiters: list[asyncio.Task[object]] = [asyncio.create_task(wakeup.wait())]
        if deadline is not None:
            waiters.append(asyncio.create_task(self._sleeper.sleep(max(0.0, deadline - self._clock.now()))))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        wakeup.clear()

    # ---- CallProgress (FastAGI handlers): call_reports for /connect, poll_reports for /poll

    async def connect_context(self, call_id: str) -> ConnectContext | None:
        return await self._reports.connect_context(call_id)

    async def customer_answered(self, call_id: str) -> None:
        await self._reports.customer_answered(call_id)

    def connect_started(self, call_id: str, verbose_call_id: str | None) -> asyncio.Future[bool]:
        return self._reports.connect_started(call_id, verbose_call_id)

    def agent_busy(self, call_id: str) -> asyncio.Future[bool]:
        return self._reports.agent_busy(call_id)

    def abandoned(self, call_id: str) -> asyncio.Future[bool]:
        return self._reports.abandoned(call_id)

    def connect_ended(self, call_id: str, dial_status: str, customer_hung_up_first: bool) -> asyncio.Future[bool]:
        return self._reports.connect_ended(call_id, dial_status, customer_hung_up_first)

    async def poll_context(self, call_id: str) -> PollContext | None:
        return await self._polls.poll_context(call_id)

    async def poll_started(self, call_id: str, verbose_call_id: str | None = None) -> None:
        await self._polls.poll_started(call_id, verbose_call_id)

    async def poll_completed(self, call_id: str) -> None:
        await self._polls.poll_completed(call_id)

    async def transfer_ended(self, call_id: str, dial_status: str) -> bool:
        return await self._polls.transfer_ended(call_id, dial_status)

    async def poll_answer(
        self,
        call_id: str,
        question_id: str,
        result: str,
        exten: str,
        *,
        asked: str | None = None,
        poll_version: int | None = None,
    ) -> None:
        await self._polls.poll_answer(call_id, question_id, result, exten, asked=asked, poll_version=poll_version)

    async def opt_out(self, call_id: str) -> None:
        await self._polls.opt_out(call_id)
