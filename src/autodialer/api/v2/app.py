"""The v2 application, mounted at /api/v2 by api.app: typed routes on services only, OpenAPI 3.1 at
/api/v2/openapi.json, errors as problem+json (problems.py). The auth gate of the outer app runs before it, so v2 is
guarded exactly as v1 is. The docs page (/api/docs, docs.py) belongs to the outer app.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from autodialer.api.v2 import (
    audio_routes,
    campaign_routes,
    dnc_routes,
    live_routes,
    number_routes,
    poll_routes,
    result_routes,
)
from autodialer.api.v2.problems import MEDIA_TYPE, install_problem_handlers
from autodialer.api.v2.request_guard import BodyLimits, RequestGuard
from autodialer.domain.api_scopes import SAFE_METHODS
from autodialer.services.campaigns import CampaignService
from autodialer.services.dnc_lists import DncLists
from autodialer.services.idempotency import MAX_KEY_LENGTH, IdempotencyService
from autodialer.services.live_board import LiveBoard
from autodialer.services.live_events import LiveEvents
from autodialer.services.polls import PollUseCases

PREFIX = "/api/v2"
DESCRIPTION = """Campaigns (v1 "tasks") and their numbers, typed. Errors are RFC 9457 problem details
(`application/problem+json`) naming each field at fault. Authentication as v1: local addresses are exempt, else
`Authorization: Bearer <JWT or API key>` or a session cookie. An API key scoped `read` may only GET (and HEAD,
OPTIONS): any other method is refused with 403 `api-key-read-only`, nothing changed; `write` keys, sessions and
tokens may do everything. A POST may carry `Idempotency-Key`: a repeat with the same body within a day gets the first
(successful) answer again, with `Idempotency-Replayed: true`; with another body it is refused (422), while the first
still runs 409."""

FORBIDDEN = {
    "description": "Forbidden: an API key scoped read used a method that needs a write key (`api-key-read-only`), "
    "or a request made with the session cookie lacks X-CSRF-Token (`csrf-token-missing`), or a browser sent it "
    "cross-site (`cross-site-refused`)",
    "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


DEFAULT_LIMITS = BodyLimits(json_bytes=4 * 1024 * 1024, numbers_bytes=64 * 1024 * 1024)


def create_v2_app(
    campaigns: CampaignService,
    idempotency: IdempotencyService | None = None,
    limits: BodyLimits = DEFAULT_LIMITS,
    polls: PollUseCases | None = None,
    dnc: DncLists | None = None,
    live: LiveBoard | None = None,
    heartbeat_s: float = 15.0,
    stream_lifetime_s: float = 600.0,
    export_page: int = 1000,
) -> FastAPI:
    """``live``: the wallboard (bootstrap builds it with the dialer); without one, an API-only instance shows
    campaigns' counters and no agents, calls or PBX link. ``export_page``: rows per page of the CSV exports."""
    app = FastAPI(
        title="autodialer API",
        version="2.0",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        servers=[{"url": PREFIX}],
    )
    app.state.campaigns = campaigns
    app.state.live = live if live is not None else LiveBoard(LiveEvents(), campaigns)
    app.state.heartbeat_s = heartbeat_s
    app.state.stream_lifetime_s = stream_lifetime_s
    app.state.export_page = export_page
    app.add_middleware(RequestGuard, limits=limits, idempotency=idempotency)  # inside CrashToProblem
    install_problem_handlers(app)
    app.include_router(campaign_routes.router)
    app.include_router(number_routes.router)
    app.include_router(result_routes.router)
    if polls is not None:  # polls, audio prompts and the TTS preview
        app.state.polls = polls
        app.include_router(poll_routes.router)
        app.include_router(audio_routes.router)
    if dnc is not None:
        app.state.dnc = dnc
        app.include_router(dnc_routes.router)
    app.include_router(live_routes.router)
    _document_forbidden(app)
    _document_idempotency_key(app)
    return app


def _document_forbidden(app: FastAPI) -> None:
    """Every operation a read-scoped key may not use (any method but GET, HEAD, OPTIONS) documents the gate's 403.
    The gate (api.auth) answers it before routing, so no route declares it; it is added to the generated document
    here, once for all routes, as domain.api_scopes decides by method alone."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # cached by FastAPI after the first call; adding again changes nothing
        for path_item in schema.get("paths", {}).values():
            for method, operation in path_item.items():
                if method.upper() not in SAFE_METHODS and isinstance(operation, dict) and "responses" in operation:
                    operation["responses"].setdefault("403", FORBIDDEN)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A repeat with the same key and body within a day gets the first successful answer again "
    "(`Idempotency-Replayed: true`); with another body 422, while the first still runs 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[ -~]+$"},
}

IN_PROGRESS: dict[str, Any] = {
    "description": "Conflict (also: a request with this Idempotency-Key is still running)",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _document_idempotency_key(app: FastAPI) -> None:
    """Every POST takes ``Idempotency-Key`` (RequestGuard, before any route): the OpenAPI document says so on each,
    with the 409 it may answer, so clients and the schemathesis run see the header."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for item in schema.get("paths", {}).values():
                post = item.get("post")
                if post is None:
                    continue
                post.setdefault("parameters", []).append({"$ref": "#/components/parameters/IdempotencyKey"})
                post["responses"].setdefault("409", IN_PROGRESS)
            schema.setdefault("components", {}).setdefault("parameters", {})["IdempotencyKey"] = IDEMPOTENCY_KEY
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
