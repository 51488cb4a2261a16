"""The do-not-call lists' use cases: the global list (every campaign and v1 task; the poll opt-out key adds to it)
and one list per campaign. Add and remove one number, list and export a list, import a CSV (per-row errors, good
rows stored in one transaction). A number is keyed by its E.164 form, so every spelling is one entry.

Whatever lists a number closes the open task numbers it now covers (FAIL, state doNotCall, as an opt-out does). The
engine checks both lists again as each call is about to start (the claim), so a number listed after it was queued
is never called. Parsing is domain/dnc_import.py; storage the ``DncStore`` port (adapters/db/dnc_repository.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from autodialer.domain.campaigns import InvalidField, NotFound
from autodialer.domain.dnc_import import MAX_NOTE, DncImportCounts, DncRow, DncRowError, Normalise, read_dnc_csv
from autodialer.domain.do_not_call import DncEntryRecord
from autodialer.domain.e164 import UnparseablePhoneNumber

MAX_REPORTED_ERRORS = 1000  # row errors kept for the report; all are counted
MAX_PAGE = 1000
EXPORT_PAGE = 5000


class DncStore(Protocol):
    async def add_many(self, rows: Iterable[DncRow], source: str, now: float, campaign_id: int | None = None) -> int:
        """Store every row in one transaction (a listed number stays as first listed); returns how many were new."""
        ...

    async def close_listed(self, now: float, phone: str | None = None) -> int:
        """Give open numbers on a list their final result (only ``phone``'s when given); returns how many."""
        ...

    async def get(self, e164: str, campaign_id: int | None) -> DncEntryRecord | None: ...

    async def remove(self, e164: str, campaign_id: int | None) -> bool: ...

    async def page(self, campaign_id: int | None, after: str | None, limit: int) -> Sequence[DncEntryRecord]:
        """Entries in key order after ``after``."""
        ...

    async def campaign_exists(self, campaign_id: int) -> bool: ...


@dataclass(slots=True)
class DncImportReport:
    counts: DncImportCounts = field(default_factory=DncImportCounts)
    added: int = 0  # new on the list (entries already listed are kept as they were)
    closed: int = 0  # open task numbers closed as doNotCall
    errors: list[DncRowError] = field(default_factory=list)


class DncLists:
    def __init__(
        self,
        store: DncStore,
        normalise: Normalise,
        now: Callable[[], float],
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._normalise = normalise
        self._now = now
        self.on_change = on_change  # the dialer's wake-up: closed numbers may close a task

    async def import_csv(self, lines: Iterable[str], source: str, campaign_id: int | None = None) -> DncImportReport:
        """Raises InvalidDncFile (nothing stored) when the header names no phone column; NotFound for a campaign
        that does not exist."""
        await self._check_campaign(campaign_id)
        report = DncImportReport()
        entries = read_dnc_csv(lines, self._normalise, report.counts)
        first = next(entries, None)  # the header is checked here, before anything is stored
        rows = self._rows(first, entries, report)
        report.added = await self._store.add_many(rows, source, self._now(), campaign_id)
        report.closed = await self._store.close_listed(self._now())
        self.on_change()
        return report

    async def add(
        self, phone: str, note: str, source: str, campaign_id: int | None = None
    ) -> tuple[DncEntryRecord, bool]:
        """The entry for ``phone`` (any spelling), and whether it is new (an entry already listed is kept as it
        was). InvalidField names ``phone`` or ``note``; NotFound a missing campaign."""
        e164 = self.key(phone)
        if len(note) > MAX_NOTE:
            raise InvalidField(f"must be at most {MAX_NOTE} characters", "note")
        await self._check_campaign(campaign_id)
        added = await self._store.add_many([DncRow(0, e164, note)], source, self._now(), campaign_id)
        entry = await self._store.get(e164, campaign_id)
        if entry is None:  # the campaign was deleted meanwhile (its list went with it)
            raise NotFound(f"campaign {campaign_id} does not exist", "campaign_id")
        if added:
            await self._store.close_listed(self._now(), e164)
            self.on_change()
        return entry, bool(added)

    async def remove(self, phone: str, campaign_id: int | None = None) -> None:
        """Unlist ``phone``; numbers already closed as doNotCall stay closed (their result was reported)."""
        e164 = self.key(phone)
        await self._check_campaign(campaign_id)
        if not await self._store.remove(e164, campaign_id):
            raise NotFound(f"{e164} is not on {_list_name(campaign_id)}", "phone")

    async def get(self, phone: str, campaign_id: int | None = None) -> DncEntryRecord:
        e164 = self.key(phone)
        await self._check_campaign(campaign_id)
        entry = await self._store.get(e164, campaign_id)
        if entry is None:
            raise NotFound(f"{e164} is not on {_list_name(campaign_id)}", "phone")
        return entry

    async def page(
        self, campaign_id: int | None = None, *, after: str | None = None, limit: int = 100
    ) -> Sequence[DncEntryRecord]:
        if not 1 <= limit <= MAX_PAGE + 1:
            raise InvalidField(f"must be an integer in 1..{MAX_PAGE}", "limit")
        await self._check_campaign(campaign_id)
        return await self._store.page(campaign_id, after, limit)

    async def export(self, campaign_id: int | None = None) -> AsyncIterator[Sequence[DncEntryRecord]]:
        """The whole list in key order, a page at a time (checks the campaign before the first page)."""
        await self._check_campaign(campaign_id)
        return self._pages(campaign_id)

    def key(self, phone: str) -> str:
        try:
            return self._normalise(phone, "phone")
        except UnparseablePhoneNumber as e:
            raise InvalidField(str(e).split(": ", 1)[1], "phone") from e

    async def _pages(self, campaign_id: int | None) -> AsyncIterator[Sequence[DncEntryRecord]]:
        after: str | None = None
        while True:
            page = await self._store.page(campaign_id, after, EXPORT_PAGE)
            if page:
                yield page
            if len(page) < EXPORT_PAGE:
                return
            after = page[-1].e164

    async def _check_campaign(self, campaign_id: int | None) -> None:
        if campaign_id is not None and not await self._store.campaign_exists(campaign_id):
            raise NotFound(f"campaign {campaign_id} does not exist", "campaign_id")

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


def _list_name(campaign_id: int | None) -> str:
    return "the global do-not-call list" if campaign_id is None else f"campaign {campaign_id}'s do-not-call list"


def _chain(first: DncRow | DncRowError, rest: Iterator[DncRow | DncRowError]) -> Iterator[DncRow | DncRowError]:
    yield first
    yield from rest
