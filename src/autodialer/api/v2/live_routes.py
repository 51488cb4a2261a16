"""The live wallboard on v2: the state now (``/live``, ``/live/agents``, ``/live/calls``, ``/live/campaigns``,
``/live/pbx``) and the changes as server-sent events (``/events``). Everything comes from services.live_board.

Each read carries ``event_id``: a client reads the state, then follows ``/events?after=<event_id>``; the browser's
EventSource sends ``Last-Event-ID`` on its own when it reconnects, and a client that cannot be caught up gets one
``resync`` event (read the state again). The stream ends when the service shuts down or when the client falls
``queue_size`` events behind (it reconnects and catches up from its last id).
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from autodialer.api.v2 import cursors
from autodialer.api.v2.campaign_routes import NOT_FOUND, CampaignId
from autodialer.api.v2.live_models import (
    AgentList,
    AgentOut,
    CallList,
    CallOut,
    CampaignCalls,
    CampaignLiveList,
    CampaignLiveOut,
    LiveSummary,
    NumberOutcomeOut,
    PbxLinkOut,
)
from autodialer.api.v2.models import StateWord
from autodialer.api.v2.problems import PROBLEM_RESPONSE
from autodialer.domain.campaigns import CampaignState
from autodialer.domain.live_state import CallPhase, calls_by_campaign, count_agents
from autodialer.services.live_board import LiveBoard
from autodialer.services.live_events import LiveEvent, Subscription, SubscriptionClosed

router = APIRouter(tags=["live"], responses={k: PROBLEM_RESPONSE[k] for k in (401, 422)})
EVENT_KINDS = """Each event has an `id` (send it back as `Last-Event-ID`, or as `?after=`), an `event` name and JSON
`data`:

| event | data |
|---|---|
| `hello` | `{}`: the stream starts after the event id it carries |
| `agent` | an agent whose state changed (AgentOut) |
| `agent_gone` | `{"agent": …}`: the PBX no longer lists it |
| `agents` | `{"items": [AgentOut]}`: many changed at once (e.g. a PBX re-sync): the whole list |
| `call` | a call started, was answered or ended (CallOut; `ended: true` on its last event) |
| `number` | a call's verdict on its number (NumberOutcomeOut: final result, or the retry time) |
| `campaign` | a campaign's counters after calls (CampaignLiveOut) |
| `campaign_gone` | `{"campaign_id": …}`: deleted |
| `campaigns` | `{}`: campaigns were created, changed or deleted: read the list again |
| `pbx_link` | the PBX link changed (PbxLinkOut) |
| `resync` | `{"reason": …}`: events were missed: read the state again |

