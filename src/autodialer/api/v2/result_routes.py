"""``GET /results.csv``: the call results of every campaign (or one) in the order of their last change, as CSV.

It is v1's results feed (``/results/{changeTime}``: number rows changed since a time, across tasks, in change
order) for people and scripts: a time window instead of a feed position, and the whole window in one streamed file
read a page at a time (keyset on the change time and the id, services.campaigns.changed_numbers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BeforeValidator

from autodialer.api.v2 import csv_export
from autodialer.api.v2.campaign_routes import Service
from autodialer.api.v2.models import MAX_ID
from autodialer.api.v2.problems import PROBLEM_RESPONSE
from autodialer.domain.callee_zones import zone_info
from autodialer.domain.campaigns import ChangedNumbers

router = APIRouter(tags=["numbers"], responses={k: PROBLEM_RESPONSE[k] for k in (401, 404, 422)})
_TIME = "ISO 8601 (without an offset: on the PBX clock)"


def _not_a_number(value: object) -> object:
    """A time is written out (ISO 8601), as the schema says; pydantic alone would also take epoch numbers, in any
    spelling Python's ``float`` reads ("1e9", "-7.4e-282", "inf"): every one of them is refused."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("must be an ISO 8601 date-time, e.g. 2024-08-21T13:11:13")
    return value


Moment = Annotated[datetime, BeforeValidator(_not_a_number)]
Since = Annotated[Moment | None, Query(description=f"numbers last changed at or after this time; {_TIME}")]
Until = Annotated[Moment | None, Query(description=f"numbers last changed before this time; {_TIME}")]
CampaignFilter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this campaign's numbers")]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "a header line, then one line per number, in the order of their last change",
    }
}


@router.get(
    "/results.csv",
    summary="Export the call results of every campaign (or one) changed in a time window, in change order, as CSV",
    response_class=StreamingResponse,
    responses=CSV_RESPONSE,
)
async def export_results(
    service: Service,
    request: Request,
    since: Since = None,
    until: Until = None,
    campaign_id: CampaignFilter = None,
) -> StreamingResponse:
    """The columns of ``numbers.csv`` after ``campaign_id``. A number that changes while the file is read moves to
    its new place: it may appear twice (keep the last line per ``id``), never be missed."""
    start, end = _instant(since, service.pbx_zone), _instant(until, service.pbx_zone)
    page_rows: int = request.app.state.export_page
    # The first page is read now: a bad window or an unknown campaign is a problem answer, not a broken file.
    first = await service.changed_numbers(since=start, until=end, campaign_id=campaign_id, limit=page_rows)

    async def lines() -> AsyncIterator[str]:
        yield csv_export.header(csv_export.RESULT_COLUMNS)
        page: ChangedNumbers = first
        while True:
            yield csv_export.result_rows(page.items)
            if page.next_after is None:
                return
            page = await service.changed_numbers(
                since=start, until=end, campaign_id=campaign_id, after=page.next_after, limit=page_rows
            )

    name = "results.csv" if campaign_id is None else f"campaign-{campaign_id}-results.csv"
    return csv_export.response(lines(), name)


def _instant(moment: datetime | None, pbx_zone: str) -> float | None:
    """Epoch seconds; a time without an offset is on the PBX's clock."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone_info(pbx_zone))
    return moment.timestamp()
