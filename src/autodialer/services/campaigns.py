"""Campaign use cases (v1 "tasks"): create, read, change, pause, resume, delete; add and list numbers; a number's
attempts and why it waits; live stats. The edges (v2 API, later v1 and the console) call these and translate
``CampaignError`` once; storage is the ``CampaignRepository`` port, which returns domain records.

Every successful write calls ``on_change`` (the dialer engine's wake-up), as v1's routes do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from autodialer.domain.attempt_limits import PastAttempt
from autodialer.domain.call_hours import WeeklyHours
from autodialer.domain.campaigns import (
    AttemptCounts,
    AttemptRecord,
    Campaign,
    CampaignChanges,
    CampaignState,
    CampaignStats,
    ChangedNumbers,
    ChangeKey,
    InvalidField,
    NewCampaign,
    NewNumber,
    NotFound,
    NumberFilter,
    NumberPage,
    NumberRecord,
    TargetKind,
    check_dial_prefix,
    check_lines,
    check_pacing_target,
    check_retry_policy,
    check_schedule,
    check_target,
    stats_from,
)
from autodialer.domain.dial_capacity import DialConditions
from autodialer.domain.eligibility import Verdict
from autodialer.domain.number_explain import DncEntry, explain
from autodialer.domain.numbering_plan import NO_PLAN, NumberingPlan
from autodialer.domain.pacing_config import day_start
from autodialer.domain.phone_numbers import phone_id_of
from autodialer.services.call_window_gate import LOOKBACK_S
from autodialer.services.number_eligibility import NO_LIMITS, NumberEligibility, PhoneDirectory

MAX_PAGE = 1000
MAX_IMPORT = 100_000  # numbers per JSON import request


class CampaignRepository(Protocol):
    """Storage of campaigns and their numbers. Each method is one transaction; a missing or deleted campaign reads
    as None. Writes raise domain CampaignError subclasses (Conflict, InvalidField) naming the field."""

    async def create(self, new: NewCampaign, now: float) -> Campaign: ...

    async def get(self, campaign_id: int) -> Campaign | None: ...

    async def list(self, *, state: CampaignState | None, after_id: int | None, limit: int) -> Sequence[Campaign]: ...

    async def change(self, campaign_id: int, changes: CampaignChanges, now: float) -> Campaign | None: ...

    async def delete(self, campaign_id: int, now: float) -> bool: ...

    async def add_numbers(self, campaign_id: int, numbers: Sequence[NewNumber], now: float) -> int:
        """Add or update (same phone_id: new params and not_before, state and result kept); reopen a campaign the
        dialer closed. Returns how many rows were written; 0 if the campaign is gone."""
        ...

    async def numbers(self, campaign_id: int, flt: NumberFilter, after_id: int | None, limit: int) -> NumberPage: ...

    async def number(self, campaign_id: int, number_id: int) -> NumberRecord | None: ...

    async def changed_numbers(
        self, *, since_us: int, until_us: int | None, campaign_id: int | None, after: ChangeKey | None, limit: int
    ) -> ChangedNumbers:
        """Live numbers (of every campaign, or of ``campaign_id``) whose last change time (µs, the results feed's
        changeTime) is in [since_us, until_us), ordered by (change time, id), after the ``after`` key."""
        ...

    async def attempts(self, campaign_id: int, number_id: int) -> Sequence[AttemptRecord]: ...

    async def number_counts(self, campaign_id: int) -> tuple[dict[str, int], dict[str, int]]:
        """(numbers by state, numbers by result) of the campaign's live rows."""
        ...

    async def attempt_counts(self, campaign_id: int, now: float, day_start: float = 0.0) -> AttemptCounts:
        """Attempts in flight, ended, answered, started in the last hour and minute; answered and abandoned among
        those that ended since ``day_start`` (the campaign day's abandonment)."""
        ...

    async def dnc_entries(self, key: str, campaign_id: int) -> Sequence[DncEntry]:
        """The do-not-call listings of a number by its key (E.164, or the digits of a number without one): on the
        global list and on ``campaign_id``'s."""
        ...

    async def callee_attempts(self, campaign_id: int, callee: str, since: float) -> Sequence[PastAttempt]:
        """Attempts toward ``callee`` (its key): every one of ``campaign_id``'s, every campaign's since ``since``."""
        ...


