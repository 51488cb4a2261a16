"""A campaign's numbers: bulk import (JSON), cursor-paginated listing with filters, one number, its attempts and
why it waits (``explain``)."""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import IO, Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from autodialer.api.v2 import csv_export, csv_import, cursors
from autodialer.api.v2.campaign_routes import NOT_FOUND, CampaignId, Service
from autodialer.api.v2.models import (
    MAX_ID,
    AttemptList,
    AttemptOut,
    ExplainOut,
    FieldProblem,
    ImportResult,
    NumberIn,
    NumberList,
    NumberOut,
    NumbersImport,
)
from autodialer.api.v2.problems import PROBLEM_RESPONSE, problem
from autodialer.domain.callee_zones import zone_info
from autodialer.domain.campaigns import InvalidField, NewNumber, NumberFilter
from autodialer.domain.phone_numbers import InvalidPhoneNumber, parse_phone
from autodialer.services.campaigns import CampaignService

router = APIRouter(tags=["numbers"], responses={k: PROBLEM_RESPONSE[k] for k in (401, 404, 422)})
NumberId = Annotated[int, Path(ge=1, le=MAX_ID, description="the number's id (from the listing)")]
MAX_ROW_ERRORS = 100
MAX_CSV_ERRORS = 1000
CSV_BATCH = 5000
SPOOL_IN_MEMORY = 1 << 20
NDJSON = "application/x-ndjson"


@router.post(
    "/campaigns/{campaign_id}/numbers",
    summary="Add numbers (JSON); a number the campaign has gets the new params and not_before",
    response_model=ImportResult,
)
async def import_numbers(campaign_id: CampaignId, body: NumbersImport, service: Service) -> ImportResult | Response:
    """All or nothing: any bad row answers 422 listing the rows at fault (``numbers[i].phone`` …), nothing stored."""
    numbers: list[NewNumber] = []
    errors: list[FieldProblem] = []
    for index, item in enumerate(body.numbers):
        try:
            numbers.append(_new_number(item, service.pbx_zone))
        except InvalidPhoneNumber as e:
            errors.append(FieldProblem(field=f"numbers[{index}].phone", message=str(e)))
            if len(errors) >= MAX_ROW_ERRORS:
                break
    if errors:
        detail = f"{len(errors)}{'+' if len(errors) >= MAX_ROW_ERRORS else ''} bad numbers; nothing was stored"
        return problem(422, detail, "invalid-input", errors)
    return ImportResult(accepted=await service.add_numbers(campaign_id, numbers))


@router.post(
    "/campaigns/{campaign_id}/numbers.csv",
    summary="Add numbers from CSV (streamed): bad rows are rejected with their reasons, good rows stored",
    response_class=StreamingResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}, "example": "phone,name\r\n79522233446,Ivan\r\n"}},
        }
    },
    responses={
        200: {
            "content": {"application/x-ndjson": {}},
            "description": "progress lines {rows, accepted, rejected}, then {done: true, …, errors: [{line, field, "
            "message}]}",
        }
    },
)
async def import_numbers_csv(campaign_id: CampaignId, request: Request, service: Service) -> StreamingResponse:
    """One JSON line per 5,000 rows read, then the totals and the rejected rows (the first 1,000) with reasons.
    Rows are stored 5,000 at a time as they are read: a line without ``done`` means the import stopped there."""
    await service.get(campaign_id)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by the stream
    try:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        rows = csv_import.csv_rows(spool)
        header = csv_import.read_header(rows)
    except BaseException:
        spool.close()
        raise
    return StreamingResponse(_import_progress(service, campaign_id, spool, rows, header), media_type=NDJSON)


async def _import_progress(
    service: CampaignService, campaign_id: int, spool: IO[bytes], rows: Iterator[list[str]], header: csv_import.Header
) -> AsyncIterator[str]:
    counts = {"rows": 0, "accepted": 0, "rejected": 0}
    errors: list[dict[str, object]] = []
    batch: list[NewNumber] = []
    try:
        for line, cells in enumerate(_safe_rows(rows, errors, counts), start=2):
            counts["rows"] += 1
            parsed = csv_import.parse_row(header, line, cells, service.pbx_zone) if cells else None
            if isinstance(parsed, csv_import.RowError):
                counts["rejected"] += 1
                if len(errors) < MAX_CSV_ERRORS:
                    errors.append({"line": parsed.line, "field": parsed.field, "message": parsed.message})
            elif parsed is not None:
                batch.append(parsed)
            if len(batch) >= CSV_BATCH or (counts["rows"] % CSV_BATCH == 0 and batch):
                counts["accepted"] += await service.add_numbers(campaign_id, batch)
                batch = []
            if counts["rows"] % CSV_BATCH == 0:
                yield json.dumps(counts) + "\n"
        if batch:
            counts["accepted"] += await service.add_numbers(campaign_id, batch)
        yield json.dumps({"done": True, **counts, "errors": errors}) + "\n"
    finally:
        spool.close()


