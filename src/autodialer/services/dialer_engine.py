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

The engine plans and starts calls, listens to the PBX, reconciles and watches; what the events do to the rows
(state machine, retry decision, release) is the AttemptLedger's job. All state changes run under one lock: AMI
events, FastAGI reports and the planner interleave only between whole steps, so a number's row is never updated
from two stale copies. The FastAGI handlers reach the engine through CallProgress, which it implements: their
reports join the call events' queue and are applied by the engine, in arrival order and in the same store batches,
never in the handler's own task (a handler cancelled after its hangup must not cut a write transaction short:
on SQLite that left the write lock held until the busy timeout and stalled every call, issue 11).
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from autodialer.domain import call_results
from autodialer.domain.call_events import (
    AgentConnected,
    CallEnded,
    CallEvent,
    CustomerAnswered,
    CustomerFailed,
    CustomerRinging,
)
from autodialer.domain.dialing import DialSnapshot, DialStart, DueNumber, TaskSlice, plan_dials
from autodialer.domain.mikopbx_results import ANSWER, EventName, ResultRow, RowEvent
from autodialer.domain.retry_policy import RetryPolicy
from autodialer.domain.token_bucket import TokenBucket
from autodialer.services.attempt_ledger import AttemptLedger
from autodialer.services.call_observer import CallObserver
from autodialer.services.call_progress import ConnectContext, PollContext
from autodialer.services.call_window_gate import CallWindowGate
from autodialer.services.dial_decisions import DecisionLog
from autodialer.services.dialer_store import Attempt, DialerStore, DialNumber, DialTask, PollAnswer
from autodialer.services.number_eligibility import NumberEligibility
from autodialer.services.pacing_book import PacingBook
from autodialer.services.pbx_events import UserEventSink, start_dial_fields
from autodialer.services.ports import (
    AvailabilityView,
    CallControl,
    CallMarks,
    Clock,
    OriginateRejected,
    OriginateRequest,
    OriginateUnconfirmed,
    PbxUnavailable,
)
from autodialer.services.queue_demand import dial_targets
from autodialer.services.timing import Sleeper

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    originate_timeout_s: int = 30
    caller_id: str = "Dialer"
    def_dial_prefix: str = ""
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)
    watchdog_interval_s: float = 30.0
    # An attempt younger than this is never closed as lost: the PBX may not list a call it is still setting up.
    watchdog_grace_s: float = 90.0
    # A call still up after this long is hung up (a stuck channel must not hold a slot and an agent for ever).
    max_call_s: float = 4 * 3600.0
    max_backoff_s: float = 30.0
    # How often reconciliation is retried while the PBX does not answer (a re-sync wakes the engine sooner).
    reconcile_retry_s: float = 1.0
    # An Originate we wrote but never heard the PBX take, that the PBX does not list yet, is given this long from
    # the first time we see it missing before it counts as lost: a PBX that stalled (or a backlog it is working
    # through after a restart of ours) may still run it, and it must be adopted then, not dialled a second time.
    unconfirmed_grace_s: float = 3.0
    # After the PBX refused an Originate for a reason of its own (shutting down, permission denied), no call is
    # placed for this long unless the link comes back sooner (a reconnect and re-sync resumes at once).
    pbx_pause_s: float = 5.0
    # The PBX's zone: predictive pacing's abandonment cap counts per local day.
    pbx_zone: str = "UTC"
    # Call events and handler reports applied per store transaction at most: the engine lock is released between
    # batches, so a steady stream of events cannot keep a planning round waiting.
    event_batch: int = 500
    # Originates per second the PBX link is given at most (AUTODIALER_ORIGINATE_RATE), and how many may go out at
    # once after a rest (None: a quarter of a second's worth). Asterisk works through one AMI session's actions in
    # order, so thousands written at once queue everything behind them there, the keepalive Ping included.
    originate_rate: float = 200.0
    originate_burst: int | None = None


