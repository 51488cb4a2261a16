"""Polls: create, list, read, replace, delete, and the answers per number (JSON pages, or all of them as CSV)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from autodialer.api.v2 import csv_export, cursors
from autodialer.api.v2.models import MAX_ID
from autodialer.api.v2.poll_models import NumberAnswersOut, PollIn, PollList, PollOut, PollResults, PollSummaryOut
from autodialer.api.v2.problems import PROBLEM_RESPONSE
from autodialer.domain.campaigns import InvalidField
from autodialer.domain.phone_numbers import InvalidPhoneNumber, parse_phone
from autodialer.services.polls import PollService, PollUseCases

router = APIRouter(tags=["polls"], responses={k: PROBLEM_RESPONSE[k] for k in (401, 422)})
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: PROBLEM_RESPONSE[404]}
CONFLICT: dict[int | str, dict[str, Any]] = {409: PROBLEM_RESPONSE[409]}


def poll_service(request: Request) -> PollService:
    use_cases: PollUseCases = request.app.state.polls
    return use_cases.polls


Service = Annotated[PollService, Depends(poll_service)]
PollId = Annotated[int, Path(ge=1, le=MAX_ID, description="the poll's id (v1 polling id)")]


@router.get("/polls", summary="List polls, by id", response_model=PollList)
async def list_polls(
    service: Service,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> PollList:
    found = await service.list(after_id=cursors.decode(cursor), limit=limit + 1)
    items = [PollSummaryOut.of(p) for p in found[:limit]]
    more = len(found) > limit
    return PollList(items=items, next_cursor=cursors.encode(items[-1].id) if more else None)


@router.post(
    "/polls",
    status_code=201,
    summary="Create a poll (its questions, keys and branching checked as a whole)",
    response_model=PollOut,
    responses=CONFLICT,
)
async def create_poll(body: PollIn, service: Service, response: Response) -> PollOut:
    poll = await service.create(body.domain())
    response.headers["Location"] = f"/api/v2/polls/{poll.id}"
    return PollOut.of(poll)


@router.get(
    "/polls/{poll_id}", summary="Read a poll (its current version)", response_model=PollOut, responses=NOT_FOUND
)
async def get_poll(poll_id: PollId, service: Service) -> PollOut:
    return PollOut.of(await service.get(poll_id))


@router.put(
    "/polls/{poll_id}",
    summary="Replace a poll's definition (a new version; calls in progress finish on the old one)",
    response_model=PollOut,
    responses={**NOT_FOUND, **CONFLICT},
)
async def replace_poll(poll_id: PollId, body: PollIn, service: Service) -> PollOut:
    return PollOut.of(await service.replace(poll_id, body.domain()))


@router.delete(
    "/polls/{poll_id}",
    status_code=204,
    summary="Delete a poll no campaign targets (409 names the campaigns that do)",
    responses={**NOT_FOUND, **CONFLICT},
)
async def delete_poll(poll_id: PollId, service: Service) -> Response:
    await service.delete(poll_id)
    return Response(status_code=204)


@router.get(
    "/polls/{poll_id}/results",
    summary="The answers, per number (campaign and phone), in key order",
    response_model=PollResults,
    responses=NOT_FOUND,
)
async def poll_results(
    poll_id: PollId,
    service: Service,
    campaign_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    phone: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> PollResults:
    found = await service.answers(
        poll_id, campaign_id=campaign_id, phone=phone or None, after=_decode(cursor), limit=limit + 1
    )
    items = [NumberAnswersOut.of(n) for n in found[:limit]]
    more = len(found) > limit
    return PollResults(items=items, next_cursor=_encode(items[-1].campaign_id, items[-1].phone) if more else None)


@router.get(
    "/polls/{poll_id}/results.csv",
    summary="Every answer as CSV, one line per answer, per number (campaign and phone) in key order; streamed",
    response_class=StreamingResponse,
    responses={
        **NOT_FOUND,
        200: {
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "a header line, then one line per answer",
        },
    },
)
async def export_poll_results(
    poll_id: PollId,
    service: Service,
    request: Request,
    campaign_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this campaign's answers")] = None,
    phone: Annotated[str | None, Query(max_length=64, description="only this number (as the campaign has it)")] = None,
) -> StreamingResponse:
    """The filters of ``/results``; UTF-8 CSV, RFC 4180 quoting, ``at`` ISO 8601 UTC. Read a page of numbers at a
    time (keyset on campaign and phone), never held whole."""
    if phone:
        try:
            parse_phone(phone)
        except InvalidPhoneNumber as e:
            raise InvalidField(str(e), "phone") from e
    page_numbers: int = request.app.state.export_page
    # The first page is read now: an unknown poll is a 404 problem, not an empty file.
    first = await service.answers(poll_id, campaign_id=campaign_id, phone=phone or None, limit=page_numbers)

    async def lines() -> AsyncIterator[str]:
        yield csv_export.header(csv_export.ANSWER_COLUMNS)
        page = first
        while True:
            yield csv_export.answer_rows(page)
            if len(page) < page_numbers:
                return
            after = (page[-1].campaign_id, page[-1].phone)
            page = await service.answers(
                poll_id, campaign_id=campaign_id, phone=phone or None, after=after, limit=page_numbers
            )

    return csv_export.response(lines(), f"poll-{poll_id}-results.csv")


def _encode(campaign_id: int, phone: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([campaign_id, phone]).encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = None
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and not isinstance(value[0], bool)
        and isinstance(value[1], str)
    ):
        return value[0], value[1]
    raise InvalidField("is not a cursor this API returned (use next_cursor of the previous page)", "cursor")
