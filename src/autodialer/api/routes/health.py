"""``GET /health`` (the process answers) and ``GET /status`` (ready to dial, and why not).

``/health`` needs no login (api.auth lists it as public) and touches nothing but the event loop: a load balancer
or systemd watchdog may call it every second. ``/status`` checks the database (services.health: a ``SELECT 1``
with a timeout) and reports the PBX link from the composition root's snapshot (api.status): 200 when the
database answers and, if this instance dials, AMI is logged in; 503 otherwise, with the reason. It sits behind
the normal auth gate: its details (addresses, user names, errors) are for the local host and for logged-in
clients (an API key suits a monitoring system).
"""

from __future__ import annotations

import os
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from autodialer.api.auth import HEALTH_PATH
from autodialer.api.context import AppContext, get_context
from autodialer.api.envelope import JSON_MEDIA_TYPE, render_json

router = APIRouter()
ContextDep = Annotated[AppContext, Depends(get_context)]
STATUS_PATH = "/status"
STARTED = time.time()


@router.api_route(HEALTH_PATH, methods=["GET", "HEAD"])
async def health() -> Response:
    return Response(render_json({"status": "ok", "pid": os.getpid()}), media_type=JSON_MEDIA_TYPE)


async def _database(context: AppContext) -> dict[str, Any]:
    if context.health is None:
        raise RuntimeError("the context has no HealthCheck (bootstrap.build_context builds one)")
    found = await context.health.database()
    return {"backend": found.backend, "ok": found.ok, "error": found.error}


@router.get(STATUS_PATH)
async def status(context: ContextDep) -> Response:
    database = await _database(context)
    pbx = context.pbx_status() if context.pbx_status is not None else None
    body: dict[str, Any] = {"ready": False, "database": database, "ami": None, "fastagi": None}
    if pbx is None:
        body["dialer"] = {"enabled": False, "callsInFlight": 0}
        ready = database["ok"]
    else:
        body["ami"] = {
            "ok": pbx.ami_logged_in,
            "address": pbx.ami_address,
            "username": pbx.ami_username,
            "state": pbx.ami_state,
            "loggedIn": pbx.ami_logged_in,
            "connects": pbx.ami_connects,
            "lastError": pbx.ami_last_error,
            "loginRefused": pbx.ami_login_refused,
        }
        body["fastagi"] = {
            "ok": pbx.fastagi_listening,
            "address": pbx.fastagi_address,
            "listening": pbx.fastagi_listening,
            "sessions": pbx.fastagi_sessions,
        }
        body["dialer"] = {"enabled": True, "callsInFlight": pbx.calls_in_flight}
        ready = database["ok"] and pbx.ami_logged_in and pbx.fastagi_listening
    body["ready"] = ready
    body["uptimeS"] = round(time.time() - STARTED, 1)
    return Response(render_json(body), status_code=200 if ready else 503, media_type=JSON_MEDIA_TYPE)
