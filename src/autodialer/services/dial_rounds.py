"""Planning rounds: which numbers to call now, with which agents, and their Originates.

A round, holding the engine lock (engine_state): the watchdog runs if due (reconciliation), the open tasks and due
numbers are read, ``plan_dials`` (domain) chooses the starts within the free agents, the channel limits, the pacing
policies and the link's Originate rate; every attempt is stored (``start_attempts``, one transaction: numbers and
agents held, rows untouched) and marked written BEFORE any Originate goes out, with our call id that becomes the
Asterisk ChannelId/Linkedid. The lock is then released: the Originates go out back to back and their answers are
awaited together, without the lock, so call events and FastAGI reports about other calls are applied meanwhile;
those about the round's own calls are held back (call_reports) until the round is settled, which takes the lock
again and records in one unit of work what the PBX did with each Originate. The ringing calls the plan ends
(predictive, ``DialPlan.ends``) are noted in the pacing book under the lock and hung up (AMI Hangup, cause 19) before
the round's Originates go out; their CustomerFailed is then applied as a no-answer (``PacingBook.ended_by_us``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from autodialer.domain import call_results
from autodialer.domain.dial_capacity import LinkBlock, link_block
from autodialer.domain.dialing import DialSnapshot, DialStart, DueNumber, TaskSlice, plan_dials
from autodialer.domain.mikopbx_results import EventName, ResultRow, RowEvent
from autodialer.domain.token_bucket import TokenBucket
from autodialer.services.call_reports import CallReports
from autodialer.services.call_window_gate import CallWindowGate
from autodialer.services.dial_decisions import DecisionLog
from autodialer.services.dialer_store import Attempt, DialNumber, DialTask
from autodialer.services.engine_state import EngineState, PbxPause
from autodialer.services.number_eligibility import NumberEligibility
from autodialer.services.pacing_book import NO_ANSWER_CAUSE
from autodialer.services.pbx_events import start_dial_fields
from autodialer.services.ports import (
    AvailabilityView,
    OriginateRejected,
    OriginateRequest,
    OriginateUnconfirmed,
    PbxUnavailable,
)
from autodialer.services.queue_demand import dial_targets
from autodialer.services.reconciliation import Reconciliation

log = logging.getLogger("autodialer.services.dialer_engine")


@dataclass(frozen=True, slots=True)
class _Round:
    """A planning round's outcome: the stored, written attempts whose Originates go out now (sent and settled
    without holding the engine lock across the PBX round trip), and when to plan again."""

    now: float
    deadline: float | None
    watchdog_at: float
    dialled: Sequence[tuple[DialTask, Attempt, DialNumber]] = ()
    ends: Sequence[str] = ()  # ringing calls to hang up (their policy ended them)


# What an Originate can end with that _settle_round handles (anything else is a bug for the supervisor).
_DIAL_OUTCOMES = (OriginateRejected, ValueError, PbxUnavailable, OriginateUnconfirmed)


class DialRounds:
    """Plans and starts calls. ``run`` takes the engine lock (``EngineState.lock``) to plan, store and mark a round
    written, releases it for the PBX round trip of its Originates, and takes it again to settle their answers. Its
    own planning state (the Originate rate, turn-taking, the round's due numbers, the do-not-call check) is touched
    only by ``run``, which the engine's loop calls one at a time."""

    def __init__(
        self,
        state: EngineState,
        reports: CallReports,
        reconciliation: Reconciliation,
        availability: AvailabilityView,
        call_ids: Callable[[], str],
        eligibility: NumberEligibility | None,
    ) -> None:
        self._state = state
        self._store = state.store
        self._calls = state.calls
        self._clock = state.clock
        self._settings = state.settings
        self._ledger = state.ledger
        self._reports = reports
        self._reconciliation = reconciliation
        self._availability = availability
        self._call_ids = call_ids
        self._decisions = DecisionLog()  # why a task is not dialling, at INFO when it changes
        rate = self._settings.originate_rate
        burst = self._settings.originate_burst or max(1, math.ceil(rate / 4))
        self._originates = TokenBucket(rate, burst, state.clock.now())
        # Tokens a rate-capped round waits for (20 rounds a second at most): one planning round per token would
        # spend on planning what the cap saves the PBX.
        self._round_tokens = min(burst, max(1, math.ceil(rate / 20)))
        self._turns = 0
        self._last_turn: dict[int, int] = {}  # task id -> sequence number of its latest start (turn-taking)
        self._check_do_not_call = True  # at start, then after every task change
        self._due: dict[int, DialNumber] = {}  # numbers due in the current planning round, by id
        self._window = CallWindowGate(state.store, eligibility)  # due numbers the call window allows now
        self._replanned = False  # the last round re-planned at once after a refused claim

    def check_do_not_call(self) -> None:
        """New numbers may be on the do-not-call list: the next round closes those first."""
        self._check_do_not_call = True

    async def run(self) -> float | None:
        """Plan a round and send its Originates; return when to plan again (None: on events only)."""
        async with self._state.lock:
            planned = await self._plan()
        return await self._send_round(planned)

    async def _plan(self) -> _Round:
        """Plan a round, store its attempts and mark them written (called holding the engine lock)."""
        now = self._clock.now()
        watchdog_at = await self._reconciliation.watchdog(now)
        # The link rule eligibility's PBX_LINK hold (the explain endpoint) shares.
        block = link_block(self._availability.is_connected(), self._state.pbx_pause.until, now)
        if block is LinkBlock.DOWN:
            # Nothing is known to be free and an Originate would be refused; on_change wakes us after the re-sync.
            # Calls may end (or the PBX restart and lose them) while we cannot hear it: reconcile once it is back.
            self._state.reconciled = False
            return _Round(now, watchdog_at, watchdog_at)
        if block is LinkBlock.PAUSED:
            # A reconnect's reconcile resumes sooner.
            return _Round(now, _earliest(self._state.pbx_pause.until, watchdog_at), watchdog_at)
        allowance = self._originates.available(now)
        if allowance < self._round_tokens:
            # The link had its share of Originates: plan once enough for a round came back (bursts spread in time).
            return _Round(now, _earliest(self._originates.ready_at(self._round_tokens, now), watchdog_at), watchdog_at)
        if self._check_do_not_call:
            self._check_do_not_call = False
            closed = await self._store.close_written_do_not_call(now)
            if closed:
                log.info("%d open numbers are on the do-not-call list: closed", closed)
        tasks = await self._open_tasks(now)
        self._due.clear()
        self._window.cut_short = False
        self._window.caps.clear()
        slices = [await self._slice(task, now) for task in tasks]
        in_flight = self._ledger.all()
        free_agents, queue_demand = dial_targets(tasks, self._availability, in_flight, self._state.pacing.is_paced)
        self._state.pacing.prune(in_flight)
        snapshot = DialSnapshot(
            now=now,
            tasks=slices,
            free_agents=free_agents,
            reserved=self._ledger.reserved_agents(),
            numbers_in_call=self._ledger.numbers_in_call(),
            next_due_at=await self._store.next_due_at(now),
            queue_demand=queue_demand,
            agent_pools=self._state.pacing.agent_pools(slices, free_agents, in_flight),
            max_starts=allowance,
        )
        plan = plan_dials(snapshot)
        self._decisions.note(snapshot, plan)
        for end in plan.ends:
            log.info(
                "task %s: ending call %s after %.1f s of ringing: its customer would likely find no agent",
                end.task_id,
                end.call_id,
                end.ring_s,
            )
            self._state.pacing.ending(end.call_id)
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
            self._state.reconciled = False  # reconciliation releases them (stored, never written, not on the PBX)
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
        ends = [end.call_id for end in plan.ends]
        return _Round(now, deadline, watchdog_at, [(c[0], c[1], c[2]) for c in claimed], ends)

    async def _send_round(self, planned: _Round) -> float | None:
        """Send a stored round's Originates and record what the PBX answered; return when to plan again.

        The engine lock is not held across the PBX round trip: call events and FastAGI reports about other calls
        are applied meanwhile (a /connect must not wait for a round of hundreds of Originates). Those about the
        round's own calls are held back until the round is settled, so a call's row never sees its events before
        the answer to its Originate (the attempt itself was stored before anything was sent)."""
        if planned.ends:
            await asyncio.gather(*(self._end_ringing(call_id) for call_id in planned.ends))
        if not planned.dialled:
            return planned.deadline
        self._reports.hold_back(attempt.call_id for _task, attempt, _number in planned.dialled)
        try:
            # The Originates go out back to back, in plan order, and their answers are awaited together: a round
            # of N calls costs one PBX round trip, not N.
            outcomes = await asyncio.gather(
                *(self._dial(task, attempt, number) for task, attempt, number in planned.dialled),
                return_exceptions=True,
            )
            async with self._state.lock:
                await self._settle_round(planned.dialled, outcomes, planned.now)
        finally:
            self._reports.release_held()
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, _DIAL_OUTCOMES):
                raise outcome  # the supervisor logs it; an attempt left in flight is reconciled
        if self._state.pbx_pause.until > planned.now:
            return _earliest(self._state.pbx_pause.until, planned.watchdog_at)
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
            self._state.reconciled = False
            raise
        finally:
            await self._ledger.flush_announcements()
        if unsent:
            reason = next(str(o) for o in outcomes if isinstance(o, PbxUnavailable))
            self._state.pbx_pause = PbxPause(now, now + self._settings.pbx_pause_s, reason)
            log.warning(
                "the PBX did not take %d Originates (%s): numbers queued again, untouched; dialing paused",
                len(unsent),
                reason,
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
        self._state.pacing.note_tasks(tasks)
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
        return self._state.pacing.slice(plain, self._ledger.all)

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

    async def _end_ringing(self, call_id: str) -> None:
        """Hang up a ringing call its policy ended. If the link fails, the call rings on to the Originate timeout
        and is still a no-answer of ours (the book keeps it as ending)."""
        try:
            await self._calls.hangup(call_id, NO_ANSWER_CAUSE)
        except (ConnectionError, TimeoutError, PbxUnavailable) as e:
            log.warning("call %s: could not hang it up (%s): it rings until the Originate timeout", call_id, e)

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


def _earliest(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
