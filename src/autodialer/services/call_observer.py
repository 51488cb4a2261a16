"""CallObserver: who hears about each call in flight as the engine's ledger changes it, and about campaigns the
engine closes (the live wallboard).

Calls are synchronous and run inside the engine's step: an observer only records or queues (O(1)), never awaits,
never raises into the engine."""

from __future__ import annotations

from typing import Protocol

from autodialer.domain.mikopbx_results import ResultRow
from autodialer.services.dialer_store import Attempt


class CallObserver(Protocol):
    def call_changed(self, attempt: Attempt) -> None:
        """A call started, or what we know of it changed (answered, an employee answered)."""
        ...

    def call_settled(self, attempt: Attempt, row: ResultRow) -> None:
        """The call gave its number its verdict (a final result, or a retry later) while it goes on."""
        ...

    def call_finished(self, attempt: Attempt, row: ResultRow | None) -> None:
        """The call left the ledger; ``row`` is its number's row when the verdict came with the end (None: given
        before, by ``call_settled``, or the number was left untouched, or is gone)."""
        ...

    def campaign_closed(self, campaign_id: int) -> None:
        """The engine closed the campaign: every number has its final result."""
        ...


class NoObserver:
    def call_changed(self, attempt: Attempt) -> None:
        return None

    def call_settled(self, attempt: Attempt, row: ResultRow) -> None:
        return None

    def call_finished(self, attempt: Attempt, row: ResultRow | None) -> None:
        return None

    def campaign_closed(self, campaign_id: int) -> None:
        return None
