"""The numbering-plan table's file (``AUTODIALER_NUMBERING_PLAN``): read once at start-up by the composition root.

The file is UTF-8 text (a byte-order mark, as spreadsheets write it, is ignored) in the format of
``domain/numbering_plan.py``. It is decoded line by line, so that bytes that are not UTF-8 are reported with their
line like any other bad line, and a registry-sized table (hundreds of thousands of ranges) is never held twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from autodialer.domain.numbering_plan import InvalidNumberingPlan, NumberingPlan, parse_numbering_plan


def read_numbering_plan(path: Path) -> NumberingPlan:
    """The table in ``path``. OSError: the file is missing or cannot be read; InvalidNumberingPlan: a bad line (its
    number and rule), bytes that are not UTF-8 included."""
    with path.open("rb") as raw:
        return parse_numbering_plan(_decoded(raw))


def _decoded(lines: Iterable[bytes]) -> Iterator[str]:
    for number, line in enumerate(lines, start=1):
        try:
            yield line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as e:
            raise InvalidNumberingPlan(number, f"is not UTF-8 text (byte {e.start + 1} of the line)") from e
