"""GET /results/{changeTime} and GET /polling-results/{changeTime}: the incremental feeds (spec §3.2).

``changeTime`` is what the client last saw: seconds, optionally with a fraction (``.`` or, from a Russian-locale
1C ``Формат``, ``,``). With a fraction it is exact (to the microsecond; extra digits are cut, which can only
re-send a row); without one the client may have rounded, so the feed starts one second earlier
(adapters/db/results_feed explains why that neither loses rows nor loops). Anything else is refused (400).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from autodialer.adapters.db.results_feed import US, SqlResultsFeed, whole_second_start
from autodialer.api.context import AppContext, get_context
from autodialer.api.envelope import envelope_response
from autodialer.api.errors import Refusal
from autodialer.api.fast_json import RowsJson
from autodialer.api.wire_rows import ANSWER_KEYS, NUMBER_KEYS

router = APIRouter()
ContextDep = Annotated[AppContext, Depends(get_context)]
_CHANGE_TIME = re.compile(r"(\d{1,12})(?:[.,](\d{1,20}))?")


def feed_start(raw: str) -> int:
    """The first change time (µs) to serve for the client's ``changeTime``."""
    match = _CHANGE_TIME.fullmatch(raw.strip())
    if match is None:
        raise Refusal(["changeTime: must be a unix time in seconds, e.g. 1724235073 or 1724235073.000123"])
    seconds, fraction = match.groups()
    if fraction is None:
        return whole_second_start(int(seconds))
    return int(seconds) * US + int(fraction[:6].ljust(6, "0"))


def _feed(context: AppContext) -> SqlResultsFeed:
    return SqlResultsFeed(context.db, page_limit=context.settings.results_page_limit)


def _page(keys: tuple[str, ...], rows: Sequence[Sequence[str | None]]) -> Response:
    return envelope_response(True, {"results": RowsJson(keys, rows)})


@router.get("/results/{change_time}")
async def task_results(change_time: str, context: ContextDep) -> Response:
    rows = await _feed(context).task_results_since(feed_start(change_time))
    return _page(NUMBER_KEYS, rows)


@router.get("/polling-results/{change_time}")
async def polling_results(change_time: str, context: ContextDep) -> Response:
    rows = await _feed(context).poll_results_since(feed_start(change_time))
    return _page(ANSWER_KEYS, rows)
