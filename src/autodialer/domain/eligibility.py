"""May this number be dialled now, and if not, every rule that holds it back, in words, and when it next may be.

The one answer the engine (before an Originate), the explain endpoint and ``autodialer explain`` share. Rules here:
the number's own earliest time (``timeCallAllow``) and retry wait, the campaign's start and end, the call window in
every candidate zone of the callee, the do-not-call lists and the attempt limits; given a ``DialConditions``
snapshot (domain/dial_capacity.py), also the holds that end with a change of the PBX's state rather than at a time:
``TARGET_BUSY`` (no free agent at the target, or every line of the campaign in use) and ``PBX_LINK`` (the AMI link
down, or dispatch paused after the PBX refused calls). The campaign's and the row's own state (paused, closed,
final, in a call) are added around this by domain/number_explain.py.

The engine does not call ``evaluate`` per number for the live holds: it plans a whole round at once
(``dialing.plan_dials``), and it decides them with the same functions this module judges them by:
``dial_capacity.agents_free`` (a target's free agents, ``plan_dials``' ``PacingInput.free``), ``lines_free``
(``plan_dials``' line capacity) and ``link_block`` (``dial_rounds.DialRounds._plan``'s pause). The SQL store's due
time is only a coarse prefilter in front of all this.

Combination: ``next_at`` is the earliest instant at which every rule allows a call. All rules but the window only
ever let go as time passes (a wait ends, a daily cap resets at midnight) and never take hold again without a new
attempt, so ``next_at`` is the window's first opening at or after the latest of their release times; a rule that
never lets go by itself (do-not-call, total attempts, a campaign that has ended, a window that never holds in all
candidate zones) makes it None. A live hold makes it None too, not a guess: nobody knows when an agent hangs up or
the link comes back; ``earliest_at`` then says when the other rules would allow the call (None if one never lets go).
Invariants (Hypothesis-tested): ``allowed`` iff no hold; ``next_at`` is allowed and no instant in ``[now, next_at)``
is; a listed number is never allowed; nor is one whose target has no free agent or line, or whose link is down.
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
from autodialer.domain.dial_capacity import DialConditions, LinkBlock, LinkFacts, TargetLoad, lines_free
from autodialer.domain.do_not_call import DncListing, dnc_texts
from autodialer.domain.live_state import AgentState


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
    # What holds every number of the campaign until the PBX's state changes (``DialConditions``): no time known.
    TARGET_BUSY = "target-busy"  # rule: agent (an extension), queue, lines (maxCountChannels all in use)
    PBX_LINK = "pbx-link"  # rule: down, paused


LIVE_KINDS = frozenset({HoldKind.TARGET_BUSY, HoldKind.PBX_LINK})
LIVE_UNKNOWN = (
    "whether the target has a free agent and line and the PBX link is up is known only to the running dialer "
    "(its explain route says)"
)


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
    # With live holds only besides holds that let go in time: when those would allow the call (else None).
    earliest_at: float | None = None
    note: str = ""  # a last line, e.g. that the live state was not known (LIVE_UNKNOWN)

    @property
    def allowed(self) -> bool:
        return not self.holds

    @property
    def waits_for_change(self) -> bool:
        """Held only until the PBX's state changes (an agent, a line, the link) and by rules that let go in time."""
        return self.earliest_at is not None and any(h.kind in LIVE_KINDS for h in self.holds)

    def lines(self) -> list[str]:
        """The verdict in words: each hold, then when the number may next be dialled (and the note, if any)."""
        note = [self.note] if self.note else []
        if self.allowed:
            return ["may be dialled now", *note]
        if self.next_at is not None:
            last = f"next dialable at {time_words.pbx(self.next_at, self.pbx_zone)}"
        elif self.waits_for_change and self.earliest_at is not None:
            last = "next dialable when that changes (no time can be known)"
            if self.earliest_at > self.now:
                last += f", and not before {time_words.pbx(self.earliest_at, self.pbx_zone)}"
        else:
            last = "not dialable again unless something changes"
        return [hold.text for hold in self.holds] + [last, *note]


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


