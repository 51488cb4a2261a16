"""GET /results/{changeTime} and GET /polling-results/{changeTime}: the incremental feeds (spec §3.2).

``changeTime`` is what the client last saw: seconds, optionally with a fraction (``.`` or, from a Russian-locale
1C ``Формат``, ``,``). With a fraction it is exact (to the microsecond; extra digits are cut, which can only
re-send a row); without one the client may have rounded, so the feed starts one second earlier
(domain.mikopbx_tasks.feed_start). Anything else is refused (400). Rows come from services' ResultsFeed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from autodialer.api.context import AppContext, get_context
from autodialer.api.envelope import envelope_response
from autodialer.api.errors import Refusal
from autodialer.api.fast_json import RowsJson
from autodialer.api.mikopbx_v1.rows import ANSWER_KEYS, NUMBER_KEYS
from autodialer.domain.mikopbx_tasks import feed_start as start_of_feed
from autodialer.services.mikopbx_tasks import ResultsFeed

router = APIRouter()
ContextDep = Annotated[AppContext, Depends(get_context)]
_CHANGE_TIME = re.compile(r"(\d{1,12})(?:[.,](\d{1,20}))?")


def feed_start(raw: str) -> int:
    """The first change time (µs) to serve for the client's ``changeTime``."""
    match = _CHANGE_TIME.fullmatch(raw.strip())
    if match is None:
        raise Refusal(["changeTime: must be a unix time in seconds, e.g. 1724235073 or 1724235073.000123"])
    seconds, fraction = match.groups()
    return start_of_feed(int(seconds), fraction)


def _feed(context: AppContext) -> ResultsFeed:
    if context.results is None:
        raise RuntimeError("the context has no ResultsFeed (bootstrap.build_context builds one)")
    return context.results


def _page(keys: tuple[str, ...], rows: Sequence[Sequence[str | None]]) -> Response:
    return envelope_response(True, {"results": RowsJson(keys, rows)})


@router.get("/results/{change_time}")
async def task_results(change_time: str, context: ContextDep) -> Response:
    rows = await _feed(context).task_results(feed_start(change_time))
    return _page(NUMBER_KEYS, rows)


@router.get("/polling-results/{change_time}")
async def polling_results(change_time: str, context: ContextDep) -> Response:
    rows = await _feed(context).poll_answers(feed_start(change_time))
    return _page(ANSWER_KEYS, rows)
