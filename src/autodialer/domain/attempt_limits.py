"""Attempt limits per number: per day and in total per campaign, a least gap between calls, and a cap on calls to one
number per day across all campaigns (the frequency a regulator asks about).

What counts as an attempt: every call placed toward the callee (an Originate the PBX accepted), answered or not,
including the ones that reached nobody free on our side: the callee's phone rang all the same. An Originate the PBX
refused before dialling reached no one and is left out by the caller.

"Day" is the callee's calendar day, in every candidate zone: an attempt counts for today if it falls on today's date
on the clock of any candidate zone, and a daily cap releases at the latest of the candidates' next midnights where it
is reached. That is the callee's experience (three calls "today" are three calls on their clock, not on the PBX's),
and with several candidate zones it never lets a number get more calls on one local day than the cap in any of them.
When the callee's zone is unknown the candidate is the campaign's default zone, so the day is then the PBX's.

The gap is measured from the end of the previous call (its start if it has not ended): it is the quiet time the callee
gets between two calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from autodialer.domain.callee_zones import zone_info


class InvalidAttemptLimits(ValueError):
    error_id = "invalid-attempt-limits"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.details = {"field": field}


@dataclass(frozen=True, slots=True)
class AttemptLimits:
    """None switches a limit off. ``max_per_day``/``max_total`` count this campaign's attempts for the number,
    ``max_per_day_all_campaigns`` every campaign's."""

    max_per_day: int | None = None
    max_total: int | None = None
    min_gap_s: float | None = None
    max_per_day_all_campaigns: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_per_day", "max_total", "max_per_day_all_campaigns"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000):
                raise InvalidAttemptLimits(name, "must be an integer in 1..1000 or absent")
        gap = self.min_gap_s
        if gap is not None and (
            isinstance(gap, bool) or not isinstance(gap, int | float) or not 0 <= gap <= 30 * 86400
        ):
            raise InvalidAttemptLimits("min_gap_s", "must be a number of seconds in 0..2592000 or absent")


@dataclass(frozen=True, slots=True)
class PastAttempt:
    campaign_id: int
    started_at: float
    ended_at: float | None = None


@dataclass(frozen=True, slots=True)
class LimitHold:
    """One limit reached: which (``rule``), the words, and when it releases (None: never)."""

    rule: str  # max_per_day | max_total | min_gap_s | max_per_day_all_campaigns
    text: str
    until: float | None


def attempt_holds(
    limits: AttemptLimits, campaign_id: int, attempts: Sequence[PastAttempt], zones: tuple[str, ...], now: float
) -> list[LimitHold]:
    """The limits that hold the number back at ``now``, given its past attempts in every campaign."""
    holds: list[LimitHold] = []
    own = [a for a in attempts if a.campaign_id == campaign_id]
    if limits.max_total is not None and len(own) >= limits.max_total:
        holds.append(LimitHold("max_total", f"{len(own)} of {limits.max_total} attempts made", None))
    if limits.max_per_day is not None:
        holds.extend(_daily(own, limits.max_per_day, zones, now, "max_per_day", "attempts today"))
    if limits.max_per_day_all_campaigns is not None:
        holds.extend(
            _daily(
                attempts,
                limits.max_per_day_all_campaigns,
                zones,
                now,
                "max_per_day_all_campaigns",
                "calls today to this number across all campaigns",
            )
        )
    if limits.min_gap_s is not None and own:
        last = max((a.ended_at if a.ended_at is not None else a.started_at) for a in own)
        if now < last + limits.min_gap_s:
            holds.append(
                LimitHold(
                    "min_gap_s",
                    f"last call ended {now - last:.0f} s ago, the least gap is {limits.min_gap_s:.0f} s",
                    last + limits.min_gap_s,
                )
            )
    return holds


@dataclass(frozen=True, slots=True)
class CalleeDayCap:
    """The cap across campaigns as the claim of a call applies it again, against every call toward the callee
    stored by then (other campaigns', other instances', earlier ones of the same round): the planning round judged
    the number against the attempts before it, and two campaigns can hold the same callee in one round.

    ``days`` are the callee's today in each candidate zone at the claim, [start, end); the call is allowed while
    fewer than ``cap`` calls started in every one of them (the same rule as ``attempt_holds``)."""

    callee: str  # the E.164 key (``attempts.callee``)
    cap: int
    days: tuple[tuple[float, float], ...]

    @property
    def since(self) -> float:
        return min(start for start, _end in self.days)

    def allows(self, started: Sequence[float]) -> bool:
        return all(sum(1 for t in started if start <= t < end) < self.cap for start, end in self.days)


def callee_day_cap(limits: AttemptLimits, callee: str, zones: tuple[str, ...], now: float) -> CalleeDayCap | None:
    """What the claim of a call at ``now`` re-checks, None when the campaign has no cap across campaigns."""
    if limits.max_per_day_all_campaigns is None:
        return None
    days = tuple(sorted({_local_day(now, zone_info(zone)) for zone in zones}))
    return CalleeDayCap(callee, limits.max_per_day_all_campaigns, days)


def _daily(
    attempts: Sequence[PastAttempt], cap: int, zones: tuple[str, ...], now: float, rule: str, what: str
) -> list[LimitHold]:
    # A local day is at most 26 hours long (Lord Howe's half hour aside, 25): fewer recent attempts than the cap
    # cannot fill today anywhere, which settles most numbers without a calendar.
    if sum(1 for a in attempts if now - 26 * 3600 <= a.started_at) < cap:
        return []
    release: float | None = None
    worst = 0
    worst_zone = ""
    for zone in zones:
        tz = zone_info(zone)
        start, end = _local_day(now, tz)
        count = sum(1 for a in attempts if start <= a.started_at < end)
        if count >= cap:
            release = end if release is None else max(release, end)
            if count > worst:
                worst, worst_zone = count, zone
    if release is None:
        return []
    return [LimitHold(rule, f"{worst} of {cap} {what} ({worst_zone})", release)]


def local_day(now: float, zone: ZoneInfo) -> tuple[float, float]:
    """[start, end) of the local calendar day containing ``now`` (also the pacing cap's campaign day)."""
    return _local_day(now, zone)


def _local_day(now: float, zone: ZoneInfo) -> tuple[float, float]:
    """[start, end) of the local calendar day containing ``now`` in epoch seconds (days of 23 or 25 hours across DST;
    a midnight skipped by a DST jump starts the day at the first instant that reads that date)."""
    today = datetime.fromtimestamp(now, zone).date()
    return _first_instant_of(today, zone), _first_instant_of(today + timedelta(days=1), zone)


@lru_cache(maxsize=4096)
def _first_instant_of(day: date, zone: ZoneInfo) -> float:
    start = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
    # In a gap (some zones skip 00:00), fold=0 lands after the jump; step back to the jump itself.
    while datetime.fromtimestamp(start - 60, zone).date() == datetime.fromtimestamp(start, zone).date():
        start -= 60
    return start
