"""The one place the engine (before a claim) and the explain use cases (v2 route, ``autodialer explain``) turn a
stored number into eligibility's inputs: its E.164 form and candidate zones (the numbering plan
``AUTODIALER_NUMBERING_PLAN`` included), and its campaign's rules (the
campaign's own schedule and attempt limits, else the global call window ``AUTODIALER_CALL_WINDOW``, which v1 tasks
obey). Same inputs, same ``evaluate``: the engine and explain cannot disagree about a window, a holiday or a cap.

Do-not-call listings are facts the engine does not read per round: the store checks them in the transaction that
claims a number (adapters/db/sql_dialer_store.py), and explain reads them for its words. Past attempts are read by
the caller (the store's ``callee_attempts``) only when the campaign has attempt limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from autodialer.domain.attempt_limits import AttemptLimits, PastAttempt
from autodialer.domain.call_hours import WeeklyHours
from autodialer.domain.callee_zones import CalleeZones, ZoneSource, resolve_callee_zones
from autodialer.domain.campaign_schedule import CampaignSchedule, call_schedule
from autodialer.domain.do_not_call import DncListing
from autodialer.domain.e164 import UnparseablePhoneNumber
from autodialer.domain.eligibility import CampaignRules, NumberFacts, Verdict, evaluate
from autodialer.domain.numbering_plan import NO_PLAN, NumberingPlan
from autodialer.domain.phone_numbers import phone_id_of

NO_LIMITS = AttemptLimits()
NO_SCHEDULE = CampaignSchedule()


def own_times_verdict(campaign_id: int, not_before: float, retry_at: float, now: float, pbx_zone: str) -> Verdict:
    """``evaluate`` for a campaign that no window, schedule or limit applies to (v1's default): only the number's own
    times (``timeCallAllow``, the retry wait) can hold it, so no callee facts are needed (its zones are not read)."""
    facts = NumberFacts(
        e164="+0",
        zones=CalleeZones((pbx_zone,), ZoneSource.CAMPAIGN_DEFAULT),
        not_before=not_before,
        retry_at=retry_at,
    )
    return evaluate(CampaignRules(campaign_id), facts, now, pbx_zone)


class PhoneDirectory(Protocol):
    """A number's E.164 form and time zones (libphonenumber behind it)."""

    def e164(self, raw: str, field: str = "phone") -> str: ...

    def zones(self, e164: str) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class Callee:
    e164: str | None  # None: no E.164 form (an internal short number)
    zones: CalleeZones
    key: str = ""  # the do-not-call and attempts key: the E.164 form, else the number's digits


class NumberEligibility:
    def __init__(
        self,
        phones: PhoneDirectory,
        pbx_zone: str,
        call_hours: WeeklyHours | None,
        *,
        numbering_plan: NumberingPlan = NO_PLAN,
    ) -> None:
        self._phones = phones
        self._plan = numbering_plan
        self.pbx_zone = pbx_zone
        self._global_hours = call_hours

    @property
    def has_window(self) -> bool:
        """A global window is set (every campaign and v1 task is then judged)."""
        return self._global_hours is not None

    def applies(self, schedule: CampaignSchedule, limits: AttemptLimits) -> bool:
        """Whether any rule of the window or the limits can hold a number of this campaign back (else its due
        numbers need no verdict)."""
        return self._global_hours is not None or schedule != NO_SCHEDULE or limits != NO_LIMITS

    def rules(
        self, campaign_id: int, schedule: CampaignSchedule = NO_SCHEDULE, limits: AttemptLimits = NO_LIMITS
    ) -> CampaignRules:
        return CampaignRules(campaign_id, schedule=call_schedule(schedule, self._global_hours), limits=limits)

    def callee(self, phone: str, params: Mapping[str, Any] | None, default_zone: str | None = None) -> Callee:
        """E.164 and candidate zones: the ``tz`` param, else the numbering plan's zone for the number, else the
        number's zones (libphonenumber), else the campaign's default zone (else the PBX's). A ``tz`` param the tz
        database does not know is passed over (the plan's or the number's own zones then apply, never a guess)."""
        try:
            e164: str | None = self._phones.e164(phone)
        except UnparseablePhoneNumber:
            e164 = None
        plan_zones = self._plan.zones_for(e164) if e164 is not None else ()
        number_zones = self._phones.zones(e164) if e164 is not None and not plan_zones else ()
        tz = (params or {}).get("tz")
        default = default_zone or self.pbx_zone
        try:
            zones = resolve_callee_zones(
                crm_tz=tz if isinstance(tz, str) else None,
                plan_zones=plan_zones,
                number_zones=number_zones,
                default_zone=default,
            )
        except ValueError:
            zones = resolve_callee_zones(
                crm_tz=None, plan_zones=plan_zones, number_zones=number_zones, default_zone=default
            )
        return Callee(e164, zones, e164 or phone_id_of(phone) or phone[:64])

    def verdict(
        self,
        rules: CampaignRules,
        callee: Callee,
        now: float,
        *,
        not_before: float = 0.0,
        retry_at: float = 0.0,
        dnc: Sequence[DncListing] = (),
        attempts: Sequence[PastAttempt] = (),
    ) -> Verdict:
        facts = NumberFacts(
            e164=callee.e164 or "+0",
            zones=callee.zones,
            not_before=not_before,
            retry_at=retry_at,
            dnc=tuple(dnc),
            attempts=tuple(attempts),
        )
        return evaluate(rules, facts, now, self.pbx_zone)
