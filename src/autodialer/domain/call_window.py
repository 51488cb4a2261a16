"""When a call may start: a campaign's schedule evaluated in every candidate time zone of the callee at once.

Definition (the invariant the tests hold it to): an instant ``t`` is allowed when ``starts_at <= t < ends_at`` and,
in every candidate zone, the wall clock reading of ``t`` (``datetime.fromtimestamp(t, zone)``) falls on a date that
is not excluded and inside one of that weekday's spans. Nothing else: no rounding, no "assume the offset of the
morning".

Daylight saving follows from that definition. A span that starts inside a spring-forward gap (02:30 on the US
March change) opens when the clock jumps (03:00 EDT), not an hour late; hours repeated at a fall-back (01:00-02:00
on the US November change) are allowed both times; a 09:00-21:00 day is 11 or 13 hours of UTC on no day, only ever
12, because 09:00 and 21:00 of one date are both read on the clock of that date.

How: per zone the time line is cut where the UTC offset changes (found by stepping and bisecting; the search never
assumes whole hours, so +05:45 and Lord Howe's half-hour DST work); within a piece of constant offset the local
spans are shifted by that offset; the zones' sets are intersected, then clipped to the campaign dates. Results are
computed per 7-day UTC chunk and cached, so the engine pays for one chunk per (schedule, zones) and then bisects.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from autodialer.domain.call_hours import ExcludedDates, WeeklyHours
from autodialer.domain.callee_zones import zone_info

CHUNK_S = 7 * 86400
HORIZON_S = 366 * 86400  # next_allowed looks this far ahead before answering "never"
_OFFSET_STEP_S = 6 * 3600  # zones change offset at most once in this long (tzdata has no closer pair since 1970)
_EPOCH_DATE = date(1970, 1, 1)

Interval = tuple[float, float]  # [start, end) in epoch seconds


@dataclass(frozen=True, slots=True)
class CallSchedule:
    """A campaign's calling rules in the callee's local time, plus its absolute start and end (epoch seconds)."""

    hours: WeeklyHours
    excluded: ExcludedDates = field(default_factory=ExcludedDates)
    starts_at: float | None = None
    ends_at: float | None = None


def is_allowed(schedule: CallSchedule, zones: tuple[str, ...], now: float) -> bool:
    """Whether a call may start at ``now`` in every zone of ``zones`` (at least one)."""
    chunk = _chunk_intervals(schedule, zones, int(now // CHUNK_S))
    i = bisect.bisect_right(chunk, (now, float("inf"))) - 1
    return i >= 0 and chunk[i][0] <= now < chunk[i][1]


def next_allowed(
    schedule: CallSchedule, zones: tuple[str, ...], now: float, horizon_s: float = HORIZON_S
) -> float | None:
    """The earliest instant ``>= now`` at which ``is_allowed`` holds, or None if there is none within ``horizon_s``
    (the campaign has ended, or the window never holds in all the zones at once)."""
    for start, _ in _intervals_from(schedule, zones, now, now + horizon_s):
        return max(start, now)
    return None


def allowed_until(schedule: CallSchedule, zones: tuple[str, ...], now: float) -> float | None:
    """When the allowed stretch containing ``now`` ends (at most about a horizon ahead); None when ``now`` is not
    allowed."""
    end: float | None = None
    for start, stop in _intervals_from(schedule, zones, now, now + HORIZON_S):
        if end is None:
            if start > now:
                return None
            end = stop
        elif start == end:  # the same stretch, cut at a chunk boundary
            end = stop
        else:
            return end
    return end


def allowed_intervals(schedule: CallSchedule, zones: tuple[str, ...], start: float, end: float) -> list[Interval]:
    """The allowed set between ``start`` and ``end`` as sorted disjoint intervals (touching chunks joined)."""
    merged: list[Interval] = []
    for a, b in _intervals_from(schedule, zones, start, end):
        a, b = max(a, start), min(b, end)
        if merged and merged[-1][1] == a:
            merged[-1] = (merged[-1][0], b)
        elif a < b:
            merged.append((a, b))
    return merged


def zone_allows(schedule: CallSchedule, zone: str, now: float) -> bool:
    """The plain reading of the definition for one zone (campaign dates aside): the explanation uses it to name the
    zones that hold a number back, the tests use it as the oracle.

    The clock is read at the whole second (offsets and their changes are whole seconds, so the date and offset are
    those of ``now``) and ``now`` is compared with the span edges in UTC: ``fromtimestamp`` rounds to microseconds,
    and 20:59:59.9999998 must not read as 21:00."""
    tz = zone_info(zone)
    local = datetime.fromtimestamp(math.floor(now), tz)
    if local.date() in schedule.excluded:
        return False
    utcoffset = local.utcoffset()
    assert utcoffset is not None  # a ZoneInfo always has one
    midnight = (local.date().toordinal() - _EPOCH_DATE.toordinal()) * 86400 - int(utcoffset.total_seconds())
    return any(midnight + a * 60 <= now < midnight + b * 60 for a, b in schedule.hours.spans_on(local.weekday()))


def _intervals_from(schedule: CallSchedule, zones: tuple[str, ...], start: float, end: float) -> Iterator[Interval]:
    chunk = int(start // CHUNK_S)
    while chunk * CHUNK_S < end:
        for interval in _chunk_intervals(schedule, zones, chunk):
            if interval[1] > start:
                yield interval
        chunk += 1


@lru_cache(maxsize=4096)
def _chunk_intervals(schedule: CallSchedule, zones: tuple[str, ...], chunk: int) -> list[Interval]:
    if not zones:
        raise ValueError("at least one candidate zone is needed")
    # Whole seconds throughout (chunk bounds, offsets, span edges), so every edge is exact; the campaign's own
    # start and end, which may have fractions, are applied last.
    lo, hi = float(chunk * CHUNK_S), float((chunk + 1) * CHUNK_S)
    campaign = (
        schedule.starts_at if schedule.starts_at is not None else lo,
        schedule.ends_at if schedule.ends_at is not None else hi,
    )
    result = [(max(lo, campaign[0]), min(hi, campaign[1]))] if max(lo, campaign[0]) < min(hi, campaign[1]) else []
    for zone in sorted(set(zones)):
        if not result:
            break
        result = _intersect(result, _zone_intervals(schedule, zone_info(zone), lo, hi))
    return result


def _zone_intervals(schedule: CallSchedule, zone: ZoneInfo, lo: float, hi: float) -> list[Interval]:
    pieces: list[Interval] = []
    for seg_lo, seg_hi, offset in _offset_segments(zone, lo, hi):
        local_lo, local_hi = seg_lo + offset, seg_hi + offset
        first = _date_of(local_lo)
        last = _date_of(local_hi)
        for ordinal in range(first.toordinal(), last.toordinal() + 1):
            day = date.fromordinal(ordinal)
            if day in schedule.excluded:
                continue
            midnight = float((ordinal - _EPOCH_DATE.toordinal()) * 86400)
            for a, b in schedule.hours.spans_on(day.weekday()):
                start = max(midnight + a * 60, local_lo)
                stop = min(midnight + b * 60, local_hi)
                if start < stop:
                    pieces.append((start - offset, stop - offset))
    pieces.sort()
    merged: list[Interval] = []
    for piece_lo, piece_hi in pieces:  # a fall-back repeats local hours in two segments that touch in UTC
        if merged and piece_lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], piece_hi))
        else:
            merged.append((piece_lo, piece_hi))
    return merged


def _offset_segments(zone: ZoneInfo, lo: float, hi: float) -> list[tuple[float, float, int]]:
    """[lo, hi) cut where the zone's UTC offset changes: (start, end, offset seconds) pieces."""
    segments: list[tuple[float, float, int]] = []
    seg_start, offset = lo, _offset(zone, lo)
    t = lo
    while t < hi:
        step_end = min(t + _OFFSET_STEP_S, hi)
        if _offset(zone, step_end) != offset:
            a, b = int(t), int(step_end)  # offset(a) == offset, offset(b) != offset; transitions are whole seconds
            while b - a > 1:
                mid = (a + b) // 2
                if _offset(zone, mid) == offset:
                    a = mid
                else:
                    b = mid
            segments.append((seg_start, float(b), offset))
            seg_start, offset = float(b), _offset(zone, b)
            t = float(b)
        else:
            t = step_end
    segments.append((seg_start, hi, offset))
    return segments


def _offset(zone: ZoneInfo, t: float) -> int:
    utcoffset = datetime.fromtimestamp(t, zone).utcoffset()
    assert utcoffset is not None  # a ZoneInfo always has one
    return int(utcoffset.total_seconds())


def _date_of(local_seconds: float) -> date:
    return datetime.fromtimestamp(local_seconds, UTC).date()


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out
