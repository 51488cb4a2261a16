"""v2 errors as RFC 9457 ``application/problem+json``, translated here once for the whole v2 edge.

Domain errors (``CampaignError``: error_id, message, details['field']) map by class: InvalidField 422, NotFound 404,
Conflict 409. Request validation (pydantic) is 422 with one entry per field at fault, named as a path into the body
or the query (``numbers[3].phone``, ``limit``). Unknown routes are 404, wrong methods 405, anything unexpected 500
without a traceback (logged).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from autodialer.api.v2.models import FieldProblem, Problem
from autodialer.domain.campaigns import CampaignError, Conflict, InvalidField, NotFound
from autodialer.services import audio_library as audio
from autodialer.services.polls import InvalidPoll, problem_fields
from autodialer.services.tts_preview import SpeechUnavailable

log = logging.getLogger(__name__)
V2_PATHS = ("/api/v2/", "/api/docs")  # answered in problem+json also where the outer (v1) app answers
MEDIA_TYPE = "application/problem+json"
_STATUS = {InvalidField: 422, NotFound: 404, Conflict: 409, SpeechUnavailable: 503}
# The audio library's refusals (services.audio_library), whose messages start with the field they concern.
_AUDIO_STATUS: dict[type[audio.AudioError], int] = {
    audio.AudioMissing: 422,
    audio.AudioNameInvalid: 422,
    audio.AudioTooLarge: 413,
    audio.AudioNotRecognised: 415,
    audio.AudioConversionFailed: 422,
    audio.AudioTooLong: 422,
    audio.AudioUnknown: 404,
    audio.AudioInUse: 409,
}
_TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    503: "Service unavailable",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
}
PROBLEM_RESPONSE: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": title}
    for status, title in _TITLES.items()
    if status in (401, 404, 409, 413, 415, 422, 503)
}


def problem(
    status: int, detail: str, error_id: str, errors: Sequence[FieldProblem] = (), headers: dict[str, str] | None = None
) -> Response:
    body = Problem(
        type=f"/api/docs#problem-{error_id}",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        error_id=error_id,
        errors=list(errors),
    )
    return JSONResponse(body.model_dump(), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def unauthenticated_problem() -> Response:
    """The auth gate's refusal on v2 paths (api.auth)."""
    detail = "log in first: Authorization: Bearer <JWT or API key>, or a session cookie"
    return problem(401, detail, "not-authenticated", headers={"WWW-Authenticate": "Bearer"})


def read_only_key_problem(reason: str) -> Response:
    """The auth gate's refusal of a read-scoped API key's unsafe request on v2 and console paths (api.auth);
    ``reason`` is domain.api_scopes.refusal's."""
    return problem(403, reason, "api-key-read-only")


def field_name(loc: Sequence[str | int]) -> str:
    """``("body", "numbers", 3, "phone")`` → ``numbers[3].phone``; the location kind (body/query/path) is dropped."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def domain_problem(e: CampaignError) -> Response:
    status = next((code for cls, code in _STATUS.items() if isinstance(e, cls)), 400)
    field = e.details.get("field")
    errors = [FieldProblem(field=field, message=e.message)] if field else []
    if isinstance(e, InvalidPoll):  # every problem of the poll at once
        errors = [FieldProblem(field=f, message=m) for f, m in problem_fields(e)]
        detail = "; ".join(f"{f}: {m}" for f, m in problem_fields(e)[:5])
        return problem(status, detail, e.error_id, errors)
    return problem(status, str(e), e.error_id, errors)


def audio_problem(e: audio.AudioError) -> Response:
    status = next((code for cls, code in _AUDIO_STATUS.items() if isinstance(e, cls)), 422)
    field, _, message = str(e).partition(": ")
    if field not in ("file", "audio_id") or not message:  # "error upload file: file is empty" (MikoPBX's words)
        field, message = "file", str(e)
    return problem(status, str(e), e.error_id, [FieldProblem(field=field, message=message)])


def install_problem_handlers(app: FastAPI) -> None:
    async def on_domain(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CampaignError)
        return domain_problem(exc)

    async def on_validation(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [FieldProblem(field=field_name(e.get("loc", ())), message=str(e.get("msg", ""))) for e in exc.errors()]
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5]) + (" …" if len(errors) > 5 else "")
        return problem(422, detail, "invalid-input", errors)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        error_id = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        if exc.status_code == 400:  # a body FastAPI could not even decode (not UTF-8): as any bad JSON, 422
            return problem(422, str(exc.detail), "invalid-input", [FieldProblem(field="body", message=str(exc.detail))])
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names only the first route matching the path; list them all
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem(exc.status_code, str(exc.detail), error_id, headers=headers)

    async def on_audio(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, audio.AudioError)
        return audio_problem(exc)

    app.add_exception_handler(CampaignError, on_domain)
    app.add_exception_handler(audio.AudioError, on_audio)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_middleware(CrashToProblem)


def allowed_methods(request: Request) -> list[str]:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        route_methods = getattr(route, "methods", None)
        if match is not Match.NONE and route_methods:
            methods |= set(route_methods)
    return sorted(methods)


class CrashToProblem:
    """An unexpected exception becomes a 500 problem here, inside the v2 app, so it never reaches the v1 app around
    it (whose handler would answer with the MikoPBX envelope, or fail after a response started)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        tracked = StartTracker(send)
        try:
            await self._app(scope, receive, tracked.send)
        except Exception:
            log.exception("unhandled error in a v2 handler: %s %s", scope.get("method"), scope.get("path"))
            if not tracked.started:
                await problem(500, "internal error", "internal-error")(scope, receive, send)


class StartTracker:
    """A send that remembers whether the response has started (after which no other answer can be sent)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def send(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)
