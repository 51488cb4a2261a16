"""Weekly calling hours and excluded dates, in the callee's local time, and their documented text formats.

Hours (``AUTODIALER_CALL_WINDOW``, a campaign's ``hours``)::

    hours    := rule (";" rule)*
    rule     := [days " "] spans
    days     := day ("-" day)? ("," day ("-" day)?)*      mon tue wed thu fri sat sun; "fri-mon" wraps
    spans    := "off" | span ("," span)*
    span     := HH:MM "-" HH:MM                           00:00 <= start < end <= 24:00

``09:00-21:00`` is every day 09:00-21:00; ``09:00-21:00; sat,sun 10:00-20:00`` is weekdays 09-21 and weekends 10-20
(a rule without days covers every day no other rule names; at most one such rule); ``mon-fri 09:00-13:00,14:00-18:00``
leaves the weekend without calls; ``09:00-21:00; sun off`` leaves Sunday without calls. A day named by two rules,
overlapping spans and unknown words are errors naming the rule.

A span never crosses midnight: ``22:00-02:00`` is refused. Which calendar day (and so which weekday rule and which
holiday) the hours after midnight would belong to is exactly what operators get wrong; write ``fri 22:00-24:00; sat
00:00-02:00`` instead. Spans are half-open: ``09:00-21:00`` allows 20:59:59, not 21:00.

Excluded dates (holidays, in the callee's local calendar): ``2026-01-01..2026-01-08, 2026-02-23`` (ISO dates and
inclusive ranges of at most 366 days, comma-separated).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
MAX_EXCLUDED_RANGE_DAYS = 366

Span = tuple[int, int]  # minutes since local midnight, [start, end)

_RULE = re.compile(r"^(?:(?P<days>[a-z][a-z,\-\s]*?)\s+)?(?P<spans>off|[0-9:,\-\s]+)$")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


class InvalidCallWindow(ValueError):
    """A call window or excluded-dates text breaks the format; ``details`` names the field and the rule."""

    error_id = "invalid-call-window"

    def __init__(self, field: str, message: str, rule: str | None = None) -> None:
        where = f"{field}: rule {rule!r}: " if rule is not None else f"{field}: "
        super().__init__(where + message)
        self.details = {"field": field, "rule": rule}


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """Allowed spans per weekday (index 0 = Monday), sorted and disjoint; an empty tuple is a day without calls."""

    days: tuple[tuple[Span, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError("WeeklyHours needs seven days")

    @classmethod
    def every_day(cls, start_minute: int, end_minute: int) -> WeeklyHours:
        return cls(tuple(((start_minute, end_minute),) for _ in DAY_NAMES))

    def spans_on(self, weekday: int) -> tuple[Span, ...]:
        return self.days[weekday]

    def __str__(self) -> str:
        """The canonical text (parse_call_hours gives this object back): days grouped by equal spans."""
        groups: dict[tuple[Span, ...], list[int]] = {}
        for weekday, spans in enumerate(self.days):
            groups.setdefault(spans, []).append(weekday)
        if len(groups) == 1:
            spans = self.days[0]
            return format_spans(spans, sep=",") if spans else "mon-sun off"
        return "; ".join(
            f"{_format_days(days)} {format_spans(spans, sep=',') or 'off'}" for spans, days in groups.items()
        )


@dataclass(frozen=True, slots=True)
class ExcludedDates:
    """Inclusive date ranges (holidays) on which no call starts, in the callee's local calendar."""

    ranges: tuple[tuple[date, date], ...] = ()

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and any(first <= day <= last for first, last in self.ranges)

    def __str__(self) -> str:
        return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in self.ranges)


def parse_call_hours(text: str, field: str = "hours") -> WeeklyHours:
    """``text`` in the hours format (module docstring) as WeeklyHours, or InvalidCallWindow naming ``field`` and
    the rule at fault."""
    rules = [part.strip() for part in text.strip().lower().split(";")]
    if rules == [""]:
        raise InvalidCallWindow(field, "is empty; give hours such as '09:00-21:00'")
    named: dict[int, tuple[Span, ...]] = {}
    rest: tuple[Span, ...] | None = None
    for rule in rules:
        if not rule:
            raise InvalidCallWindow(field, "has an empty rule (two ';' in a row or a trailing ';')")
        match = _RULE.match(rule)
        if match is None:
            raise InvalidCallWindow(field, "must read '[days] HH:MM-HH:MM[,HH:MM-HH:MM…]' or '[days] off'", rule)
        spans = _parse_spans(match["spans"], field, rule)
        if match["days"] is None:
            if rest is not None:
                raise InvalidCallWindow(field, "only one rule may leave out the days", rule)
            rest = spans
            continue
        for weekday in _parse_days(match["days"], field, rule):
            if weekday in named:
                raise InvalidCallWindow(field, f"{DAY_NAMES[weekday]} is already given by an earlier rule", rule)
            named[weekday] = spans
    return WeeklyHours(tuple(named.get(weekday, rest or ()) for weekday in range(7)))


