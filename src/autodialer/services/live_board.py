"""LiveBoard: the live wallboard's use cases. It reads the state now (agents, calls in flight, campaigns' counters,
the PBX link) and publishes what changes on ``LiveEvents`` for ``GET /api/v2/events``.

Who tells it: the engine's ledger (``CallObserver``: a call started, was answered, ended; its number's result), the
agent roster (any availability change), the PBX link (state changes) and the API (campaigns created or changed).
Those calls are synchronous and cheap (a dict update, an append per subscriber); whatever costs more is coalesced:

* agents: one diff of the roster per ``settle_s`` after a change (availability changes come in bursts of several
  AMI events per state change), only while somebody listens: the next subscriber first gets the diff of what
  changed meanwhile (a resuming client thus learns every agent that changed, a new one reads the state anyway).
  The roster's view costs ~20 ms per diff at 1,000 agents, which at 2,000 live calls was a fifth of the service's
  CPU with nobody watching; more than ``AGENT_BURST`` changed agents go out as one ``agents`` event;
* campaign counters (numbers by result, answer and abandonment rates) need the store: the campaigns a call touched
  are read once per ``settle_s``, only while somebody listens (else one ``campaigns`` event says "re-read them"),
  and again a minute after a call started (when it leaves originates/min);
* a campaign's counters cost the store O(its numbers and attempts) per read (GROUP BYs over its rows; ~0.7 s of the
  dialer process's CPU on SQLite at 1,000,000 numbers, issue 11), so each campaign's next read waits until the
  reads took at most ``read_share`` of the time since (a read of d seconds: the next one no sooner than
  d * (1 / read_share - 1) after it ended). Meanwhile its line goes out with the calls ringing and talking now and
  the counters as last read, and a read is due when the wait ends: figures are never made up or adjusted, only as
  old as that wait, and the last change is always followed by a read. Small campaigns (reads of a few ms) wait no
  longer than ``settle_s``.

Everything published reaches a client within ``settle_s`` plus one store read (plus, for a campaign's counters, the
wait above), well under a second for campaigns of up to ~100,000 numbers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from autodialer.domain.campaigns import Campaign, CampaignState, CampaignStats, NotFound
from autodialer.domain.live_state import (
    AgentView,
    CallView,
    CampaignLive,
    NumberOutcome,
    PbxLink,
    agent_views,
    call_phase,
    calls_by_campaign,
)
from autodialer.domain.mikopbx_results import ResultRow
from autodialer.services.campaigns import CampaignService
from autodialer.services.dialer_store import Attempt
from autodialer.services.live_events import LiveEvents, Subscription
from autodialer.services.ports import AgentRoster, PbxLinkView

log = logging.getLogger(__name__)

AGENT_BURST = 50
ORIGINATE_WINDOW_S = 60.0
READ_SHARE = 0.1  # of the time, at most, spent reading one campaign's counters while somebody watches


class CallsInFlight(Protocol):
    """The engine, as the wallboard reads it."""

    def calls_now(self) -> Sequence[Attempt]: ...

    def reserved_agents(self) -> frozenset[str]: ...


def call_view(attempt: Attempt, ended: bool = False) -> CallView:
    return CallView(
        call_id=attempt.call_id,
        campaign_id=attempt.task_id,
        phone=attempt.phone,
        agent=attempt.agent,
        mode=attempt.mode,
        phase=call_phase(attempt.answered),
        agent_connected=attempt.agent_connected,
        started_at=attempt.created_at,
        ended=ended,
    )


class LiveBoard:
    """Implements services.call_observer.CallObserver for the engine."""

    def __init__(
        self,
        events: LiveEvents,
        campaigns: CampaignService,
        *,
        roster: AgentRoster | None = None,
        calls: CallsInFlight | None = None,
        link: PbxLinkView | None = None,
        settle_s: float = 0.25,
        read_share: float = READ_SHARE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.events = events
        self._campaigns = campaigns
        self._roster = roster
        self._calls = calls
        self._link = link
        self._settle_s = settle_s
        self._read_share = read_share
        self._clock = clock
        # Per campaign: its counters as last read, and when (self._clock) the next read may start.
        self._counters: dict[int, tuple[CampaignStats, float]] = {}
        self._counters_due: dict[int, asyncio.TimerHandle] = {}  # a read waiting for its turn
        self._agents: dict[str, AgentView] = {}  # as last published
        self._agents_stale = False  # the roster changed while nobody listened: not published yet
        self._shown_calls: dict[str, CallView] = {}
        self._dirty_campaigns: set[int] = set()
        self._agents_due: asyncio.TimerHandle | None = None
        self._campaigns_due: asyncio.TimerHandle | None = None
        self._later: set[asyncio.TimerHandle] = set()
        self._flush: asyncio.Task[None] | None = None
        if roster is not None:
            roster.on_change(self._agents_changed)
            self._agents = {v.agent: v for v in self.agents()}
        if link is not None:
            link.on_link_change(self._link_changed)

    # ---- reads (the v2 live routes)

    @property
    def dialing(self) -> bool:
        """False on an API-only instance: no agents, calls or PBX link to show."""
        return self._calls is not None

    def agents(self) -> list[AgentView]:
        if self._roster is None:
            return []
        reserved = self._calls.reserved_agents() if self._calls is not None else frozenset()
        return agent_views(self._roster.agents(), reserved)

    def calls(self) -> list[CallView]:
        if self._calls is None:
            return []
        return sorted((call_view(a) for a in self._calls.calls_now()), key=lambda c: (c.started_at, c.call_id))

    def link(self) -> PbxLink | None:
        return None if self._link is None else self._link.link()

    async def campaign(self, campaign_id: int) -> CampaignLive:
        return await self._line(await self._campaigns.get(campaign_id), self._calls_by_campaign())

    async def campaign_lines(
        self, *, state: CampaignState | None = None, after_id: int | None = None, limit: int = 100
    ) -> tuple[list[CampaignLive], bool]:
        """Campaigns' lines in id order, and whether more follow."""
        found = await self._campaigns.list(state=state, after_id=after_id, limit=limit + 1)
        by_campaign = self._calls_by_campaign()
        lines = [await self._line(c, by_campaign) for c in found[:limit]]
        return lines, len(found) > limit

    def subscribe(self, after: str | None) -> Subscription:
        """The event stream from ``after`` on (None: from now)."""
        if self._agents_stale:  # what changed while nobody listened, before the stream's backlog is taken
            self._diff_agents()
        return self.events.subscribe(after)

    # ---- what changes (CallObserver, roster, link, API)

    def call_changed(self, attempt: Attempt) -> None:
        view = call_view(attempt)
        shown = self._shown_calls.get(attempt.call_id)
        if shown == view:
            return
        self._shown_calls[attempt.call_id] = view
        self.events.publish("call", view)
        if shown is None:  # a new call: a reservation, and originates/min now and a minute later
            self._agents_changed()
            self._campaign_changed(attempt.task_id)
            self._call_later(ORIGINATE_WINDOW_S + 1, self._campaign_changed, attempt.task_id)
        elif shown.phase is not view.phase:
            self._campaign_changed(attempt.task_id)

    def call_settled(self, attempt: Attempt, row: ResultRow) -> None:
        self._publish_number(attempt, row)
        self._campaign_changed(attempt.task_id)

    def _publish_number(self, attempt: Attempt, row: ResultRow) -> None:
        retry_at = None if row.is_closed or not row.next_attempt_at else row.next_attempt_at
        outcome = NumberOutcome(
            attempt.task_id,
            attempt.number_id,
            attempt.phone,
            attempt.call_id,
            row.state,
            row.result,
            row.count_try,
            retry_at,
        )
        self.events.publish("number", outcome)

    def call_finished(self, attempt: Attempt, row: ResultRow | None) -> None:
        self._shown_calls.pop(attempt.call_id, None)
        self.events.publish("call", call_view(attempt, ended=True))
        if row is not None:
            self._publish_number(attempt, row)
        self._agents_changed()
        self._campaign_changed(attempt.task_id)

    def campaign_closed(self, campaign_id: int) -> None:
        self._campaign_changed(campaign_id)

    def campaigns_changed(self) -> None:
        """The API created, changed or deleted campaigns or numbers: clients re-read the list."""
        self.events.publish("campaigns", None)

    def close(self) -> None:
        """Shutdown: end every stream (the HTTP server must not wait for them) and every timer."""
        for handle in (self._agents_due, self._campaigns_due, *self._later, *self._counters_due.values()):
            if handle is not None:
                handle.cancel()
        self._later.clear()
        self._counters_due.clear()
        if self._flush is not None:
            self._flush.cancel()
        self.events.close()

    # ---- coalescing

    def _agents_changed(self) -> None:
        if self._agents_due is None and self._roster is not None:
            self._agents_due = self._call_later(self._settle_s, self._publish_agents)

    def _publish_agents(self) -> None:
        self._agents_due = None
        if not self.events.subscribers:
            self._agents_stale = True  # nobody to tell: the next subscriber gets the diff (subscribe)
            return
        self._diff_agents()

    def _diff_agents(self) -> None:
        self._agents_stale = False
        current = {v.agent: v for v in self.agents()}
        changed = [v for k, v in current.items() if self._agents.get(k) != v]
        gone = [k for k in self._agents if k not in current]
        self._agents = current
        if len(changed) + len(gone) > AGENT_BURST:
            self.events.publish("agents", list(current.values()))
            return
        for agent in gone:
            self.events.publish("agent_gone", agent)
        for view in changed:
            self.events.publish("agent", view)

    def _link_changed(self) -> None:
        link = self.link()
        if link is not None:
            self.events.publish("pbx_link", link)

    def _campaign_changed(self, campaign_id: int) -> None:
        self._dirty_campaigns.add(campaign_id)
        if self._campaigns_due is None and (self._flush is None or self._flush.done()):
            self._campaigns_due = self._call_later(self._settle_s, self._start_campaign_flush)

    def _start_campaign_flush(self) -> None:
        self._campaigns_due = None
        dirty, self._dirty_campaigns = self._dirty_campaigns, set()
        if not self.events.subscribers:
            # Nobody listens: no store reads. A client resuming later replays this and re-reads the campaigns.
            self.events.publish("campaigns", None)
            return
        self._flush = asyncio.get_running_loop().create_task(self._publish_campaigns(dirty), name="live-campaigns")

    async def _publish_campaigns(self, ids: set[int]) -> None:
        by_campaign = self._calls_by_campaign()
        for campaign_id in sorted(ids):
            try:
                campaign = await self._campaigns.get(campaign_id)
                line = self._line_of(campaign, by_campaign, await self._throttled_stats(campaign_id))
            except NotFound:
                self._forget(campaign_id)
                self.events.publish("campaign_gone", campaign_id)
                continue
            except Exception:  # the store may be briefly unavailable: the next change publishes again
                log.exception("live board: campaign %s counters not read", campaign_id)
                continue
            self.events.publish("campaign", line)
        if self._dirty_campaigns and self._campaigns_due is None:  # changes that came while we read
            self._campaigns_due = self._call_later(self._settle_s, self._start_campaign_flush)

    def _call_later(self, delay: float, callback: Callable[..., None], *args: object) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()

        def run() -> None:
            self._later.discard(handle)
            if not self.events.closed:
                callback(*args)

        handle = loop.call_later(delay, run)
        self._later.add(handle)
        return handle

    # ---- helpers

    def _calls_by_campaign(self) -> dict[int, tuple[int, int]]:
        return dict(calls_by_campaign(self.calls()))

    async def _throttled_stats(self, campaign_id: int) -> CampaignStats:
        """The campaign's counters: read now if its turn has come, else as last read, with a read booked for
        when its turn comes (a change always ends up read)."""
        known = self._counters.get(campaign_id)
        if known is not None:
            stats, next_read = known
            wait = next_read - self._clock()
            if wait > 0:
                if campaign_id not in self._counters_due:
                    self._counters_due[campaign_id] = self._call_later(wait, self._counters_turn, campaign_id)
                return stats
        return await self._read_stats(campaign_id)

    def _counters_turn(self, campaign_id: int) -> None:
        self._counters_due.pop(campaign_id, None)
        self._campaign_changed(campaign_id)

    async def _read_stats(self, campaign_id: int) -> CampaignStats:
        started = self._clock()
        stats = await self._campaigns.stats(campaign_id)
        ended = self._clock()
        took = max(0.0, ended - started)
        self._counters[campaign_id] = (stats, ended + took * (1 / self._read_share - 1))
        return stats

    def _forget(self, campaign_id: int) -> None:
        self._counters.pop(campaign_id, None)
        due = self._counters_due.pop(campaign_id, None)
        if due is not None:
            due.cancel()
            self._later.discard(due)

    async def _line(self, campaign: Campaign, by_campaign: dict[int, tuple[int, int]]) -> CampaignLive:
        """A line read now (a client's GET): fresh counters, which also start the campaign's wait."""
        return self._line_of(campaign, by_campaign, await self._read_stats(campaign.id))

    def _line_of(
        self, campaign: Campaign, by_campaign: dict[int, tuple[int, int]], stats: CampaignStats
    ) -> CampaignLive:
        ringing, talking = by_campaign.get(campaign.id, (0, 0))
        return CampaignLive(
            campaign_id=campaign.id,
            name=campaign.name,
            state=campaign.state.word,
            numbers_total=stats.numbers_total,
            numbers_open=stats.numbers_by_result.get("", 0),
            numbers_by_result={k: v for k, v in stats.numbers_by_result.items() if k},
            calls_ringing=ringing,
            calls_talking=talking,
            originates_last_minute=stats.originates_last_minute,
            attempts_ended=stats.attempts_ended,
            answered=stats.answered,
            abandoned=stats.abandoned,
            answer_rate=stats.answer_rate,
            abandon_rate=stats.abandon_rate,
        )