class DialConditionsView(Protocol):
    """The running dialer's view of a campaign's target, lines and PBX link (services/live_conditions.py)."""

    def conditions(self, campaign: Campaign) -> DialConditions: ...


@dataclass(frozen=True, slots=True)
class CampaignPolicy:
    lines_ceiling: int
    pbx_zone: str
    call_hours: WeeklyHours | None = None  # AUTODIALER_CALL_WINDOW: the engine's window, so explain's too
    numbering_plan: NumberingPlan = NO_PLAN  # AUTODIALER_NUMBERING_PLAN: the engine's table, so explain's too


class CampaignService:
    def __init__(
        self,
        repository: CampaignRepository,
        phones: PhoneDirectory,
        policy: CampaignPolicy,
        now: Callable[[], float],
        on_change: Callable[[], None] = lambda: None,
        live: DialConditionsView | None = None,
    ) -> None:
        """``live``: the dialer's view in this process; None (an API-only instance, ``autodialer explain``): explain
        says that the target's and the link's state are known only to the running dialer."""
        self._repo = repository
        self._live = live
        self._eligibility = NumberEligibility(
            phones, policy.pbx_zone, policy.call_hours, numbering_plan=policy.numbering_plan
        )
        self._policy = policy
        self._now = now
        self.on_change = on_change

    @property
    def pbx_zone(self) -> str:
        return self._policy.pbx_zone

    async def create(self, new: NewCampaign) -> Campaign:
        check_target(new.target)
        check_lines(new.lines, self._policy.lines_ceiling)
        check_dial_prefix(new.dial_prefix)
        check_pacing_target(new.pacing, new.target)
        if new.retry_policy is not None:
            new = replace(new, retry_policy=check_retry_policy(new.retry_policy))
        new = replace(new, schedule=check_schedule(new.schedule))
        campaign = await self._repo.create(new, self._now())
        self.on_change()
        return campaign

    async def get(self, campaign_id: int) -> Campaign:
        campaign = await self._repo.get(campaign_id)
        if campaign is None:
            raise NotFound(f"campaign {campaign_id} does not exist", "campaign_id")
        return campaign

    async def list(
        self, *, state: CampaignState | None = None, after_id: int | None = None, limit: int = 100
    ) -> Sequence[Campaign]:
        return await self._repo.list(state=state, after_id=after_id, limit=_page(limit))

    async def change(self, campaign_id: int, changes: CampaignChanges) -> Campaign:
        if changes.target is not None:
            check_target(changes.target)
        if changes.lines is not None:
            check_lines(changes.lines, self._policy.lines_ceiling)
        if changes.dial_prefix is not None:
            check_dial_prefix(changes.dial_prefix)
        if changes.retry_policy is not None:
            changes = replace(changes, retry_policy=check_retry_policy(changes.retry_policy))
        if changes.schedule is not None:
            changes = replace(changes, schedule=check_schedule(changes.schedule))
        if changes.pacing is not None or (changes.target is not None and changes.target.kind is TargetKind.POLL):
            current = await self.get(campaign_id)
            check_pacing_target(changes.pacing or current.pacing, changes.target or current.target)
        campaign = await self._repo.change(campaign_id, changes, self._now())
        if campaign is None:
            raise NotFound(f"campaign {campaign_id} does not exist", "campaign_id")
        self.on_change()
        return campaign

    async def pause(self, campaign_id: int) -> Campaign:
        return await self.change(campaign_id, CampaignChanges(state=CampaignState.PAUSED))

    async def resume(self, campaign_id: int) -> Campaign:
        """Active again, also after a close: a campaign without open numbers is closed again by the dialer."""
        return await self.change(campaign_id, CampaignChanges(state=CampaignState.ACTIVE))

    async def delete(self, campaign_id: int) -> None:
        if not await self._repo.delete(campaign_id, self._now()):
            raise NotFound(f"campaign {campaign_id} does not exist", "campaign_id")
        self.on_change()

    async def add_numbers(self, campaign_id: int, numbers: Sequence[NewNumber]) -> int:
        if len(numbers) > MAX_IMPORT:
            raise InvalidField(f"at most {MAX_IMPORT} numbers per request", "numbers")
        await self.get(campaign_id)
        written = await self._repo.add_numbers(campaign_id, numbers, self._now())
        self.on_change()
        return written

    async def numbers(
        self, campaign_id: int, flt: NumberFilter, *, after_id: int | None = None, limit: int = 100
    ) -> NumberPage:
        await self.get(campaign_id)
        return await self._repo.numbers(campaign_id, flt, after_id, _page(limit))

    async def changed_numbers(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        campaign_id: int | None = None,
        after: ChangeKey | None = None,
        limit: int = 100,
    ) -> ChangedNumbers:
        """The numbers whose last change was at ``since`` or later and before ``until`` (epoch seconds; None: no
        bound), of one campaign or of all, in change order: v1's results feed as pages. A number that changes again
        while a client pages moves to its new place (it may be seen twice, never missed). InvalidField naming
        ``until`` when it is not after ``since``; NotFound naming ``campaign_id`` for a campaign that is not there."""
        if since is not None and until is not None and until <= since:
            raise InvalidField("must be later than since", "until")
        if campaign_id is not None:
            await self.get(campaign_id)
        return await self._repo.changed_numbers(
            since_us=0 if since is None else max(0, round(since * 1_000_000)),
            until_us=None if until is None else max(0, round(until * 1_000_000)),
            campaign_id=campaign_id,
            after=after,
            limit=_page(limit),
        )

    async def number(self, campaign_id: int, number_id: int) -> NumberRecord:
        await self.get(campaign_id)
        found = await self._repo.number(campaign_id, number_id)
        if found is None:
            raise NotFound(f"campaign {campaign_id} has no number {number_id}", "number_id")
        return found

    async def attempts(self, campaign_id: int, number_id: int) -> Sequence[AttemptRecord]:
        await self.number(campaign_id, number_id)
        return await self._repo.attempts(campaign_id, number_id)

    async def explain(self, campaign_id: int, number_id: int) -> Verdict:
        campaign = await self.get(campaign_id)
        number = await self.number(campaign_id, number_id)
        callee = self._eligibility.callee(number.phone, number.params, campaign.schedule.default_zone)
        dnc = await self._repo.dnc_entries(callee.key, campaign_id)
        now = self._now()
        history: Sequence[PastAttempt] = ()
        if campaign.limits != NO_LIMITS:
            history = await self._repo.callee_attempts(campaign_id, callee.key, now - LOOKBACK_S)
        return explain(
            campaign,
            number,
            e164=callee.e164,
            zones=callee.zones,
            dnc=dnc,
            now=now,
            pbx_zone=self._policy.pbx_zone,
            rules=self._eligibility.rules(campaign_id, campaign.schedule, campaign.limits),
            attempts=history,
            conditions=self._live.conditions(campaign) if self._live is not None else None,
            live_known=self._live is not None,
        )

    async def explain_phone(self, campaign_id: int, phone: str) -> tuple[NumberRecord, Verdict]:
        """``explain`` for the campaign's number written ``phone`` (as the CRM sent it, or another spelling with
        the same phoneId); NotFound naming ``phone`` when the campaign has none."""
        await self.get(campaign_id)
        page = await self._repo.numbers(campaign_id, NumberFilter(phone_id=phone_id_of(phone)), None, MAX_PAGE)
        if not page.items:
            raise NotFound(f"campaign {campaign_id} has no number {phone!r}", "phone")
        number = next((n for n in page.items if n.phone == phone), page.items[0])
        return number, await self.explain(campaign_id, number.id)

    async def stats(self, campaign_id: int) -> CampaignStats:
        await self.get(campaign_id)
        by_state, by_result = await self._repo.number_counts(campaign_id)
        now = self._now()
        counts = await self._repo.attempt_counts(campaign_id, now, day_start(now, self._policy.pbx_zone))
        return stats_from(campaign_id, by_state, by_result, counts)


def _page(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidField(f"must be an integer in 1..{MAX_PAGE}", "limit")
    return limit