def _safe_rows(
    rows: Iterator[list[str]], errors: list[dict[str, object]], counts: dict[str, int]
) -> Iterator[list[str]]:
    """The rows until the end or the first line the CSV reader cannot split (an unclosed quote): that one is
    reported and ends the import, since every later line would be misread."""
    try:
        yield from rows
    except csv.Error as e:
        counts["rejected"] += 1
        errors.append(
            {"line": counts["rows"] + 2, "field": "row", "message": f"is not CSV ({e}); the import stops here"}
        )


def _new_number(item: NumberIn, pbx_zone: str) -> NewNumber:
    phone = parse_phone(item.phone)
    return NewNumber(phone.phone, phone.digits, phone.phone_id, item.params, _epoch(item.not_before, pbx_zone))


def _epoch(moment: datetime | None, pbx_zone: str) -> int:
    """Epoch seconds; a time without an offset is on the PBX's clock; before 1970 is "no limit" (0)."""
    if moment is None:
        return 0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone_info(pbx_zone))
    return max(0, int(moment.timestamp()))


StateFilter = Annotated[str | None, Query(max_length=50, description="row state, e.g. CreateTask, endCall")]
ResultFilter = Annotated[
    str | None, Query(max_length=50, description="final result, e.g. SUCCESS; 'open' for numbers without one")
]
PhoneFilter = Annotated[str | None, Query(max_length=64, description="the number in any spelling")]


def _filter(state: str | None, result: str | None, phone: str | None) -> NumberFilter:
    phone_id = None
    if phone is not None:
        try:
            phone_id = parse_phone(phone).phone_id
        except InvalidPhoneNumber as e:
            raise InvalidField(str(e), "phone") from e
    return NumberFilter(state=state, result="" if result == "open" else result, phone_id=phone_id)


@router.get(
    "/campaigns/{campaign_id}/numbers",
    summary="List a campaign's numbers, by id, with filters",
    response_model=NumberList,
)
async def list_numbers(
    campaign_id: CampaignId,
    service: Service,
    state: StateFilter = None,
    result: ResultFilter = None,
    phone: PhoneFilter = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> NumberList:
    flt = _filter(state, result, phone)
    page = await service.numbers(campaign_id, flt, after_id=cursors.decode(cursor), limit=limit)
    return NumberList(items=[NumberOut.of(n) for n in page.items], next_cursor=cursors.encode(page.next_after))


@router.get(
    "/campaigns/{campaign_id}/numbers.csv",
    summary="Export the numbers and their results as CSV (the listing's filters), streamed",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "a header line, then one line per number"}},
)
async def export_numbers(
    campaign_id: CampaignId,
    service: Service,
    request: Request,
    state: StateFilter = None,
    result: ResultFilter = None,
    phone: PhoneFilter = None,
) -> StreamingResponse:
    """UTF-8 CSV, comma-separated, RFC 4180 quoting; times ISO 8601 UTC, empty when absent; params as JSON."""
    flt = _filter(state, result, phone)
    await service.get(campaign_id)  # a missing campaign is a 404 problem, not an empty file
    page_rows: int = request.app.state.export_page

    async def lines() -> AsyncIterator[str]:
        yield csv_export.header()
        after: int | None = None
        while True:
            page = await service.numbers(campaign_id, flt, after_id=after, limit=page_rows)
            yield csv_export.rows(page.items)
            if page.next_after is None:
                return
            after = page.next_after

    return csv_export.response(lines(), f"campaign-{campaign_id}-numbers.csv")


@router.get("/campaigns/{campaign_id}/numbers/{number_id}", summary="One number", response_model=NumberOut)
async def get_number(campaign_id: CampaignId, number_id: NumberId, service: Service) -> NumberOut:
    return NumberOut.of(await service.number(campaign_id, number_id))


@router.get(
    "/campaigns/{campaign_id}/numbers/{number_id}/attempts",
    summary="The number's attempts, oldest first",
    response_model=AttemptList,
)
async def number_attempts(campaign_id: CampaignId, number_id: NumberId, service: Service) -> AttemptList:
    return AttemptList(items=[AttemptOut.of(a) for a in await service.attempts(campaign_id, number_id)])


@router.get(
    "/campaigns/{campaign_id}/numbers/{number_id}/explain",
    summary="May the number be dialled now; if not, every rule that holds it, in words, and when it next may be",
    response_model=ExplainOut,
    responses=NOT_FOUND,
)
async def explain_number(campaign_id: CampaignId, number_id: NumberId, service: Service) -> ExplainOut:
    return ExplainOut.of(await service.explain(campaign_id, number_id))
