"""The storage port of the dialer engine: tasks, numbers, attempts, polls and poll answers.

The SQL implementation lives in adapters/db; ``services.memory_store.InMemoryDialerStore`` is the reference
implementation the engine's tests run against. Every method is one transaction. Times are epoch seconds (float);
the store converts to its column units (``change_time_us`` …).

Invariants the engine relies on:
* a number with an attempt in flight (``start_attempts`` … ``finish_attempt``) is never returned by ``due_numbers``
  and is never deleted: a delete requested meanwhile is carried out by ``finish_attempt``;
* a number with a result (``close_time != 0``) is never returned by ``due_numbers``;
* ``start_attempts`` is the only way a number enters a call, and it refuses a number that is no longer dialable, so
  an API change racing with the engine can never make it dial a deleted, closed or busy number.

Mapping onto the 0001 schema: ``ResultRow`` is the MikoPBX columns of ``task_numbers`` plus ``count_try`` and
``next_attempt_at``; ``ResultRow.requeues`` needs a column (or the count of the number's attempts whose
``outcome`` is FAIL_USER_BUSY). ``Attempt`` is an ``attempts`` row: ``answered`` ↔ ``answered_at`` set,
``settled`` ↔ ``outcome`` set, ``m_dial_status`` ↔ ``dial_status``; ``mode``/``inner_num`` are the task's at
start time (a column each, or read from the task). ``task_numbers.active_attempt_id`` is the "in flight" marker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from autodialer.domain.attempt_limits import AttemptLimits, CalleeDayCap, PastAttempt
from autodialer.domain.campaign_schedule import CampaignSchedule
from autodialer.domain.mikopbx_results import ResultRow
from autodialer.domain.pacing_config import PROGRESSIVE_SETTINGS, PacingSettings
from autodialer.domain.poll_flow import PollDefinition

INNER_NUM_POLLING = "polling"


@dataclass(frozen=True, slots=True)
class DialTask:
    task_id: int
    state: int  # 0 open, 1 closed, 2 paused
    inner_num: str
    inner_num_type: str  # "exten" (extension or queue) or "polling" (inner_num is the poll id)
    max_channels: int
    dial_prefix: str  # as stored; "" means the service default
    has_open_numbers: bool  # a number without a final result (in a call or not); not a count: that is O(numbers)
    retry_overrides: Mapping[str, object] | None = None  # tasks.retry_policy (see RetryPolicy.with_overrides)
    schedule: CampaignSchedule = field(default_factory=CampaignSchedule)  # v2 fields; empty for v1 tasks
    limits: AttemptLimits = field(default_factory=AttemptLimits)
    pacing: PacingSettings = PROGRESSIVE_SETTINGS  # tasks.pacing; every v1 task is progressive

    @property
    def is_poll(self) -> bool:
        return self.inner_num_type == INNER_NUM_POLLING


@dataclass(frozen=True, slots=True)
class DialNumber:
    number_id: int
    task_id: int
    phone: str  # as the client sent it
    phone_id: str  # MikoPBX phoneId (last 10 digits)
    dial_digits: str  # what the outgoing route dials, without the prefix
    time_call_allow: int
    row: ResultRow
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def due_at(self) -> float:
        return max(float(self.time_call_allow), self.row.next_attempt_at)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call placed for one number; ``call_id`` is the Asterisk ChannelId/Linkedid of that call."""

    call_id: str
    task_id: int
    number_id: int
    phone: str
    inner_num: str
    mode: str  # "connect" or "poll"
    agent: str | None  # the reserved agent interface, None for polls
    created_at: float
    answered: bool = False
    m_dial_status: str | None = None  # DIALSTATUS of the Dial to the employee (MikoPBX M_DIALSTATUS)
    settled: bool = False  # this attempt already gave the row its result (final or reopened for a retry)
    outcome: str | None = None  # the result this attempt produced (attempts.outcome)
    # Where its Originate is (ARCHITECTURE.md, "PBX restarts, outages and our own crashes"): stored only (neither:
    # provably never sent, released if found so after a crash), ``written`` (about to be or handed to the AMI link:
    # maybe sent), ``confirmed`` (the PBX took it; the number's row has its CreateCallFile and one more try).
    written: bool = True
    confirmed: bool = True
    # An employee answered (AgentConnected, seen on AMI as it happens): the call did its job, even if the connect
    # step that would report its end dies with us. Kept apart from m_dial_status, which the connect step reports.
    agent_connected: bool = False


@dataclass(frozen=True, slots=True)
class PollAnswer:
    """One PolingResults row: one key press, inserted and never updated."""

    task_id: int
    question_crm_id: str
    polling_id: int
    phone_id: str
    phone: str
    result: str
    exten: str
    call_id: str
    change_time: float
    question_text: str | None = None  # the question as asked (params substituted), kept even if the poll changes
    poll_version: int | None = None  # the poll version the call ran; None = the current one


