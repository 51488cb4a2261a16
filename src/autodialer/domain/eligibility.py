"""May this number be dialled now, and if not, every rule that holds it back, in words, and when it next may be.

The one answer the engine (before an Originate), the explain endpoint and ``autodialer explain`` share. Rules here:
the number's own earliest time (``timeCallAllow``) and retry wait, the campaign's start and end, the call window in
every candidate zone of the callee, the do-not-call lists and the attempt limits. (Task state, target capacity and
the PBX link are the engine's to add as further HoldKinds; they hold every number of a task alike.)

Combination: ``next_at`` is the earliest instant at which every rule allows a call. All rules but the window only
ever let go as time passes (a wait ends, a daily cap resets at midnight) and never take hold again without a new
attempt, so ``next_at`` is the window's first opening at or after the latest of their release times; a rule that
never lets go by itself (do-not-call, total attempts, a campaign that has ended, a window that never holds in all
candidate zones) makes it None. Invariants (Hypothesis-tested): ``allowed`` iff no hold; ``next_at`` is allowed and
no instant in ``[now, next_at)`` is; a listed number is never allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from autodialer.domain import time_words
from autodialer.domain.attempt_limits import AttemptLimits, PastAttempt, attempt_holds
from autodialer.domain.call_hours import format_spans
from autodialer.domain.call_window import CallSchedule, is_allowed, next_allowed, zone_allows
from autodialer.domain.callee_zones import CalleeZones, zone_info
from autodialer.domain.do_not_call import DncListing, dnc_texts


class HoldKind(StrEnum):
    NOT_BEFORE = "not-before"  # the number's timeCallAllow
    RETRY_WAIT = "retry-wait"
    CAMPAIGN_NOT_STARTED = "campaign-not-started"
    CAMPAIGN_ENDED = "campaign-ended"
    OUTSIDE_CALL_WINDOW = "outside-call-window"
    NO_COMMON_WINDOW = "no-common-window"  # the window never holds in every candidate zone at once
    DO_NOT_CALL = "do-not-call"
    ATTEMPT_LIMIT = "attempt-limit"
    # The campaign's and the row's own state (domain/number_explain.py adds them around ``evaluate``).
    CAMPAIGN_PAUSED = "campaign-paused"
    CAMPAIGN_CLOSED = "campaign-closed"
    NUMBER_FINAL = "number-final"
    IN_CALL = "in-call"


@dataclass(frozen=True, slots=True)
class Hold:
    kind: HoldKind
    text: str
    until: float | None  # when this rule alone lets go; None: never by itself
    rule: str = ""  # finer name within the kind (max_per_day, max_total, …)


@dataclass(frozen=True, slots=True)
class Verdict:
    now: float
    holds: tuple[Hold, ...]
    next_at: float | None  # ``now`` when allowed; None: not without a change (unlisting, new hours, a tz …)
    pbx_zone: str = "UTC"

    @property
    def allowed(self) -> bool:
        return not self.holds

    def lines(self) -> list[str]:
        """The verdict in words: each hold, then when the number may next be dialled."""
        if self.allowed:
            return ["may be dialled now"]
        last = (
            f"next dialable at {time_words.pbx(self.next_at, self.pbx_zone)}"
            if self.next_at is not None
            else "not dialable again unless something changes"
        )
        return [hold.text for hold in self.holds] + [last]


@dataclass(frozen=True, slots=True)
class CampaignRules:
    campaign_id: int
    schedule: CallSchedule | None = None  # None: no call window (v1 tasks while no global window is set)
    limits: AttemptLimits = field(default_factory=AttemptLimits)


@dataclass(frozen=True, slots=True)
class NumberFacts:
    e164: str
    zones: CalleeZones
    not_before: float = 0.0  # timeCallAllow
    retry_at: float = 0.0  # next_attempt_at after a retryable outcome
    dnc: tuple[DncListing, ...] = ()  # listings of this number (global and any campaign's)
    attempts: tuple[PastAttempt, ...] = ()  # this number's attempts in every campaign


def evaluate(rules: CampaignRules, facts: NumberFacts, now: float, pbx_zone: str) -> Verdict:
    """The verdict at ``now``; ``pbx_zone`` is the clock the words give times on besides the callee's."""
    holds: list[Hold] = []
    if facts.not_before > now:
        text = f"not before {time_words.pbx(facts.not_before, pbx_zone)} (timeCallAllow)"
        holds.append(Hold(HoldKind.NOT_BEFORE, text, facts.not_before))
    if facts.retry_at > now:
        holds.append(
            Hold(HoldKind.RETRY_WAIT, f"retry after {time_words.pbx(facts.retry_at, pbx_zone)}", facts.retry_at)
        )
    holds.extend(
        Hold(HoldKind.DO_NOT_CALL, text, None) for text in dnc_texts(facts.dnc, facts.e164, rules.campaign_id, pbx_zone)
    )
    holds.extend(
        Hold(HoldKind.ATTEMPT_LIMIT, h.text, h.until, h.rule)
        for h in attempt_holds(rules.limits, rules.campaign_id, facts.attempts, facts.zones.zones, now)
    )
    schedule = rules.schedule
    window_holds = _window_holds(schedule, facts.zones, now, pbx_zone) if schedule is not None else []
    holds.extend(window_holds)
    return Verdict(now, tuple(holds), _next_at(schedule, facts.zones, now, holds), pbx_zone)


