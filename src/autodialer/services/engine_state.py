"""What the DialerEngine's parts share: its settings, the calls in flight and the one engine lock.

The engine lock (``EngineState.lock``) guards every change to the calls in flight and their numbers' rows: the
AttemptLedger (calls in flight, the agents and numbers they hold), the store writes about them and the pacing book
(``EngineState.pacing``). It is taken by a planning round while it plans, stores and marks its attempts written and
again while it settles the PBX's answers (dial_rounds.DialRounds), by each batch of call events and FastAGI reports
(call_reports.CallReports, poll_reports.PollReports), and by reconciliation and the watchdog
(reconciliation.Reconciliation). It is never held across the PBX round trip of a round's Originates, so AMI events,
FastAGI reports and the planner interleave only between whole steps and a number's row is never updated from two
stale copies.

``reconciled`` and ``pbx_pause`` are plain fields, read and written by the parts
on the event loop (one thread): no lock of their own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from autodialer.domain.retry_policy import RetryPolicy
from autodialer.services.attempt_ledger import AttemptLedger
from autodialer.services.dialer_store import DialerStore
from autodialer.services.pacing_book import PacingBook
from autodialer.services.pbx_events import UserEventSink
from autodialer.services.ports import CallControl, Clock


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
class PbxPause:
    """Dispatch paused after the PBX refused Originates for reasons of its own (``until`` 0: never paused)."""

    since: float
    until: float
    reason: str | None


NO_PAUSE = PbxPause(0.0, 0.0, None)


class EngineState:
    """The engine's shared state. ``lock`` guards ``ledger``, ``pacing`` and the store writes about calls in
    flight (see the module docstring); ``wakeup`` is set to make the run loop plan again."""

    def __init__(
        self,
        store: DialerStore,
        calls: CallControl,
        clock: Clock,
        events: UserEventSink,
        settings: EngineSettings,
    ) -> None:
        self.store = store
        self.calls = calls
        self.clock = clock
        self.settings = settings
        self.lock = asyncio.Lock()
        self.wakeup = asyncio.Event()
        self.ledger = AttemptLedger(store, events, settings.retry_policy, on_finished=self.wake)
        # Each campaign's pacing policy and what it learns (power/predictive calls go to the queue unreserved).
        self.pacing = PacingBook(settings.pbx_zone)
        # False until the attempts a previous run (or a PBX outage) left in flight were reconciled with the PBX:
        # no call is placed and no event applied before that.
        self.reconciled = False
        # The PBX refused Originates for reasons of its own: no dialing before its ``until`` (since and what the PBX
        # said: explain's words).
        self.pbx_pause = NO_PAUSE

    def wake(self) -> None:
        self.wakeup.set()
