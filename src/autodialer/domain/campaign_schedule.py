"""A campaign's own schedule (v2 fields): calling hours and excluded dates in the callee's local time, an absolute
start and end, a default time zone for numbers that give none; and how it combines with the global window.

The hours replace the global ``AUTODIALER_CALL_WINDOW`` for that campaign; absent, the global window applies (as it
does to every v1 task). Excluded dates, start and end apply with either hours; with neither a campaign nor a global
window, they apply on their own (every hour of a day not excluded, between start and end).

Checked once for every edge (campaigns.check_schedule): an error names the field (``schedule.hours``,
``schedule.excluded_dates``, ``schedule.default_zone``, ``schedule.ends_at``) and the rule. Stored and shown in
canonical text, so what a client reads back is what the dialer applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from autodialer.domain.call_hours import ExcludedDates, WeeklyHours, parse_call_hours, parse_excluded_dates
from autodialer.domain.call_window import CallSchedule

_ALL_DAY = WeeklyHours.every_day(0, 24 * 60)


@dataclass(frozen=True, slots=True)
class CampaignSchedule:
    hours: str | None = None  # canonical hours text; None: the global window
    excluded_dates: str = ""  # canonical excluded-dates text
    starts_at: float | None = None  # epoch seconds
    ends_at: float | None = None
    default_zone: str | None = None  # None: the PBX's zone

    @property
    def is_empty(self) -> bool:
        return self == CampaignSchedule()


def call_schedule(schedule: CampaignSchedule, global_hours: WeeklyHours | None) -> CallSchedule | None:
    """What eligibility applies for a campaign with ``schedule`` under the global window ``global_hours``; None
    when nothing restricts the hours (no window anywhere, no excluded dates, no start or end)."""
    return _call_schedule(schedule.hours, schedule.excluded_dates, schedule.starts_at, schedule.ends_at, global_hours)


@lru_cache(maxsize=1024)
def _call_schedule(
    hours_text: str | None,
    excluded_text: str,
    starts_at: float | None,
    ends_at: float | None,
    global_hours: WeeklyHours | None,
) -> CallSchedule | None:
    # Cached: the engine asks for every due number, and an equal CallSchedule keeps call_window's chunk cache warm.
    hours = parse_call_hours(hours_text, "schedule.hours") if hours_text is not None else global_hours
    excluded = parse_excluded_dates(excluded_text) if excluded_text else ExcludedDates()
    if hours is None:
        if not excluded.ranges and starts_at is None and ends_at is None:
            return None
        hours = _ALL_DAY
    return CallSchedule(hours, excluded, starts_at, ends_at)