def _next_at(schedule: CallSchedule | None, zones: CalleeZones, now: float, holds: list[Hold]) -> float | None:
    if not holds:
        return now
    if any(h.until is None for h in holds):
        return None
    start = max([now, *(h.until for h in holds if h.until is not None and h.kind is not HoldKind.OUTSIDE_CALL_WINDOW)])
    return start if schedule is None else next_allowed(schedule, zones.zones, start)


def _window_holds(schedule: CallSchedule, zones: CalleeZones, now: float, pbx_zone: str) -> list[Hold]:
    if schedule.ends_at is not None and now >= schedule.ends_at:
        return [
            Hold(HoldKind.CAMPAIGN_ENDED, f"the campaign ended at {time_words.pbx(schedule.ends_at, pbx_zone)}", None)
        ]
    holds: list[Hold] = []
    if schedule.starts_at is not None and now < schedule.starts_at:
        text = f"the campaign starts at {time_words.pbx(schedule.starts_at, pbx_zone)}"
        holds.append(Hold(HoldKind.CAMPAIGN_NOT_STARTED, text, schedule.starts_at))
    if is_allowed(schedule, zones.zones, now):
        return holds  # the cached intersection: the engine's common case costs a bisect
    closed = [zone for zone in zones.zones if not zone_allows(schedule, zone, now)]
    if not closed:
        return holds  # open now in every zone (the window is their intersection)
    where = _closed_words(schedule, zones, closed, now)
    opening = next_allowed(schedule, zones.zones, now)
    if opening is not None:
        text = f"{where}, next at {time_words.local_and_pbx(opening, closed[0], pbx_zone)}"
        return [*holds, Hold(HoldKind.OUTSIDE_CALL_WINDOW, text, opening)]
    if schedule.ends_at is not None and next_allowed(replace(schedule, ends_at=None), zones.zones, now) is not None:
        text = f"{where}; the window does not open again before the campaign ends at " + time_words.pbx(
            schedule.ends_at, pbx_zone
        )
        return [*holds, Hold(HoldKind.CAMPAIGN_ENDED, text, None)]
    text = (
        f"{where}; the call window never holds in all {len(zones.zones)} candidate zones at once within a year: "
        "give the number a tz param or widen the hours"
    )
    return [*holds, Hold(HoldKind.NO_COMMON_WINDOW, text, None)]


def _closed_words(schedule: CallSchedule, zones: CalleeZones, closed: list[str], now: float) -> str:
    if len(zones.zones) == 1:
        return _zone_phrase(schedule, closed[0], now, f"; zone from the {zones.source.value}")
    shown = "; ".join(_zone_phrase(schedule, zone, now) for zone in closed[:3])
    more = f" and {len(closed) - 3} more" if len(closed) > 3 else ""
    return (
        f"the call window is closed in {len(closed)} of {len(zones.zones)} candidate zones "
        f"(zones from the {zones.source.value}): {shown}{more}"
    )


def _zone_phrase(schedule: CallSchedule, zone: str, now: float, note: str = "") -> str:
    """Why the window is closed in ``zone`` now: its hours that day, a day without calls or an excluded date."""
    local = datetime.fromtimestamp(now, zone_info(zone))
    clock = f"(now {time_words.wall(now, zone)} local{note})"
    if local.date() in schedule.excluded:
        return f"{local.date()} is an excluded date in {zone} {clock}"
    spans = schedule.hours.spans_on(local.weekday())
    if not spans:
        return f"no calls on {local.strftime('%A')} in {zone} {clock}"
    return f"outside {format_spans(spans, dash='–')} {zone} {clock}"
