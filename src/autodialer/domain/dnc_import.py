"""A do-not-call CSV, read row by row into E.164 entries and per-row errors (the v2 bulk import's parsing half).

Format: a header row naming a ``phone`` column (case-insensitive; ``number``/``телефон`` accepted too) and optionally
a ``note`` column; comma or semicolon separated (spreadsheet exports in Russian locales use ``;``), detected from the
header; UTF-8 with or without a byte-order mark (decoding is the caller's). Every later row gives one entry or one
error naming its row number (the header is row 1, as a spreadsheet shows it), so an import reports all bad rows at
once instead of stopping at the first. A number listed twice in the file is one entry (the first row's note wins);
blank rows are skipped. Streaming: nothing is kept but the set of numbers seen, so a million rows fit.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from autodialer.domain.e164 import UnparseablePhoneNumber

PHONE_COLUMNS = ("phone", "number", "телефон")
MAX_NOTE = 200

Normalise = Callable[[str, str], str]  # (raw, field) -> E.164, raising UnparseablePhoneNumber


class InvalidDncFile(ValueError):
    """The file as a whole cannot be read (no header, no phone column); ``details`` names the rule."""

    error_id = "invalid-dnc-file"

    def __init__(self, message: str) -> None:
        super().__init__(f"file: {message}")
        self.details = {"field": "file"}


@dataclass(frozen=True, slots=True)
class DncRow:
    row: int
    e164: str
    note: str


@dataclass(frozen=True, slots=True)
class DncRowError:
    row: int
    field: str
    message: str


@dataclass(slots=True)
class DncImportCounts:
    entries: int = 0
    duplicates: int = 0
    errors: int = 0


def read_dnc_csv(
    lines: Iterable[str], normalise: Normalise, counts: DncImportCounts | None = None
) -> Iterator[DncRow | DncRowError]:
    """Entries and row errors of a do-not-call CSV, in file order; duplicates are counted in ``counts``, not yielded.

    Raises InvalidDncFile before yielding anything when the header has no phone column.
    """
    counts = counts if counts is not None else DncImportCounts()
    source = iter(lines)
    header_line = next(source, "").lstrip("\ufeff")
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    header = [name.strip().lower() for name in next(csv.reader([header_line], delimiter=delimiter), [])]
    phone_at = next((header.index(name) for name in PHONE_COLUMNS if name in header), None)
    if phone_at is None:
        raise InvalidDncFile(f"the header row must name a phone column ({', '.join(PHONE_COLUMNS)}); got {header!r}")
    note_at = header.index("note") if "note" in header else None
    seen: set[str] = set()
    for offset, record in enumerate(csv.reader(source, delimiter=delimiter)):
        row = offset + 2
        if not any(cell.strip() for cell in record):
            continue
        raw = record[phone_at].strip() if phone_at < len(record) else ""
        note = record[note_at].strip() if note_at is not None and note_at < len(record) else ""
        if len(note) > MAX_NOTE:
            counts.errors += 1
            yield DncRowError(row, "note", f"must be at most {MAX_NOTE} characters")
            continue
        try:
            e164 = normalise(raw, "phone")
        except UnparseablePhoneNumber as e:
            counts.errors += 1
            yield DncRowError(row, "phone", str(e))
            continue
        if e164 in seen:
            counts.duplicates += 1
            continue
        seen.add(e164)
        counts.entries += 1
        yield DncRow(row, e164, note)
