"""The console's routes: its page and assets (public: they hold no data), sign-in, "who am I" and sign-out.

Sign-in is the login flow of the API (AuthService.login: the same accounts, the same throttling of failed attempts
per address) answered as JSON for the page's script. It starts a PHPSESSID session, as /admin-cabinet/session/start
does, but with a cookie the page's script cannot read (HttpOnly, SameSite=Strict), and sets the readable CSRF cookie
that goes with it (console/csrf.py). It takes only ``application/json``, so another site cannot post a form to it
(login CSRF). Everything else the console shows or changes goes through /api/v2.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from autodialer.api.auth import get_auth_service, session_cookie
from autodialer.api.console.csrf import CSRF_COOKIE, csrf_token
from autodialer.api.context import AppContext, get_context
from autodialer.api.v2.problems import problem
from autodialer.services.auth_service import AuthService, LoginStatus, Principal

router = APIRouter(include_in_schema=False)
AuthDep = Annotated[AuthService, Depends(get_auth_service)]
ContextDep = Annotated[AppContext, Depends(get_context)]

CONSOLE = "/console/"
LOGIN_PATH = "/console/login"
ASSETS = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "i18n.js": "text/javascript; charset=utf-8",
    "polls.js": "text/javascript; charset=utf-8",
    "audio.js": "text/javascript; charset=utf-8",
    "polls.css": "text/css; charset=utf-8",
    "wallboard.js": "text/javascript; charset=utf-8",
    "wallboard.css": "text/css; charset=utf-8",
}
PUBLIC_PATHS = frozenset({"/console", CONSOLE, LOGIN_PATH, *(f"/console/assets/{name}" for name in ASSETS)})
MAX_LOGIN_BODY = 16 * 1024
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _static(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


@router.get("/console")
async def console_redirect() -> Response:
    return RedirectResponse(CONSOLE, status_code=308)


@router.get(CONSOLE)
async def console_page() -> Response:
    return Response(_static("index.html"), media_type="text/html; charset=utf-8", headers=_HEADERS)


@router.get("/console/assets/{name}")
async def console_asset(name: str) -> Response:
    if name not in ASSETS:
        return problem(404, f"no console asset {name!r}", "not-found")
    return Response(_static(name), media_type=ASSETS[name], headers=_HEADERS)


def _secure(request: Request) -> str:
    return "; Secure" if request.url.scheme == "https" else ""


@router.post(LOGIN_PATH)
async def console_login(request: Request, service: AuthDep, context: ContextDep) -> Response:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return problem(415, "send the login as application/json", "unsupported-media-type")
    body = await _read_at_most(request, MAX_LOGIN_BODY)
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("login"), str)
        or not isinstance(data.get("password"), str)
    ):
        return problem(422, "send {login, password} as strings", "invalid-input")
    peer = request.client.host if request.client else ""
    outcome = await service.login(data["login"], [data["password"]], peer)
    if outcome.status is LoginStatus.THROTTLED:
        seconds = outcome.retry_after_s
        response = problem(429, f"too many login attempts; try again in {seconds} s", "login-throttled")
        response.headers["Retry-After"] = str(seconds)
        return response
    if outcome.status is LoginStatus.WRONG:
        response = problem(401, "wrong login or password", "login-failed")
        response.headers["X-Attempts-Left"] = str(outcome.remaining_attempts)
        return response
    session_id = await service.start_session(outcome.login)
    token = csrf_token(context.settings.jwt_secret, session_id)
    response = JSONResponse({"login": outcome.login, "kind": "session", "csrf_token": token})
    secure = _secure(request)
    response.headers.append("Set-Cookie", f"PHPSESSID={session_id}; Path=/; HttpOnly; SameSite=Strict{secure}")
    response.headers.append("Set-Cookie", f"{CSRF_COOKIE}={token}; Path=/; SameSite=Strict{secure}")
    return response


async def _read_at_most(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            break
    return bytes(body[:limit])


@router.get("/console/me")
async def console_me(request: Request, context: ContextDep) -> dict[str, Any]:
    """Who the gate let in, and for a cookie session the CSRF token its state-changing requests must send."""
    principal: Principal = request.state.principal
    token = None
    if principal.kind == "session":
        token = csrf_token(context.settings.jwt_secret, session_cookie(request.headers.get("cookie", "")))
    login = None if principal.kind == "exempt-address" else principal.name or None
    return {"login": login, "kind": principal.kind, "csrf_token": token}


@router.post("/console/logout")
async def console_logout(request: Request, service: AuthDep) -> Response:
    session_id = session_cookie(request.headers.get("cookie", ""))
    if session_id:
        await service.end_session(session_id)
    response = Response(status_code=204)
    response.headers.append("Set-Cookie", "PHPSESSID=deleted; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
    response.headers.append("Set-Cookie", f"{CSRF_COOKIE}=deleted; Path=/; Max-Age=0; SameSite=Strict")
    return response