A comment line (`: heartbeat`) comes every 15 seconds without events. The server ends a stream after 10 minutes;
EventSource reconnects on its own (after `retry` ms) and resumes from its Last-Event-ID."""


# One server-sent event as a client's parser gives it (the kinds and their data: EVENT_KINDS).
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "event": {"type": "string"},
        "data": {"type": "string", "description": "JSON"},
        "retry": {"type": "integer"},
    },
}


def live_board(request: Request) -> LiveBoard:
    board: LiveBoard = request.app.state.live
    return board


Board = Annotated[LiveBoard, Depends(live_board)]


@router.get("/live", summary="The wallboard's head: PBX link, agents by state, calls ringing and talking")
async def live_summary(board: Board) -> LiveSummary:
    event_id = board.events.last_id
    calls = board.calls()
    talking = sum(1 for c in calls if c.phase is CallPhase.TALKING)
    return LiveSummary(
        pbx_link=PbxLinkOut.of(board.link()),
        agents=count_agents(board.agents()),
        calls_ringing=len(calls) - talking,
        calls_talking=talking,
        event_id=event_id,
    )


@router.get("/live/agents", summary="Agents: state, extension and queues")
async def live_agents(board: Board) -> AgentList:
    event_id = board.events.last_id
    agents = board.agents()
    return AgentList(items=[AgentOut.of(a) for a in agents], counts=count_agents(agents), event_id=event_id)


@router.get("/live/calls", summary="Calls in flight, ringing and talking, per campaign")
async def live_calls(board: Board) -> CallList:
    event_id = board.events.last_id
    calls = board.calls()
    per_campaign = [
        CampaignCalls(campaign_id=k, ringing=r, talking=t) for k, (r, t) in calls_by_campaign(calls).items()
    ]
    return CallList(
        items=[CallOut.of(c) for c in calls],
        by_campaign=sorted(per_campaign, key=lambda c: c.campaign_id),
        event_id=event_id,
    )


@router.get(
    "/live/campaigns",
    summary="Campaigns' live lines: numbers, calls, originates/min, answer and abandonment rates",
)
async def live_campaigns(
    board: Board,
    state: Annotated[StateWord | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CampaignLiveList:
    event_id = board.events.last_id
    wanted = None if state is None else CampaignState[state.upper()]
    lines, more = await board.campaign_lines(state=wanted, after_id=cursors.decode(cursor), limit=limit)
    items = [CampaignLiveOut.of(line) for line in lines]
    return CampaignLiveList(
        items=items, next_cursor=cursors.encode(items[-1].campaign_id) if more else None, event_id=event_id
    )


@router.get("/live/campaigns/{campaign_id}", summary="One campaign's live line", responses=NOT_FOUND)
async def live_campaign(campaign_id: CampaignId, board: Board) -> CampaignLiveOut:
    return CampaignLiveOut.of(await board.campaign(campaign_id))


@router.get("/live/pbx", summary="The PBX link: connected, since when, last error")
async def live_pbx(board: Board) -> PbxLinkOut:
    return PbxLinkOut.of(board.link())


@router.get(
    "/events",
    summary="Server-sent events: agents, calls, numbers' results, campaign counters, the PBX link",
    description=EVENT_KINDS,
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": SSE_EVENT}}, "description": "the stream"}},
)
async def events(
    request: Request,
    board: Board,
    after: Annotated[str | None, Query(max_length=64, description="an event id: start after it")] = None,
    last_event_id: Annotated[str | None, Header(max_length=64, include_in_schema=False)] = None,
) -> StreamingResponse:
    subscription = board.subscribe(last_event_id or after)
    heartbeat_s: float = request.app.state.heartbeat_s
    lifetime_s: float = request.app.state.stream_lifetime_s
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    start = board.events.last_id
    return StreamingResponse(
        _stream(subscription, start, heartbeat_s, lifetime_s), media_type="text/event-stream", headers=headers
    )


async def _stream(
    subscription: Subscription, start: str, heartbeat_s: float, lifetime_s: float
) -> AsyncIterator[bytes]:
    """Events as they come, a heartbeat comment when none came for ``heartbeat_s``; the stream ends after
    ``lifetime_s`` (the client reconnects with its Last-Event-ID: proxies and load balancers that cut long
    responses never cut one mid-event, and a client never holds one worker's subscription for ever)."""
    loop = asyncio.get_running_loop()
    end_at = loop.time() + lifetime_s
    try:
        # The reconnect delay, and where a fresh stream starts (nothing queued yet: the browser keeps this id).
        hello = b"" if len(subscription) else f"id: {start}\nevent: hello\ndata: {{}}\n\n".encode()
        yield b"retry: 2000\n\n" + hello
        while (left := end_at - loop.time()) > 0:
            try:
                event = await subscription.next(min(heartbeat_s, left))
            except SubscriptionClosed:
                return
            if event is None:
                if end_at - loop.time() > 0:
                    yield b": heartbeat\n\n"
                continue
            chunk = [_frame(event)]
            while len(subscription) and len(chunk) < 200:  # what queued meanwhile goes out in one write
                try:
                    more = await subscription.next(0)
                except SubscriptionClosed:
                    break
                if more is not None:
                    chunk.append(_frame(more))
            yield b"".join(chunk)
    finally:
        subscription.end()


def _wire(event: LiveEvent) -> Any:
    convert = _CONVERT.get(event.kind)
    return convert(event.data) if convert is not None else {}


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "agent": lambda d: AgentOut.of(d).model_dump(mode="json"),
    "agents": lambda d: {"items": [AgentOut.of(a).model_dump(mode="json") for a in d]},
    "agent_gone": lambda d: {"agent": d},
    "call": lambda d: CallOut.of(d).model_dump(mode="json"),
    "number": lambda d: NumberOutcomeOut.of(d).model_dump(mode="json"),
    "campaign": lambda d: CampaignLiveOut.of(d).model_dump(mode="json"),
    "campaign_gone": lambda d: {"campaign_id": d},
    "pbx_link": lambda d: PbxLinkOut.of(d).model_dump(mode="json"),
    "resync": lambda d: {"reason": d},
}
_FRAMES: OrderedDict[tuple[str, str], bytes] = OrderedDict()  # one encoding per event, whatever the number of clients


def _frame(event: LiveEvent) -> bytes:
    key = (event.id, event.kind)  # a resync carries the id of the latest event
    frame = _FRAMES.get(key)
    if frame is None:
        data = json.dumps(_wire(event), separators=(",", ":"), ensure_ascii=False)
        frame = f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n".encode()
        _FRAMES[key] = frame
        if len(_FRAMES) > 512:
            _FRAMES.popitem(last=False)
    return frame