def evaluate(
    rules: CampaignRules,
    facts: NumberFacts,
    now: float,
    pbx_zone: str,
    conditions: DialConditions | None = None,
) -> Verdict:
    """The verdict at ``now``; ``pbx_zone`` is the clock the words give times on besides the callee's.
    ``conditions``: the campaign's target, lines and link now (None: not judged, e.g. outside the service)."""
    live = live_holds(conditions, now, pbx_zone) if conditions is not None else []
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
    next_at = _next_at(schedule, facts.zones, now, holds)
    if live:
        return Verdict(now, (*live, *holds), None, pbx_zone, earliest_at=next_at)
    return Verdict(now, tuple(holds), next_at, pbx_zone)


def live_holds(conditions: DialConditions, now: float, pbx_zone: str) -> list[Hold]:
    """The holds of the campaign's target, lines and PBX link at ``now``, in words; none gives a time (``until``
    None): they end when the state changes. The link comes first: while it is down nothing is known of the agents."""
    holds: list[Hold] = []
    link = conditions.link
    block = link.block(now)
    if block is LinkBlock.DOWN:
        holds.append(Hold(HoldKind.PBX_LINK, _link_down_words(link, pbx_zone), None, "down"))
    elif block is LinkBlock.PAUSED:
        said = f" ({link.pause_reason})" if link.pause_reason else ""
        text = (
            f"dispatch paused since {time_words.pbx_clock(link.paused_since, pbx_zone)}: the PBX refused calls{said}; "
            f"tried again from {time_words.pbx_clock(link.paused_until, pbx_zone)} or when the link reconnects"
        )
        holds.append(Hold(HoldKind.PBX_LINK, text, None, "paused"))
    if lines_free(conditions.lines_limit, conditions.lines_in_use) <= 0:
        text = (
            f"waits for a free line: all {conditions.lines_limit} of the campaign's lines (maxCountChannels) "
            f"are in calls ({conditions.lines_in_use} in flight)"
        )
        holds.append(Hold(HoldKind.TARGET_BUSY, text, None, "lines"))
    target = conditions.target
    if target is not None and not target.paced and block is not LinkBlock.DOWN and target.free <= 0:
        rule = "queue" if target.is_queue else "agent"
        holds.append(Hold(HoldKind.TARGET_BUSY, f"waits for a free agent: {_target_words(target)}", None, rule))
    return holds


def _link_down_words(link: LinkFacts, pbx_zone: str) -> str:
    since = f" since {time_words.pbx_clock(link.since, pbx_zone)}" if link.since is not None else ""
    what = "re-syncing the agents' states" if link.state == "connected" else f"down ({link.state or 'not connected'})"
    error = f" (last error: {link.last_error})" if link.last_error else ""
    return f"PBX link {what}{since}{error}: no call is placed until it is back"


_AGENT_WORDS = {
    AgentState.TALKING: "in a call",
    AgentState.RINGING: "ringing",
    AgentState.PAUSED: "paused or on do-not-disturb",
    AgentState.UNAVAILABLE: "unavailable (not registered)",
    AgentState.RESERVED: "held for another call of ours",
    AgentState.FREE: "free",
}


def _target_words(target: TargetLoad) -> str:
    if not target.is_queue:
        if target.able and target.able <= target.reserved:  # free on the PBX, but a call of ours holds it
            return f"extension {target.target} is {_AGENT_WORDS[AgentState.RESERVED]}"
        if not target.states:
            return f"extension {target.target} is not known to the PBX as an agent"
        state = target.states[0]
        if state is AgentState.FREE:  # shown free by the roster, yet not able: its hint is not idle
            return f"extension {target.target} is not idle by its hint"
        return f"extension {target.target} is {_AGENT_WORDS[state]}"
    counts = [(state, sum(1 for s in target.states if s is state)) for state in _AGENT_WORDS]
    members = ", ".join(f"{n} {_AGENT_WORDS[state]}" for state, n in counts if n)
    of = f" ({len(target.states)} members: {members})" if target.states else " (no members known)"
    able = len(target.able - target.reserved)
    if able <= 0:
        return f"queue {target.target} has no member able to take a call{of}"
    return (
        f"queue {target.target}'s {able} member{'s' if able != 1 else ''} able to take a call "
        f"{'are' if able != 1 else 'is'} needed by the {target.demand} call{'s' if target.demand != 1 else ''} "
        f"already waiting for one{of}"
    )


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
