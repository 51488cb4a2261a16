"""The PBX's answer marks that nobody needs any more, and their removal.

The dialplan marks every answer in AstDB (docs/dialplan.md) so that a call lost with us can still be judged after a
crash; the connect and poll steps delete each mark once the engine has stored the same fact. Some marks outlive
that: a step cancelled by the FastAGI hangup grace before its answer was committed (issue 11: hundreds at 1,000 live
calls), or calls answered while we were down. AstDB keeps them forever, and every reconciliation reads them all
(DBGetTree), so they would grow without bound.

A mark is stale once its call's attempt has ended in our store: reconciliation only ever asks about attempts in
flight. A mark whose call id our store does not know is left alone (another deployment may share the PBX).

A connect step that ends before the engine committed its report of the employee's answer hands that mark here
(``delete_once_stored``) instead of waiting for the commit (the call's channel, and line, last until the step ends):
once the report committed it joins the marks to delete; rolled back, it stays, as a step's own mark would.

Our AMI user has no ``system`` write class (DBDel is a system action, and that class also allows shutdown and
reload), so a stale mark is deleted the way the steps delete their own: ``DATABASE DEL`` on a FastAGI session, a few
at the end of each later step (``clear_some``), after its own work is done, so a call never waits for it.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from autodialer.services.timing import Sleeper

log = logging.getLogger(__name__)

MarkKind = Literal["customer", "employee"]


@dataclass(frozen=True, slots=True)
class AnswerMark:
    """One AstDB mark: whose answer (the customer's or an employee's) and the call it names."""

    kind: MarkKind
    call_id: str


class AnswerMarkListing(Protocol):
    async def answer_marks(self) -> Sequence[AnswerMark]:
        """Every answer mark the PBX holds, of both kinds. Raises ConnectionError when the PBX cannot be asked."""
        ...


class EndedCalls(Protocol):
    async def ended_calls(self, call_ids: Sequence[str]) -> frozenset[str]:
        """Of ``call_ids``, those whose attempt has ended (unknown ids are not ended)."""
        ...


class MarkEraser(Protocol):
    async def clear_mark(self, kind: MarkKind, call_id: str) -> None:
        """Delete one answer mark (``DATABASE DEL``); works on a hung-up channel too, never raises."""
        ...


class LaterMarks(Protocol):
    def delete_once_stored(self, mark: AnswerMark, stored: asyncio.Future[bool]) -> None:
        """Delete ``mark`` on a later session once ``stored`` (a queued report) gives True; keep it otherwise."""
        ...


class StaleAnswerMarks:
    """Finds stale marks every ``interval_s`` and hands at most ``per_session`` of them to each FastAGI session that
    finished its own step; at most ``cap`` are held between two refreshes (the rest wait for the next one)."""

    def __init__(
        self,
        pbx: AnswerMarkListing,
        store: EndedCalls,
        *,
        interval_s: float = 600.0,
        per_session: int = 4,
        cap: int = 10_000,
        chunk: int = 500,
    ) -> None:
        if interval_s <= 0 or per_session < 1 or cap < 1 or chunk < 1:
            raise ValueError("interval_s must be > 0 and per_session, cap, chunk >= 1")
        self._pbx = pbx
        self._store = store
        self._interval_s = interval_s
        self._per_session = per_session
        self._cap = cap
        self._chunk = chunk
        self._pending: collections.deque[AnswerMark] = collections.deque()
        self.cleared = 0  # marks deleted since start (a session's delete may still have found none)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def refresh(self) -> int:
        """Read the PBX's marks and keep those whose call has ended; how many are now waiting to be deleted.
        Raises ConnectionError when the PBX cannot be asked (nothing changes)."""
        marks = await self._pbx.answer_marks()
        by_call: dict[str, list[AnswerMark]] = collections.defaultdict(list)
        for mark in marks:
            by_call[mark.call_id].append(mark)
        ids = sorted(by_call)
        stale: list[AnswerMark] = []
        for start in range(0, len(ids), self._chunk):
            if len(stale) >= self._cap:
                break
            for call_id in sorted(await self._store.ended_calls(ids[start : start + self._chunk])):
                stale.extend(by_call[call_id])
        # A mark waiting from before and still on the PBX stays (one a step handed over may name a call not ended
        # in the store yet); one gone from the PBX goes.
        on_pbx, chosen = set(marks), set(stale)
        left = [mark for mark in self._pending if mark in on_pbx and mark not in chosen]
        self._pending = collections.deque((left + stale)[: self._cap])
        if stale:
            log.info(
                "%d answer marks of ended calls to delete (of %d marks on the PBX)", len(self._pending), len(marks)
            )
        return len(self._pending)

    def delete_once_stored(self, mark: AnswerMark, stored: asyncio.Future[bool]) -> None:
        """``mark`` joins the marks to delete once ``stored`` gives True (committed); rolled back, cancelled or
        failed, it stays on the PBX (the sweep finds it once its call has ended). Beyond ``cap`` waiting marks it
        is left to the sweep too."""
        stored.add_done_callback(functools.partial(self._stored, mark))

    def _stored(self, mark: AnswerMark, stored: asyncio.Future[bool]) -> None:
        if stored.cancelled() or stored.exception() is not None or not stored.result():
            return
        if len(self._pending) < self._cap:
            self._pending.append(mark)

    async def clear_some(self, channel: MarkEraser) -> int:
        """Delete up to ``per_session`` stale marks through ``channel`` (a session whose step is done)."""
        done = 0
        while self._pending and done < self._per_session:
            mark = self._pending.popleft()
            await channel.clear_mark(mark.kind, mark.call_id)
            done += 1
        self.cleared += done
        return done

    async def run(self, sleeper: Sleeper, first_after_s: float = 60.0) -> None:
        """Refresh after ``first_after_s``, then every ``interval_s``, until cancelled."""
        delay = first_after_s
        while True:
            await sleeper.sleep(delay)
            delay = self._interval_s
            try:
                await self.refresh()
            except ConnectionError as exc:
                log.info("answer marks not read (PBX unreachable): %s; next try in %.0fs", exc, delay)
