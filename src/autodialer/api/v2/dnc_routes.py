"""Do-not-call lists: the global list (``/dnc``: every campaign and v1 task) and each campaign's
(``/campaigns/{id}/dnc``). Add, read, remove one number (any spelling: the key is its E.164 form), list in pages,
import a CSV (per-row errors; the good rows stored in one transaction) and export one.

Listing a number closes the open task numbers it covers (FAIL, state doNotCall), and the dialer checks the lists
again as each call is about to start, so a number listed after it was queued is never called.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, StringConstraints

from autodialer.api.v2 import cursors
from autodialer.api.v2.campaign_routes import CampaignId
from autodialer.api.v2.models import _In, utc
from autodialer.api.v2.problems import PROBLEM_RESPONSE
from autodialer.domain.campaigns import InvalidField
from autodialer.domain.dnc_import import MAX_NOTE, InvalidDncFile
from autodialer.domain.do_not_call import DncEntryRecord
from autodialer.services.dnc_lists import DncLists

router = APIRouter(tags=["do-not-call"], responses={k: PROBLEM_RESPONSE[k] for k in (401, 404, 422)})
SPOOL_IN_MEMORY = 1 << 20
CSV_TEXT = "text/csv; charset=utf-8"


def dnc_lists(request: Request) -> DncLists:
    lists: DncLists = request.app.state.dnc
    return lists


Lists = Annotated[DncLists, Depends(dnc_lists)]
Phone = Annotated[str, Path(min_length=1, max_length=64, description="the number in any spelling, URL-encoded")]
Cursor = Annotated[str | None, Query(max_length=120)]
Limit = Annotated[int, Query(ge=1, le=1000)]


class DncIn(_In):
    phone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="any spelling: '8 952 223-34-46', '+7 952 2233446' and '79522233446' are one entry"
    )
    note: Annotated[str, StringConstraints(max_length=MAX_NOTE, pattern=r"^[^\x00-\x1f\x7f]*$")] = ""


class DncOut(BaseModel):
    phone: str = Field(description="the entry's key, E.164")
    listed_as: str = Field(description="the number as first listed")
    note: str
    source: str = Field(description="api, csv import, poll:<innerNum> (the opt-out key) …")
    listed_at: datetime
    campaign_id: int | None = Field(description="null: the global list")

    @classmethod
    def of(cls, e: DncEntryRecord) -> DncOut:
        return cls(
            phone=e.e164,
            listed_as=e.phone,
            note=e.note,
            source=e.source,
            listed_at=utc(e.since),
            campaign_id=e.campaign_id,
        )


class DncList(BaseModel):
    items: list[DncOut]
    next_cursor: str | None


class DncRowProblem(BaseModel):
    row: int = Field(description="as a spreadsheet shows it: the header is row 1")
    field: str
    message: str


class DncImportOut(BaseModel):
    entries: int = Field(description="good rows, a number repeated in the file counted once")
    added: int = Field(description="new on the list (numbers already listed keep their first listing)")
    duplicates: int
    rejected: int
    closed: int = Field(description="open task numbers closed as doNotCall")
    errors: list[DncRowProblem] = Field(description="the rejected rows (the first 1,000) with the rule each breaks")


# ---- the global list


@router.get("/dnc", summary="The global do-not-call list, in pages by number", response_model=DncList)
async def list_global(lists: Lists, cursor: Cursor = None, limit: Limit = 100) -> DncList:
    return await _list(lists, None, cursor, limit)


@router.post("/dnc", status_code=201, summary="Add a number to the global list", response_model=DncOut)
async def add_global(body: DncIn, lists: Lists, response: Response) -> DncOut:
    return await _add(lists, None, body, response)


@router.post(
    "/dnc.csv",
    summary="Import numbers into the global list from CSV: per-row errors, good rows stored",
    response_model=DncImportOut,
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def import_global(request: Request, lists: Lists) -> DncImportOut:
    return await _import(request, lists, None)


@router.get("/dnc.csv", summary="Export the global list as CSV", response_class=StreamingResponse)
async def export_global(lists: Lists) -> StreamingResponse:
    return await _export(lists, None)


@router.get("/dnc/{phone}", summary="One entry of the global list", response_model=DncOut)
async def get_global(phone: Phone, lists: Lists) -> DncOut:
    return DncOut.of(await lists.get(phone))


@router.delete("/dnc/{phone}", status_code=204, summary="Remove a number from the global list")
async def remove_global(phone: Phone, lists: Lists) -> Response:
    await lists.remove(phone)
    return Response(status_code=204)


# ---- a campaign's list


@router.get("/campaigns/{campaign_id}/dnc", summary="A campaign's do-not-call list", response_model=DncList)
async def list_campaign(campaign_id: CampaignId, lists: Lists, cursor: Cursor = None, limit: Limit = 100) -> DncList:
    return await _list(lists, campaign_id, cursor, limit)


@router.post(
    "/campaigns/{campaign_id}/dnc", status_code=201, summary="Add a number to a campaign's list", response_model=DncOut
)
async def add_campaign(campaign_id: CampaignId, body: DncIn, lists: Lists, response: Response) -> DncOut:
    return await _add(lists, campaign_id, body, response)


@router.post(
    "/campaigns/{campaign_id}/dnc.csv",
    summary="Import numbers into a campaign's list from CSV",
    response_model=DncImportOut,
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def import_campaign(campaign_id: CampaignId, request: Request, lists: Lists) -> DncImportOut:
    return await _import(request, lists, campaign_id)


@router.get(
    "/campaigns/{campaign_id}/dnc.csv", summary="Export a campaign's list as CSV", response_class=StreamingResponse
)
async def export_campaign(campaign_id: CampaignId, lists: Lists) -> StreamingResponse:
    return await _export(lists, campaign_id)


@router.get("/campaigns/{campaign_id}/dnc/{phone}", summary="One entry of a campaign's list", response_model=DncOut)
async def get_campaign(campaign_id: CampaignId, phone: Phone, lists: Lists) -> DncOut:
    return DncOut.of(await lists.get(phone, campaign_id))


@router.delete(
    "/campaigns/{campaign_id}/dnc/{phone}", status_code=204, summary="Remove a number from a campaign's list"
)
async def remove_campaign(campaign_id: CampaignId, phone: Phone, lists: Lists) -> Response:
    await lists.remove(phone, campaign_id)
    return Response(status_code=204)


# ---- shared


async def _list(lists: DncLists, campaign_id: int | None, cursor: str | None, limit: int) -> DncList:
    found = await lists.page(campaign_id, after=cursors.decode_key(cursor), limit=limit + 1)
    items = [DncOut.of(e) for e in found[:limit]]
    more = len(found) > limit
    return DncList(items=items, next_cursor=cursors.encode_key(items[-1].phone) if more else None)


async def _add(lists: DncLists, campaign_id: int | None, body: DncIn, response: Response) -> DncOut:
    entry, added = await lists.add(body.phone, body.note, "api", campaign_id)
    response.status_code = 201 if added else 200  # 200: already listed, kept as first listed
    return DncOut.of(entry)


async def _import(request: Request, lists: DncLists, campaign_id: int | None) -> DncImportOut:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed below
    try:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        try:
            report = await lists.import_csv(_lines(spool), "csv import", campaign_id)
        except InvalidDncFile as e:
            raise InvalidField(str(e).split(": ", 1)[1], "body") from e
        except UnicodeDecodeError as e:
            raise InvalidField("is not UTF-8 text; nothing was stored", "body") from e
        except csv.Error as e:
            raise InvalidField(f"is not CSV ({e}); nothing was stored", "body") from e
    finally:
        spool.close()
    counts = report.counts
    return DncImportOut(
        entries=counts.entries,
        added=report.added,
        duplicates=counts.duplicates,
        rejected=counts.errors,
        closed=report.closed,
        errors=[DncRowProblem(row=e.row, field=e.field, message=e.message) for e in report.errors],
    )


def _lines(spool: IO[bytes]) -> Iterator[str]:
    """The body as text lines (UTF-8, a byte-order mark skipped); an error in the middle aborts the one
    transaction, so nothing is stored."""
    yield from io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")


async def _export(lists: DncLists, campaign_id: int | None) -> StreamingResponse:
    pages = await lists.export(campaign_id)  # a missing campaign is a 404 problem, not an empty file

    async def lines() -> AsyncIterator[str]:
        yield "phone,note,source,listed_at,listed_as\r\n"
        async for page in pages:
            yield _csv(page)

    name = "dnc" if campaign_id is None else f"campaign-{campaign_id}-dnc"
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    return StreamingResponse(lines(), media_type=CSV_TEXT, headers=headers)


def _csv(page: Sequence[DncEntryRecord]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    rows: list[list[Any]] = [
        [e.e164, e.note, e.source, utc(e.since).isoformat().replace("+00:00", "Z"), e.phone] for e in page
    ]
    writer.writerows(rows)
    return out.getvalue()
