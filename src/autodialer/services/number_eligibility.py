"""The one place the engine (before a claim) and the explain use cases (v2 route, ``autodialer explain``) turn a
stored number into eligibility's inputs: its E.164 form and candidate zones, and the campaign's rules (today the
global call window, ``AUTODIALER_CALL_WINDOW``, which v1 tasks obey too). Same inputs, same ``evaluate``: the engine
and explain cannot disagree about the window.

Do-not-call listings are facts the engine does not read per round: the store checks them in the transaction that
claims a number (adapters/db/sql_dialer_store.py), and explain reads them for its words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from autodialer.domain.call_hours import WeeklyHours
from autodialer.domain.call_window import CallSchedule
from autodialer.domain.callee_zones import CalleeZones, resolve_callee_zones
from autodialer.domain.do_not_call import DncListing
from autodialer.domain.e164 import UnparseablePhoneNumber
from autodialer.domain.eligibility import CampaignRules, NumberFacts, Verdict, evaluate


class PhoneDirectory(Protocol):
    """A number's E.164 form and time zones (libphonenumber behind it)."""

    def e164(self, raw: str, field: str = "phone") -> str: ...

    def zones(self, e164: str) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class Callee:
    e164: str | None  # None: no E.164 form (an internal short number)
    zones: CalleeZones


class NumberEligibility:
    def __init__(self, phones: PhoneDirectory, pbx_zone: str, call_hours: WeeklyHours | None) -> None:
        self._phones = phones
        self.pbx_zone = pbx_zone
        self._schedule = CallSchedule(call_hours) if call_hours is not None else None

    @property
    def has_window(self) -> bool:
        return self._schedule is not None

    def rules(self, campaign_id: int) -> CampaignRules:
        return CampaignRules(campaign_id, schedule=self._schedule)

    def callee(self, phone: str, params: Mapping[str, Any] | None) -> Callee:
        """E.164 and candidate zones: the ``tz`` param, else the number's zones, else the PBX's zone. A ``tz`` param
        the tz database does not know is passed over (the number's own zones then apply, never a guess)."""
        try:
            e164: str | None = self._phones.e164(phone)
        except UnparseablePhoneNumber:
            e164 = None
        number_zones = self._phones.zones(e164) if e164 is not None else ()
        tz = (params or {}).get("tz")
        try:
            zones = resolve_callee_zones(
                crm_tz=tz if isinstance(tz, str) else None, number_zones=number_zones, default_zone=self.pbx_zone
            )
        except ValueError:
            zones = resolve_callee_zones(crm_tz=None, number_zones=number_zones, default_zone=self.pbx_zone)
        return Callee(e164, zones)

    def verdict(
        self,
        campaign_id: int,
        callee: Callee,
        now: float,
        *,
        not_before: float = 0.0,
        retry_at: float = 0.0,
        dnc: Sequence[DncListing] = (),
    ) -> Verdict:
        facts = NumberFacts(
            e164=callee.e164 or "+0",
            zones=callee.zones,
            not_before=not_before,
            retry_at=retry_at,
            dnc=tuple(dnc),
        )
        return evaluate(self.rules(campaign_id), facts, now, self.pbx_zone)
