"""The global do-not-call list's use cases: import a CSV (per-row errors, good rows stored), then close the open
numbers it now covers (FAIL, state doNotCall, as an opt-out does). Parsing is domain/dnc_import.py; storage the
``DncStore`` port (adapters/db/dnc_repository.py). The engine checks the list again as each call is about to start."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from autodialer.domain.dnc_import import DncImportCounts, DncRow, DncRowError, Normalise, read_dnc_csv

MAX_REPORTED_ERRORS = 1000  # row errors kept for the report; all are counted


class DncStore(Protocol):
    async def add_many(self, rows: Iterable[DncRow], source: str, now: float) -> int:
        """Store every row in one transaction (a listed number stays as first listed); returns how many were new."""
        ...

    async def close_listed(self, now: float) -> int:
        """Give open numbers on the list their final result; returns how many."""
        ...


@dataclass(slots=True)
class DncImportReport:
    counts: DncImportCounts = field(default_factory=DncImportCounts)
    added: int = 0  # new on the list (entries already listed are kept as they were)
    closed: int = 0  # open task numbers closed as doNotCall
    errors: list[DncRowError] = field(default_factory=list)


class DncLists:
    def __init__(self, store: DncStore, normalise: Normalise, now: Callable[[], float]) -> None:
        self._store = store
        self._normalise = normalise
        self._now = now

    async def import_csv(self, lines: Iterable[str], source: str) -> DncImportReport:
        """Raises InvalidDncFile (nothing stored) when the header names no phone column."""
        report = DncImportReport()
        entries = read_dnc_csv(lines, self._normalise, report.counts)
        first = next(entries, None)  # the header is checked here, before anything is stored
        rows = self._rows(first, entries, report)
        report.added = await self._store.add_many(rows, source, self._now())
        report.closed = await self._store.close_listed(self._now())
        return report

    @staticmethod
    def _rows(
        first: DncRow | DncRowError | None, rest: Iterator[DncRow | DncRowError], report: DncImportReport
    ) -> Iterator[DncRow]:
        items = rest if first is None else _chain(first, rest)
        for item in items:
            if isinstance(item, DncRow):
                yield item
            elif len(report.errors) < MAX_REPORTED_ERRORS:
                report.errors.append(item)


def _chain(first: DncRow | DncRowError, rest: Iterator[DncRow | DncRowError]) -> Iterator[DncRow | DncRowError]:
    yield first
    yield from rest