def parse_call_window_setting(text: str, field: str = "AUTODIALER_CALL_WINDOW") -> WeeklyHours | None:
    """The global window setting: empty or ``off`` is no window (calls at any hour, as before), anything else the
    hours format. It applies to v1 tasks too, which have no hours of their own."""
    if text.strip().lower() in ("", "off"):
        return None
    return parse_call_hours(text, field)


def parse_excluded_dates(text: str, field: str = "excluded_dates") -> ExcludedDates:
    """``2026-01-01..2026-01-08, 2026-02-23`` as ExcludedDates (empty text: none), or InvalidCallWindow."""
    ranges: list[tuple[date, date]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            if text.strip():
                raise InvalidCallWindow(field, "has an empty item (two ',' in a row or a trailing ',')")
            continue
        first_text, _, last_text = item.partition("..")
        first = _parse_date(first_text.strip(), field, item)
        last = _parse_date(last_text.strip(), field, item) if last_text else first
        if last < first:
            raise InvalidCallWindow(field, "a range must not end before it starts", item)
        if (last - first).days >= MAX_EXCLUDED_RANGE_DAYS:
            raise InvalidCallWindow(field, f"a range may cover at most {MAX_EXCLUDED_RANGE_DAYS} days", item)
        ranges.append((first, last))
    return ExcludedDates(tuple(sorted(ranges)))


def format_spans(spans: tuple[Span, ...], sep: str = ", ", dash: str = "-") -> str:
    return sep.join(f"{_hhmm(a)}{dash}{_hhmm(b)}" for a, b in spans)


def _parse_spans(text: str, field: str, rule: str) -> tuple[Span, ...]:
    if text == "off":
        return ()
    spans: list[Span] = []
    for item in (part.strip() for part in text.split(",")):
        match = _SPAN.match(item.replace(" ", ""))
        if match is None:
            raise InvalidCallWindow(field, f"{item!r} is not a span HH:MM-HH:MM", rule)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = _minute(h1, m1, field, rule), _minute(h2, m2, field, rule)
        if end <= start:
            raise InvalidCallWindow(
                field,
                f"{item} ends before it starts; a span may not cross midnight: split it, "
                "e.g. 'fri 22:00-24:00; sat 00:00-02:00'",
                rule,
            )
        spans.append((start, end))
    spans.sort()
    for (a_start, a_end), (b_start, b_end) in itertools.pairwise(spans):
        if b_start < a_end:
            raise InvalidCallWindow(
                field, f"{_hhmm(b_start)}-{_hhmm(b_end)} overlaps {_hhmm(a_start)}-{_hhmm(a_end)}", rule
            )
    merged: list[Span] = []
    for start, end in spans:  # touching spans (13:00-14:00,14:00-15:00) are one
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def _minute(hours: int, minutes: int, field: str, rule: str) -> int:
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise InvalidCallWindow(field, f"{hours:02d}:{minutes:02d} is not a time of day (00:00..24:00)", rule)
    return hours * 60 + minutes


def _parse_days(text: str, field: str, rule: str) -> list[int]:
    weekdays: list[int] = []
    for item in (part.strip() for part in text.split(",")):
        first, dash, last = (part.strip() for part in item.partition("-"))
        a = _day(first, field, rule)
        b = _day(last, field, rule) if dash else a
        weekdays.extend((a + k) % 7 for k in range((b - a) % 7 + 1))
    if len(set(weekdays)) != len(weekdays):
        raise InvalidCallWindow(field, "names a day twice", rule)
    return weekdays


def _day(name: str, field: str, rule: str) -> int:
    try:
        return DAY_NAMES.index(name)
    except ValueError:
        raise InvalidCallWindow(field, f"{name!r} is not a day (use {', '.join(DAY_NAMES)})", rule) from None


def _parse_date(text: str, field: str, item: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidCallWindow(field, f"{text!r} is not a date YYYY-MM-DD", item) from None


def _format_days(weekdays: list[int]) -> str:
    runs: list[list[int]] = []
    for weekday in weekdays:
        if runs and runs[-1][-1] == weekday - 1:
            runs[-1].append(weekday)
        else:
            runs.append([weekday])
    return ",".join(
        DAY_NAMES[r[0]] if len(r) == 1 else f"{DAY_NAMES[r[0]]}{'-' if len(r) > 2 else ','}{DAY_NAMES[r[-1]]}"
        for r in runs
    )


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
