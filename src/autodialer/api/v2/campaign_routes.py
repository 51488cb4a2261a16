"""Campaigns: list, create, read, change, pause, resume, delete, and live stats."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from autodialer.api.v2 import cursors
from autodialer.api.v2.models import (
    MAX_ID,
    AttemptLimitsModel,
    CampaignCreate,
    CampaignList,
    CampaignOut,
    CampaignPatch,
    ScheduleModel,
    StateWord,
    StatsOut,
)
from autodialer.api.v2.problems import PROBLEM_RESPONSE
from autodialer.domain.attempt_limits import AttemptLimits
from autodialer.domain.campaign_schedule import CampaignSchedule
from autodialer.domain.campaigns import CampaignChanges, CampaignState, NewCampaign
from autodialer.domain.pacing_config import PROGRESSIVE_SETTINGS
from autodialer.services.campaigns import CampaignService

router = APIRouter(tags=["campaigns"], responses={k: PROBLEM_RESPONSE[k] for k in (401, 422)})
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: PROBLEM_RESPONSE[404]}
CONFLICT: dict[int | str, dict[str, Any]] = {409: PROBLEM_RESPONSE[409]}


def campaign_service(request: Request) -> CampaignService:
    service: CampaignService = request.app.state.campaigns
    return service


Service = Annotated[CampaignService, Depends(campaign_service)]
CampaignId = Annotated[int, Path(ge=1, le=MAX_ID, description="the campaign's id (v1 task id)")]


@router.get("/campaigns", summary="List campaigns, by id", response_model=CampaignList)
async def list_campaigns(
    service: Service,
    state: Annotated[StateWord | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> CampaignList:
    wanted = None if state is None else CampaignState[state.upper()]
    found = await service.list(state=wanted, after_id=cursors.decode(cursor), limit=limit + 1)
    items = [CampaignOut.of(c) for c in found[:limit]]
    more = len(found) > limit
    return CampaignList(items=items, next_cursor=cursors.encode(items[-1].id) if more else None)


@router.post(
    "/campaigns",
    status_code=201,
    summary="Create a campaign",
    response_model=CampaignOut,
    responses=CONFLICT,
)
async def create_campaign(body: CampaignCreate, service: Service, response: Response) -> CampaignOut:
    new = NewCampaign(
        name=body.name,
        target=body.target.domain(),
        lines=body.lines,
        dial_prefix=body.dial_prefix,
        retry_policy=None if body.retry_policy is None else body.retry_policy.overrides(),
        external_id=body.external_id or "",
        state=CampaignState[body.state.upper()],
        schedule=CampaignSchedule() if body.schedule is None else body.schedule.domain(),
        limits=AttemptLimits() if body.attempt_limits is None else body.attempt_limits.domain(),
        pacing=PROGRESSIVE_SETTINGS if body.pacing is None else body.pacing.domain(),
    )
    campaign = await service.create(new)
    response.headers["Location"] = f"/api/v2/campaigns/{campaign.id}"
    return CampaignOut.of(campaign)


@router.get("/campaigns/{campaign_id}", summary="Read a campaign", response_model=CampaignOut, responses=NOT_FOUND)
async def get_campaign(campaign_id: CampaignId, service: Service) -> CampaignOut:
    return CampaignOut.of(await service.get(campaign_id))


@router.patch(
    "/campaigns/{campaign_id}",
    summary="Change a campaign's fields",
    response_model=CampaignOut,
    responses={**NOT_FOUND, **CONFLICT},
)
async def patch_campaign(campaign_id: CampaignId, body: CampaignPatch, service: Service) -> CampaignOut:
    sent = body.model_fields_set
    changes = CampaignChanges(
        name=body.name,
        target=None if body.target is None else body.target.domain(),
        lines=body.lines,
        dial_prefix=body.dial_prefix,
        retry_policy=None if body.retry_policy is None else body.retry_policy.overrides(),
        clear_retry_policy="retry_policy" in sent and body.retry_policy is None,
        schedule=_sent(sent, "schedule", body.schedule, CampaignSchedule()),
        limits=_sent(sent, "attempt_limits", body.attempt_limits, AttemptLimits()),
        pacing=None if body.pacing is None else body.pacing.domain(),
    )
    return CampaignOut.of(await service.change(campaign_id, changes))


def _sent(sent: set[str], name: str, value: ScheduleModel | AttemptLimitsModel | None, empty: Any) -> Any:
    """A replacing field: left out, None (no change); null, ``empty`` (cleared); else its domain value."""
    if name not in sent:
        return None
    return empty if value is None else value.domain()


@router.post(
    "/campaigns/{campaign_id}/pause",
    summary="Pause: no new calls; calls in progress go on",
    response_model=CampaignOut,
    responses=NOT_FOUND,
)
async def pause_campaign(campaign_id: CampaignId, service: Service) -> CampaignOut:
    return CampaignOut.of(await service.pause(campaign_id))


@router.post(
    "/campaigns/{campaign_id}/resume",
    summary="Resume (also a closed campaign; without open numbers the dialer closes it again)",
    response_model=CampaignOut,
    responses=NOT_FOUND,
)
async def resume_campaign(campaign_id: CampaignId, service: Service) -> CampaignOut:
    return CampaignOut.of(await service.resume(campaign_id))


@router.delete(
    "/campaigns/{campaign_id}",
    status_code=204,
    summary="Delete a campaign (numbers in a call are removed when the call ends)",
    responses=NOT_FOUND,
)
async def delete_campaign(campaign_id: CampaignId, service: Service) -> Response:
    await service.delete(campaign_id)
    return Response(status_code=204)


@router.get(
    "/campaigns/{campaign_id}/stats",
    summary="Live stats: numbers by state and result, calls in flight, answer rate",
    response_model=StatsOut,
    responses=NOT_FOUND,
)
async def campaign_stats(campaign_id: CampaignId, service: Service) -> StatsOut:
    return StatsOut.of(await service.stats(campaign_id))