class DialerStore(Protocol):
    def batch(self) -> AbstractAsyncContextManager[None]:
        """A unit of work: every store call made inside (by this task) is one transaction, committed at the end and
        rolled back whole if the block raises. Callers keep PBX I/O outside it (no write lock across the network)."""
        ...

    async def open_tasks(self) -> Sequence[DialTask]:
        """Tasks with state 0 (open), lowest id first. Deleted tasks are not returned."""
        ...

    async def get_task(self, task_id: int) -> DialTask | None:
        """Any task by id (whatever its state), None if it does not exist or was deleted."""
        ...

    async def due_numbers(self, task_id: int, now: float, limit: int) -> Sequence[DialNumber]:
        """Up to ``limit`` numbers of the task that may be dialed at ``now``, lowest id first: close_time == 0,
        ``max(time_call_allow, next_attempt_at) <= now``, no attempt in flight, phone_id not on the DNC list."""
        ...

    async def next_due_at(self, now: float) -> float | None:
        """The earliest ``max(time_call_allow, next_attempt_at)`` that is > ``now`` among open numbers of open
        tasks that have no attempt in flight; None when there is none."""
        ...

    async def get_number(self, number_id: int) -> DialNumber | None:
        """The number row, None once it was deleted."""
        ...

    async def close_task(self, task_id: int, now: float) -> None:
        """Auto-close: set state 1 if the task is still open (0) and has no open numbers; otherwise do nothing."""
        ...

    async def start_attempts(
        self, claimed: Sequence[Attempt], caps: Mapping[str, CalleeDayCap] | None = None
    ) -> frozenset[str]:
        """Atomically record each attempt as in flight (unconfirmed unless ``confirmed``) and hold its number; one
        transaction for a planning round. The numbers' rows are not touched: nothing was dialled yet. Returns the
        call ids started.

        A claim is refused (and changes nothing) when its number is gone, closed, already in an attempt or its task
        is no longer open, or when its cap across campaigns (``caps``, by call id) does not allow one more call given
        every attempt toward the callee stored by then and those of this round before it (serialised per callee
        across instances: a second claim toward a capped callee waits for the first's transaction).

        Called before the Originates, so a crash between the two leaves unconfirmed attempts that
        reconciliation releases (or adopts, when the PBX lists the call) instead of calls nobody knows about.
        """
        ...

    async def mark_written(self, call_ids: Sequence[str]) -> None:
        """These attempts' Originates are about to be written to the PBX link: from now on a crash leaves them
        "maybe sent" (stored after ``start_attempts`` and before the first byte goes out)."""
        ...

    async def confirm_attempts(self, confirmed: Sequence[tuple[Attempt, ResultRow]]) -> None:
        """The PBX took these Originates: each attempt is confirmed and ``row`` (the CreateCallFile row: one more
        try) becomes its number's row with a new change time, while the number is still held by that attempt."""
        ...

    async def release_attempts(self, unsent: Sequence[Attempt]) -> None:
        """These Originates never reached the PBX: the attempts are removed from the history and their numbers
        are free again exactly as they were (row, countTry, change time untouched); a deletion requested
        meanwhile is done."""
        ...

    async def save_row(self, number_id: int, row: ResultRow) -> None:
        """Store the number's result row (and its change time); a no-op if the number was deleted."""
        ...

    async def update_attempt(self, attempt: Attempt) -> None:
        """Store the progress of an in-flight attempt (answered, m_dial_status, settled, outcome)."""
        ...

    async def finish_attempt(self, attempt: Attempt, now: float, row: ResultRow | None = None) -> None:
        """The attempt is over: its last progress (outcome, dial status) is stored, ``row`` (when given) becomes its
        number's row with a new change time, the number is no longer held, and a deletion requested during the call
        is done. One write for the end of a call. An attempt that already finished is left alone, row included."""
        ...

    async def attempts_in_flight(self) -> Sequence[Attempt]:
        """Attempts started and not finished (after a restart: the calls that may still be up)."""
        ...

    async def get_poll(self, poll_id: int) -> PollDefinition | None: ...

    async def add_poll_answer(self, answer: PollAnswer) -> None: ...

    async def close_do_not_call(self, now: float, phone: str | None = None) -> int:
        """Give every open number on the do-not-call list (of ``phone`` only, when given) its final result, so a
        task whose last numbers opted out still closes: result ``FAIL``, state ``doNotCall``, cause
        ``Do not call list``, closeTime ``now``, a new changeTime. Numbers in a call are left to that call.
        Returns how many rows it closed."""
        ...

    async def close_written_do_not_call(self, now: float) -> int:
        """close_do_not_call for the numbers written (created, changed, reopened) since this store's previous call
        of it, every open number at the first: after task changes only those can be new to the lists' checks, and a
        list's own changes close their numbers themselves (DncLists). Costs O(rows written since), not O(numbers)."""
        ...

    async def callee_attempts(
        self, task_id: int, callees: Sequence[str], since: float
    ) -> Mapping[str, Sequence[PastAttempt]]:
        """Past attempts toward each callee key (E.164, else digits: ``Callee.key``): every one of ``task_id``'s,
        and every campaign's that started at or after ``since`` (what the attempt limits look at)."""
        ...

    async def defer_numbers(self, waits: Sequence[tuple[int, float]]) -> None:
        """Each (number id, time): an open number not in a call is not due before that time (outside its call
        window); no attempt is used and nothing the CRM reads changes."""
        ...

    async def add_dnc(self, phone: str, source: str, now: float) -> None:
        """Put the phone on the do-not-call list (idempotent); its open numbers are refused at their claim and closed
        by close_do_not_call."""
        ...
