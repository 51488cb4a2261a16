"""A numbering-plan table: ranges of E.164 numbers, each in one time zone (the callee-zone source before
libphonenumber).

For Russia the regulator's registry (Rossvyaz) lists every ABC/DEF range with its operator and region; no maintained
package ships it (docs/call-windows.md), so a deployment that wants it writes this table from the registry and its own
region-to-zone mapping, and names its file in ``AUTODIALER_NUMBERING_PLAN`` (read once by bootstrap). Format, one
range per line: ``first,last,zone`` with inclusive E.164 bounds of equal length, e.g.
``+79130000000,+79139999999,Asia/Novosibirsk``; ``#`` starts a comment. Ranges must not overlap; errors name the
line. A number outside every range gets no zone here, and the next source decides.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from autodialer.domain.callee_zones import UnknownTimeZone, check_zone
from autodialer.domain.e164 import is_e164


class InvalidNumberingPlan(ValueError):
    error_id = "invalid-numbering-plan"

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"numbering plan line {line}: {message}")
        self.line = line
        self.rule = message
        self.details = {"field": "numbering_plan", "line": line}


@dataclass(frozen=True, slots=True)
class NumberingPlan:
    """Sorted, disjoint ranges as (digits length, first, last, zone), compared as integers within one length."""

    ranges: tuple[tuple[int, int, int, str], ...] = ()

    def zones_for(self, e164: str) -> tuple[str, ...]:
        """The zone of the range holding ``e164`` as a one-tuple, () when no range holds it."""
        key = (len(e164) - 1, int(e164[1:]))
        i = bisect.bisect_right(self.ranges, (*key, float("inf"))) - 1
        if i >= 0:
            length, first, last, zone = self.ranges[i]
            if length == key[0] and first <= key[1] <= last:
                return (zone,)
        return ()

    def __len__(self) -> int:
        return len(self.ranges)


NO_PLAN = NumberingPlan()  # no table: every number goes on to libphonenumber's zones


def parse_numbering_plan(lines: Iterable[str]) -> NumberingPlan:
    """The table from its text lines (format in the module docstring), or InvalidNumberingPlan naming the line."""
    ranges: list[tuple[int, int, int, str, int]] = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = [part.strip() for part in text.split(",")]
        if len(parts) != 3:
            raise InvalidNumberingPlan(number, "must read 'first,last,zone'")
        first, last, zone = parts
        for bound in (first, last):
            if not is_e164(bound):
                raise InvalidNumberingPlan(number, f"{bound!r} is not an E.164 number ('+' and 2 to 15 digits)")
        if len(first) != len(last) or int(first[1:]) > int(last[1:]):
            raise InvalidNumberingPlan(number, f"{first}..{last} is not a range (equal lengths, first <= last)")
        try:
            check_zone(zone, "zone")
        except UnknownTimeZone as e:
            raise InvalidNumberingPlan(number, f"{zone!r} is not an IANA time zone") from e
        ranges.append((len(first) - 1, int(first[1:]), int(last[1:]), zone, number))
    ranges.sort()
    for before, after in itertools.pairwise(ranges):
        if before[0] == after[0] and after[1] <= before[2]:  # the later line is blamed, whichever sorts first
            earlier, later = sorted((before[4], after[4]))
            raise InvalidNumberingPlan(later, f"overlaps the range on line {earlier}")
    return NumberingPlan(tuple((length, a, b, zone) for length, a, b, zone, _ in ranges))