@dataclass(frozen=True, slots=True)
class _Report:
    """A FastAGI handler's report (``work``) about ``call_id``, queued with the call events; ``done`` is set once it
    was applied (or found nothing to apply): True when its unit of work committed, False when it was rolled back. A
    handler cancelled while it waits leaves the report queued: it still applies."""

    call_id: str
    work: Callable[[], Awaitable[None]]
    done: asyncio.Future[bool]


@dataclass(frozen=True, slots=True)
class _Round:
    """A planning round's outcome: the stored, written attempts whose Originates go out now (sent and settled
    without holding the engine lock across the PBX round trip), and when to plan again."""

    now: float
    deadline: float | None
    watchdog_at: float
    dialled: Sequence[tuple[DialTask, Attempt, DialNumber]] = ()


# What an Originate can end with that _settle_round handles (anything else is a bug for the supervisor).
_DIAL_OUTCOMES = (OriginateRejected, ValueError, PbxUnavailable, OriginateUnconfirmed)


def new_call_id() -> str:
    return f"dlr-{uuid.uuid4().hex[:16]}"


class DialerEngine:
    """Implements services.call_progress.CallProgress for the FastAGI handlers."""

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
        self._store = store
        self._calls = calls
        self._availability = availability
        self._clock = clock
        self._sleeper = sleeper
        self._settings = settings or EngineSettings()
        self._call_ids = call_ids
        self._ledger = AttemptLedger(store, events, self._settings.retry_policy, on_finished=self.wake)
        self._decisions = DecisionLog()  # why a task is not dialling, at INFO when it changes
        self._pending: deque[CallEvent | _Report] = deque()
        # The calls of the round whose Originates are on their way (sent without the lock) and the events and reports
        # about them that arrived meanwhile: applied, in arrival order, once the round is settled.
        self._settling: set[str] = set()
        self._held: deque[CallEvent | _Report] = deque()
        rate = self._settings.originate_rate
        burst = self._settings.originate_burst or max(1, math.ceil(rate / 4))
        self._originates = TokenBucket(rate, burst, clock.now())
        # Tokens a rate-capped round waits for (20 rounds a second at most): one planning round per token would
        # spend on planning what the cap saves the PBX.
        self._round_tokens = min(burst, max(1, math.ceil(rate / 20)))
        self._drainer: asyncio.Task[None] | None = None  # applies handler reports when the loop is not running
        self._applied: list[asyncio.Future[bool]] = []  # handler reports applied, their batch not committed yet
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._next_watchdog = 0.0
        self._turns = 0
        self._last_turn: dict[int, int] = {}  # task id -> sequence number of its latest start (turn-taking)
        self._subscribed = False
        self._reconciled = False
        self._check_do_not_call = True  # at start, then after every task change
        self._due: dict[int, DialNumber] = {}  # numbers due in the current planning round, by id
        self._pbx_paused_until = 0.0  # the PBX refused Originates for reasons of its own: no dialing before this
        self._window = CallWindowGate(store, eligibility)  # due numbers the call window allows now
        self._replanned = False  # the last round re-planned at once after a refused claim
        self._unlisted_since: float | None = None  # when reconciliation first missed a written, unconfirmed call
        # Each campaign's pacing policy and what it learns (power/predictive calls go to the queue unreserved).
        self._pacing = PacingBook(self._settings.pbx_zone)

    # ---- lifecycle

    async def start(self) -> None:
        """Subscribe to the PBX and reconcile the attempts a previous run left in flight (idempotent).

        Until reconciliation succeeded no call is placed: ``step`` retries it first.
        """
        if not self._subscribed:
            self._subscribed = True
            self._calls.on_call_event(self._enqueue)
            self._availability.on_change(self.wake)
        async with self._lock:
            if not self._reconciled:
                self._reconciled = await self._reconcile()

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
        if not self._reconciled:
            # The PBX did not answer yet (at start-up the AMI link is still connecting): no call is placed before
            # we know which stored attempts are still live; the re-sync after the login wakes us to try again.
            return self._clock.now() + self._settings.reconcile_retry_s
        await self.process_events()
        async with self._lock:
            planned = await self._tick()
        return await self._send_round(planned)

    def wake(self) -> None:
        self._wake.set()

    def task_changed(self) -> None:
        """The API created, changed, paused, resumed or deleted a task or its numbers."""
        self._check_do_not_call = True  # new numbers may be on the do-not-call list
        self.wake()

    @property
    def calls_in_flight(self) -> int:
        return len(self._ledger)

    def reserved_agents(self) -> frozenset[str]:
        return self._ledger.reserved_agents()

    def calls_now(self) -> list[Attempt]:
        """The calls in flight (the wallboard's read; a copy)."""
        return self._ledger.all()

    def observe_calls(self, observer: CallObserver) -> None:
        """Tell ``observer`` of every call's start, progress and end (one observer: the live wallboard)."""
        self._ledger.observer = observer

    # ---- call events

    def _enqueue(self, event: CallEvent) -> None:
        # Called synchronously by the adapter: keep arrival order, do the work in the loop.
        self._pending.append(event)
        self._wake.set()

    async def process_events(self) -> None:
        """Apply the call events and handler reports queued now, in arrival order, in store batches (one transaction
        each, at most ``event_batch`` items, the lock released between them); what arrives meanwhile waits for the
        next call, so planning is never held off by a steady stream. The AutoDialer UserEvents they cause are sent
        after each batch commits, never while it holds the write lock."""
        remaining = len(self._pending)
        while remaining > 0 and self._pending:
            async with self._lock:
                if not self._reconciled:
                    return  # reconciliation applies them first (events before its verdict belong before it)
                self._ledger.defer_announcements()
                committed = False
                try:
                    async with self._store.batch():
                        count = min(remaining, self._settings.event_batch, len(self._pending))
                        remaining -= count
                        await self._handle_queued(count)
                    committed = True
                except Exception:
                    # The batch was rolled back while the ledger already moved on: drop its view and let
                    # reconciliation rebuild it from what the store kept, before anything else is planned.
                    self._ledger.forget_all()
                    self._reconciled = False
                    raise
                finally:
                    self._reports_done(committed)
                    await self._ledger.flush_announcements()

    async def _handle_queued(self, count: int | None = None) -> None:
        """Apply the first ``count`` queued items (None: all), holding back those about calls still settling."""
        todo = len(self._pending) if count is None else count
        for _ in range(todo):
            item = self._pending.popleft()
            if self._settling and item.call_id in self._settling:
                self._held.append(item)  # its Originate's answer is not recorded yet: it applies after that
            else:
                await self._handle(item)

    def _reports_done(self, committed: bool = True) -> None:
        applied, self._applied = self._applied, []
        for done in applied:
            if not done.done():  # cancelled when its handler was
                done.set_result(committed)

    def _queue(self, call_id: str, work: Callable[[], Awaitable[None]]) -> asyncio.Future[bool]:
        """Queue a handler's report behind the events that arrived before it (now, before the caller's next step
        can cause any); the future is set once it was applied (True: committed).

        Before reconciliation (start-up, the PBX link back) reconciliation applies it, with the events queued
        before it, once the PBX answers."""
        report = _Report(call_id, work, asyncio.get_running_loop().create_future())
        self._pending.append(report)
        self._wake.set()
        if self._reconciled and (self._drainer is None or self._drainer.done()):
            self._drainer = asyncio.create_task(self._drain(), name="dialer-reports")
        return report.done

    async def _submit(self, call_id: str, work: Callable[[], Awaitable[None]]) -> None:
        """Queue a handler's report and wait until it was applied."""
        await self._queue(call_id, work)

    async def _drain(self) -> None:
        """Apply the queue now (the run loop may be busy with a planning round, or not running at all)."""
        try:
            while self._pending and self._reconciled:
                await self.process_events()
        except Exception:
            log.exception("dialer: applying call events and reports failed; reconciling first")
            self.wake()

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
        now = self._clock.now()
        self._pacing.observe(attempt, event, now)
        match event:
            case CustomerRinging():
                pass
            case CustomerAnswered():
                await self._ledger.save(replace(attempt, answered=True))
            case AgentConnected():
                # Stored now, not only when the connect step ends: a call lost with us after this is a success.
                log.info("call %s: an employee answered", event.call_id)
                attempt = await self._employee_step_ran(attempt)
                await self._ledger.save(replace(attempt, answered=True, agent_connected=True))
            case CustomerFailed(pbx_shutdown=True) | CallEnded(pbx_shutdown=True):
                # We heard this call's events up to here, in order: whether its customer answered is known.
                log.info("call %s: hung up by the PBX shutting down", event.call_id)
                await self._ledger.close_lost(attempt, now, proven_unanswered=not attempt.answered)
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

    # ---- planning and starting calls

    async def _tick(self) -> _Round:
        now = self._clock.now()
        watchdog_at = await self._maybe_watchdog(now)
        if not self._availability.is_connected():
            # Nothing is known to be free and an Originate would be refused; on_change wakes us after the re-sync.
            # Calls may end (or the PBX restart and lose them) while we cannot hear it: reconcile once it is back.
            self._reconciled = False
            return _Round(now, watchdog_at, watchdog_at)
        if now < self._pbx_paused_until:
            # A reconnect's reconcile resumes sooner.
            return _Round(now, _earliest(self._pbx_paused_until, watchdog_at), watchdog_at)
        allowance = self._originates.available(now)
        if allowance < self._round_tokens:
            # The link had its share of Originates: plan once enough for a round came back (bursts spread in time).
            return _Round(now, _earliest(self._originates.ready_at(self._round_tokens, now), watchdog_at), watchdog_at)
        if self._check_do_not_call:
            self._check_do_not_call = False
            closed = await self._store.close_do_not_call(now)
            if closed:
                log.info("%d open numbers are on the do-not-call list: closed", closed)
        tasks = await self._open_tasks(now)
        self._due.clear()
        self._window.cut_short = False
        self._window.caps.clear()
        slices = [await self._slice(task, now) for task in tasks]
        in_flight = self._ledger.all()
        free_agents, queue_demand = dial_targets(tasks, self._availability, in_flight, self._pacing.is_paced)
        self._pacing.prune(in_flight)
        snapshot = DialSnapshot(
            now=now,
            tasks=slices,
            free_agents=free_agents,
            reserved=self._ledger.reserved_agents(),
            numbers_in_call=self._ledger.numbers_in_call(),
            next_due_at=await self._store.next_due_at(now),
            queue_demand=queue_demand,
            agent_pools=self._pacing.agent_pools(slices, free_agents, in_flight),
            max_starts=allowance,
        )
        plan = plan_dials(snapshot)
        self._decisions.note(snapshot, plan)
        by_id = {t.task_id: t for t in tasks}
        # Every attempt of the round is stored (one transaction, unconfirmed: numbers held, rows untouched) before
        # any of its Originates goes out; the rows change once the PBX took them (_settle_round).
        prepared = [await self._prepare(by_id[start.task_id], start, now) for start in plan.starts]
        candidates = [p for p in prepared if p is not None]
        held = self._window.caps  # the cap across campaigns each claim re-checks, by number id
        caps = {
            attempt.call_id: held[number.number_id]
            for _t, attempt, number, _r in candidates
            if number.number_id in held
        }
        started = await self._store.start_attempts([attempt for _task, attempt, _number, _row in candidates], caps)
        # Refused: the API changed the number or task meanwhile, the number is now on the do-not-call list (closed),
        # or a call placed toward the same callee since it was judged (another campaign's, maybe in this very round)
        # reached its cap across campaigns (it waits; the next round defers it to when the cap lets go).
        claimed = [c for c in candidates if c[1].call_id in started]
        # Their agents and lines are still free: plan again at once (once: a second refusal in a row waits for an event)
        replan = len(claimed) < len(candidates) and not self._replanned
        self._replanned = replan
        try:
            # A second, tiny commit: from here a crash leaves "maybe sent" attempts (charged if the PBX does not
            # list them), before it only "never sent" ones (released untouched).
            await self._store.mark_written([c[1].call_id for c in claimed])
        except Exception:
            self._reconciled = False  # reconciliation releases them (stored, never written, not on the PBX)
            raise
        claimed = [(task, replace(attempt, written=True), number, row) for task, attempt, number, row in claimed]
        for task, attempt, _number, row in claimed:
            self._ledger.add(attempt, row)
            self._turns += 1
            self._last_turn[task.task_id] = self._turns
        self._originates.take(len(claimed), now)
        deadline = _earliest(plan.next_deadline, watchdog_at)
        if len(plan.starts) >= allowance:
            # Capped: the calls left out wait for the link's next share, not for an event.
            deadline = _earliest(deadline, self._originates.ready_at(self._round_tokens, now))
        if self._window.cut_short or replan:
            deadline = now  # more due numbers to judge (call window) or to take a refused claim's place: plan again
        return _Round(now, deadline, watchdog_at, [(c[0], c[1], c[2]) for c in claimed])

    async def _send_round(self, planned: _Round) -> float | None:
        """Send a stored round's Originates and record what the PBX answered; return when to plan again.

        The engine lock is not held across the PBX round trip: call events and FastAGI reports about other calls
        are applied meanwhile (a /connect must not wait for a round of hundreds of Originates). Those about the
        round's own calls are held back until the round is settled, so a call's row never sees its events before
        the answer to its Originate (the attempt itself was stored before anything was sent)."""
        if not planned.dialled:
            return planned.deadline
        self._settling.update(attempt.call_id for _task, attempt, _number in planned.dialled)
        try:
            # The Originates go out back to back, in plan order, and their answers are awaited together: a round
            # of N calls costs one PBX round trip, not N.
            outcomes = await asyncio.gather(
                *(self._dial(task, attempt, number) for task, attempt, number in planned.dialled),
                return_exceptions=True,
            )
            async with self._lock:
                await self._settle_round(planned.dialled, outcomes, planned.now)
        finally:
            self._settling.clear()
            if self._held:  # back to the front of the queue, in their order: they arrived before what is there
                self._pending.extendleft(reversed(self._held))
                self._held.clear()
                self._wake.set()
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, _DIAL_OUTCOMES):
                raise outcome  # the supervisor logs it; an attempt left in flight is reconciled
        if self._pbx_paused_until > planned.now:
            return _earliest(self._pbx_paused_until, planned.watchdog_at)
        return planned.deadline

    async def _settle_round(
        self,
        dialled: Sequence[tuple[DialTask, Attempt, DialNumber]],
        outcomes: Sequence[object],
        now: float,
    ) -> None:
        """Record what the PBX did with the round's Originates, in one unit of work, then send the StartDial events.

        Taken (or refused about the call, which still gives the number a verdict): the attempt is confirmed and the
        number's row becomes the CreateCallFile row. Refused about the PBX or never sent: the number goes back to
        the queue untouched and dispatching pauses until the PBX is back. Sent without an answer: left unconfirmed
        for reconciliation (adopted if the PBX lists the call, released if it does not)."""
        confirmed: list[tuple[Attempt, ResultRow]] = []
        refused: list[tuple[Attempt, BaseException]] = []
        unsent: list[Attempt] = []
        announced: list[tuple[DialTask, DialNumber]] = []
        for (task, attempt, number), outcome in zip(dialled, outcomes, strict=True):
            row = self._ledger.row_of(attempt.call_id)
            if row is None:
                # Dropped from the ledger while the round was on its way (a failed event batch): reconciliation
                # rebuilds it from the store and asks the PBX.
                continue
            if isinstance(outcome, PbxUnavailable):
                unsent.append(attempt)
            elif isinstance(outcome, OriginateUnconfirmed):
                continue
            else:
                confirmed.append((attempt, row))
                if isinstance(outcome, (OriginateRejected, ValueError)):
                    refused.append((attempt, outcome))
                elif not isinstance(outcome, BaseException):
                    announced.append((task, number))
        if not (confirmed or unsent):
            return
        self._ledger.defer_announcements()
        try:
            async with self._store.batch():
                await self._store.confirm_attempts(confirmed)
                for attempt, _row in confirmed:
                    self._ledger.confirm(attempt.call_id)
                await self._ledger.release(unsent)
                for attempt, error in refused:
                    # OriginateRejected: refused as to this call (no such extension), worth another try later.
                    # ValueError: the adapter found the request unsafe to send (e.g. a number without digits): no
                    # route, final.
                    log.warning("task %s: Originate for %s refused: %s", attempt.task_id, attempt.call_id, error)
                    failed = RowEvent(EventName.FAILED_ORIGINATE, linked_id=attempt.call_id)
                    current = self._ledger.get(attempt.call_id) or attempt
                    rejected = isinstance(error, OriginateRejected)
                    await self._ledger.finish(
                        current, now, dial_status="CHANUNAVAIL", events=[failed], rejected=rejected, announce=False
                    )
            # Deferred too: written back to back once committed, their answers awaited together (one round trip
            # for the round, not one per call: 300 StartDials one by one held the engine lock for seconds).
            for task, number in announced:
                await self._ledger.announce(start_dial_fields(number.phone, task.task_id))
        except Exception:
            self._ledger.forget_all()
            self._reconciled = False
            raise
        finally:
            await self._ledger.flush_announcements()
        if unsent:
            self._pbx_paused_until = now + self._settings.pbx_pause_s
            log.warning(
                "the PBX did not take %d Originates (%s): numbers queued again, untouched; dialing paused",
                len(unsent),
                next(str(o) for o in outcomes if isinstance(o, PbxUnavailable)),
            )

    async def _open_tasks(self, now: float) -> list[DialTask]:
        busy_tasks = {a.task_id for a in self._ledger.all()}
        tasks: list[DialTask] = []
        for task in await self._store.open_tasks():
            if not task.has_open_numbers and task.task_id not in busy_tasks:
                # MikoPBX getSliceTask: an open task without open rows is finished (also one that never had any).
                await self._store.close_task(task.task_id, now)
                log.info("task %s: every number has a result, task closed", task.task_id)
                self._ledger.observer.campaign_closed(task.task_id)
                continue
            tasks.append(task)
        self._ledger.note_tasks(tasks)
        self._pacing.note_tasks(tasks)
        return tasks

    async def _slice(self, task: DialTask, now: float) -> TaskSlice:
        in_progress = self._ledger.in_progress(task.task_id)
        capacity = task.max_channels - in_progress
        numbers = await self._window.due(task, now, capacity)
        self._due.update((n.number_id, n) for n in numbers)
        plain = TaskSlice(
            task_id=task.task_id,
            state=task.state,
            inner_num=task.inner_num,
            needs_agent=not task.is_poll,
            max_channels=task.max_channels,
            in_progress=in_progress,
            numbers=[DueNumber(n.number_id, n.due_at) for n in numbers],
            last_turn=self._last_turn.get(task.task_id, 0),
        )
        return self._pacing.slice(plain, self._ledger.all)

    async def _prepare(
        self, task: DialTask, start: DialStart, now: float
    ) -> tuple[DialTask, Attempt, DialNumber, ResultRow] | None:
        """The attempt for ``start`` and its CreateCallFile row, to be stored; None when the number is gone."""
        # The row as due_numbers read it in this planning round; start_attempts re-checks it atomically.
        number = self._due.get(start.number_id) or await self._store.get_number(start.number_id)
        if number is None:
            return None
        call_id = self._call_ids()
        call_file = call_results.call_file_name(task.task_id, number.dial_digits, task.inner_num)
        row = call_results.begin_attempt(number.row, call_id, call_file, now)
        attempt = Attempt(
            call_id=call_id,
            task_id=task.task_id,
            number_id=number.number_id,
            phone=number.phone,
            inner_num=task.inner_num,
            mode="poll" if task.is_poll else "connect",
            agent=start.agent,
            created_at=now,
            written=False,  # until mark_written, just before the Originate goes out
            confirmed=False,  # until the PBX took it (_settle_round)
        )
        return task, attempt, number, row

    async def _dial(self, task: DialTask, attempt: Attempt, number: DialNumber) -> None:
        """Originate a stored attempt; what the PBX answered is settled by ``_settle_round``."""
        call_id = attempt.call_id
        log.info("task %s: calling %s as %s (agent %s)", task.task_id, number.phone, call_id, attempt.agent)
        request = OriginateRequest(
            call_id=call_id,
            dial_number=(task.dial_prefix or self._settings.def_dial_prefix) + number.dial_digits,
            inner_num=task.inner_num,
            mode=attempt.mode,
            timeout_s=self._settings.originate_timeout_s,
            caller_id=self._settings.caller_id,
            variables={"DIALER_TASK_ID": str(task.task_id), "DIALER_AGENT": attempt.agent or ""},
        )
        await self._calls.originate(request)

    # ---- reconciliation and watchdog

    async def _reconcile(self) -> bool:
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
        if self._awaiting_unconfirmed(live):
            return False
        # Taken by the PBX after all: their rows begin first, so that what queued meanwhile (a connect step may have
        # run while we were judging) applies on top of them, not under a row begun afresh.
        for attempt in self._ledger.all():
            if attempt.call_id in live and not attempt.confirmed:
                await self._confirm_adopted(attempt, self._clock.now())
        # Events that arrived before the verdict belong before it: a call that ended normally is not lost.
        await self._handle_queued()
        self._reports_done()
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
            else:
                if not attempt.confirmed:
                    await self._confirm_adopted(attempt, now)
                if call.state == "Up":
                    # An employee already talking to the customer must end as SUCCESS_*, not as a hangup before
                    # answer.
                    current = self._ledger.get(attempt.call_id) or attempt
                    if call.agent_connected:
                        current = await self._employee_step_ran(current)
                    m_dial_status = ANSWER if call.agent_connected else current.m_dial_status
                    await self._ledger.save(replace(current, answered=True, m_dial_status=m_dial_status))
        await self._ledger.release(unsent)
        log.info(
            "reconciled %d attempts in flight: %d still live, %d never reached the PBX",
            len(held),
            len(self._ledger),
            len(unsent),
        )
        await self._after_reconcile()
        return True

    async def _employee_step_ran(self, attempt: Attempt) -> Attempt:
        """An employee answered this call, so the step that dialled them ran up to its Dial, and what it reports
        before the Dial must be on the row. A connect step queued startDial before its Dial: a row without it lost
        that report with us (killed between the Dial and the report's commit), so startDial is applied now and the
        call ends as the SUCCESS_CLIENT_H it is (endDial died with the step), not a bare SUCCESS. A poll transfers
        only after EVENT_POLLING_END committed: a row still open (that write rolled back) gets it now, so the poll
        is the SUCCESS_POLLING it was, never a FAIL_POLLING or lostOnRestart."""
        row = await self._ledger.row(attempt)
        if row is None or row.is_closed:
            return attempt
        now = self._clock.now()
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
        self._pbx_paused_until = 0.0
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
            ran = await self._employee_step_ran(attempt)
            attempt = replace(ran, answered=True, agent_connected=True, m_dial_status=ANSWER)
            await self._ledger.save(attempt)
        await self._ledger.close_lost(attempt, now, proven_unanswered=_proven_unanswered(attempt, marks))

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

    async def _maybe_watchdog(self, now: float) -> float:
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
            await self._handle_queued()
            self._reports_done()
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

    # ---- waiting

    async def _wait(self, deadline: float | None) -> None:
        due_now = deadline is not None and deadline <= self._clock.now()
        if self._wake.is_set() or self._pending or due_now:
            self._wake.clear()
            return
        waiters: list[asyncio.Task[object]] = [asyncio.create_task(self._wake.wait())]
        if deadline is not None:
            waiters.append(asyncio.create_task(self._sleeper.sleep(max(0.0, deadline - self._clock.now()))))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        self._wake.clear()

    # ---- CallProgress (FastAGI handlers)

    async def connect_context(self, call_id: str) -> ConnectContext | None:
        attempt = self._ledger.get(call_id)
        if attempt is None or attempt.mode != "connect":
            return None
        if self._pacing.is_paced(attempt):
            # Nobody was reserved: the customer goes to the queue and waits there at most abandon_after_s.
            pacing = self._pacing.settings(attempt.task_id)
            return ConnectContext(
                call_id, attempt.task_id, attempt.inner_num, None, pacing.abandon_after_s, pacing.safe_harbor
            )
        return ConnectContext(call_id, attempt.task_id, attempt.inner_num, attempt.agent)

    async def customer_answered(self, call_id: str) -> None:
        """Stored (committed) before this returns: from here on a crash cannot make the call look unanswered, so
        the handler may delete the PBX's own mark of the answer."""

        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is not None and not attempt.answered:
                await self._ledger.save(replace(attempt, answered=True))

        await self._submit(call_id, work)

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
                attempt, [call_results.connect_started(call_id, verbose_call_id)], self._clock.now()
            )

        return self._queue(call_id, work)

    async def agent_busy(self, call_id: str) -> None:
        await self._report(call_id, [call_results.agent_busy(call_id)])

    async def abandoned(self, call_id: str) -> None:
        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is None:
                return
            now = self._clock.now()
            log.info("call %s: the answered customer was not put through to an agent in time: abandoned", call_id)
            self._pacing.abandoned(attempt, now)
            await self._ledger.apply(attempt, [call_results.abandoned(call_id)], now)

        await self._submit(call_id, work)

    async def connect_ended(self, call_id: str, dial_status: str, customer_hung_up_first: bool) -> bool:
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
            await self._ledger.apply(self._ledger.get(call_id) or attempt, events, self._clock.now())

        return await self._queue(call_id, work)

    async def poll_context(self, call_id: str) -> PollContext | None:
        attempt = self._ledger.get(call_id)
        if attempt is None or attempt.mode != "poll":
            return None
        number = await self._store.get_number(attempt.number_id)
        poll = await self._store.get_poll(int(attempt.inner_num)) if attempt.inner_num.isdigit() else None
        if number is None or poll is None:
            return None
        return PollContext(call_id, attempt.task_id, poll, number.params)

    async def poll_started(self, call_id: str, verbose_call_id: str | None = None) -> None:
        await self._report(call_id, [call_results.poll_started(call_id, verbose_call_id)])

    async def poll_completed(self, call_id: str) -> None:
        await self._report(call_id, [call_results.poll_completed(call_id)])

    async def transfer_ended(self, call_id: str, dial_status: str) -> bool:
        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is None:
                return
            # AMI saw the employee answer: the Dial was answered, whatever a step cut off could still read.
            talked = attempt.agent_connected or dial_status == ANSWER
            status = ANSWER if talked else dial_status
            await self._ledger.save(replace(attempt, m_dial_status=status, agent_connected=talked))

        return await self._queue(call_id, work)

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
        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is None or attempt.mode != "poll" or not attempt.inner_num.isdigit():
                return
            number = await self._store.get_number(attempt.number_id)
            if number is None:
                return
            answer = PollAnswer(
                task_id=attempt.task_id,
                question_crm_id=question_id,
                polling_id=int(attempt.inner_num),
                phone_id=number.phone_id,
                phone=number.phone,
                result=result,
                exten=exten,
                call_id=call_id,
                change_time=self._clock.now(),
                question_text=asked,
                poll_version=poll_version,
            )
            await self._store.add_poll_answer(answer)

        await self._submit(call_id, work)

    async def opt_out(self, call_id: str) -> None:
        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is not None:
                now = self._clock.now()
                await self._store.add_dnc(attempt.phone, source=f"poll:{attempt.inner_num}", now=now)
                closed = await self._store.close_do_not_call(now, phone=attempt.phone)
                log.info("call %s: %s opted out (%d other open rows closed)", call_id, attempt.phone, closed)
                self.wake()  # a task whose last open numbers were these can close now

        await self._submit(call_id, work)

    async def _report(self, call_id: str, events: Sequence[RowEvent]) -> None:
        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is not None:
                await self._ledger.apply(attempt, events, self._clock.now())

        await self._submit(call_id, work)


def _proven_unanswered(attempt: Attempt, marks: CallMarks) -> bool:
    """A lost call provably never reached its customer: no answer heard or stored, and the PBX, which marks every
    answered call of ours, has no mark for it."""
    marked = marks.customer
    return not (attempt.answered or attempt.agent_connected) and marked is not None and attempt.call_id not in marked


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
