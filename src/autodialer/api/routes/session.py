"""Login routes: MikoPBX 2024.1 ``/admin-cabinet/session/start`` and ``/session/end``, and the 2025+
``/pbxcore/api/v3/auth:*`` flow.

session/start always answers 200 with a ``PHPSESSID=<32 hex>; path=/`` cookie, like PHP's session service; only a
successful login registers that id as a session. Its JSON is rendered with PHP ``json_encode`` default flags
(escaped slashes), which is what MikoPBX sends for XMLHttpRequest logins; we send the same JSON without that header
too (MikoPBX would render its HTML login page, which no API client can use).

Bodies are parsed leniently: 1C sends ``&login=X&password=Y&`` without URL-encoding, so a password is tried as
URL-decoded (what PHP does), as sent, and as everything up to the trailing ``&`` (a raw ``&`` inside it).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from autodialer.api import json_limits
from autodialer.api.auth import (
    SESSION_END_PATH,
    SESSION_START_PATH,
    V3_LOGIN_PATH,
    V3_LOGOUT_PATH,
    V3_REFRESH_PATH,
    get_auth_service,
    php_json,
    session_cookie,
)
from autodialer.api.envelope import envelope_response, error_response
from autodialer.api.errors import Refusal
from autodialer.services.auth_service import AuthService, LoginOutcome, LoginStatus

router = APIRouter()
AuthDep = Annotated[AuthService, Depends(get_auth_service)]

HOME_PAGE = "/admin-cabinet/extensions/index"
LOGIN_PAGE = "/admin-cabinet/session/index"
REFRESH_COOKIE = "refreshToken"
REFRESH_COOKIE_PATH = "/pbxcore/api/v3"  # a cookie path must end at a "/" boundary
MAX_LOGIN_BODY = 16 * 1024


class LoginForm:
    """``login`` plus every plausible reading of ``password`` (see module docstring)."""

    def __init__(self, login: str, passwords: list[str]) -> None:
        self.login = login
        self.passwords = passwords


def parse_login_body(body: bytes) -> LoginForm:
    text = body[:MAX_LOGIN_BODY].decode("utf-8", errors="replace")
    if text.lstrip().startswith("{"):
        try:
            data = json_limits.loads(text)
        except json_limits.JsonTooDeep:
            raise
        except Refusal:
            data = None  # not JSON after all: read it as a form
        if isinstance(data, dict):
            return LoginForm(str(data.get("login", "")), [str(data.get("password", ""))])
    login, passwords = "", list[str]()
    for part in text.split("&"):
        name, sep, value = part.partition("=")
        if not sep:
            continue
        name = unquote_plus(name).strip()
        if name == "login" and not login:
            login = unquote_plus(value)
        elif name == "password" and not passwords:
            passwords = [unquote_plus(value), value]
    marker = text.find("password=")
    if marker >= 0 and text.endswith("&"):
        passwords.append(text[marker + len("password=") : -1])
    return LoginForm(login, passwords or [""])


def _peer(request: Request) -> str:
    return request.client.host if request.client else ""


async def _read_at_most(request: Request, limit: int) -> bytes:
    """The body's first ``limit`` bytes: a login route is public, so it must not buffer an unbounded body."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])


async def _login(request: Request, service: AuthService) -> LoginOutcome:
    form = parse_login_body(await _read_at_most(request, MAX_LOGIN_BODY))
    return await service.login(form.login, form.passwords, _peer(request))


@router.post(SESSION_START_PATH)
async def session_start(request: Request, service: AuthDep) -> Response:
    outcome = await _login(request, service)
    message: Any
    if outcome.status is LoginStatus.OK:
        session_id = await service.start_session(outcome.login)
        payload = {"success": True, "reload": HOME_PAGE, "message": []}
    else:
        # Not registered: a cookie the client can send back, but that authenticates nothing.
        session_id = secrets.token_hex(16)
        if outcome.status is LoginStatus.THROTTLED:
            message = {"error": [f"Too many login attempts. Try again in {outcome.retry_after_s} seconds."]}
            payload = {"success": True, "reload": LOGIN_PAGE, "message": message}
        else:
            message = {"error": [f"Wrong login or password. Attempts left: {outcome.remaining_attempts}"]}
            payload = {"success": False, "reload": False, "message": message}
    return Response(
        php_json(payload),
        media_type="application/json",
        headers={"Set-Cookie": f"PHPSESSID={session_id}; path=/"},
    )


@router.api_route(SESSION_END_PATH, methods=["GET", "POST"])
async def session_end(request: Request, service: AuthDep) -> Response:
    """Log out (MikoPBX SessionController::endAction): the session dies and the browser is sent to the login page."""
    session_id = session_cookie(request.headers.get("cookie", ""))
    if session_id:
        await service.end_session(session_id)
    return Response(
        status_code=302,
        headers={"Location": LOGIN_PAGE, "Set-Cookie": "PHPSESSID=deleted; path=/; Max-Age=0"},
    )


def _token_data(service: AuthService, token: str, login: str) -> dict[str, Any]:
    return {"accessToken": token, "tokenType": "Bearer", "expiresIn": service.jwt_lifetime_s, "login": login}


@router.post(V3_LOGIN_PATH)
async def v3_login(request: Request, service: AuthDep) -> Response:
    outcome = await _login(request, service)
    if outcome.status is LoginStatus.THROTTLED:
        return error_response([f"Too many login attempts. Try again in {outcome.retry_after_s} seconds."], 429)
    if outcome.status is LoginStatus.WRONG:
        return error_response(["Invalid login or password"], 401)
    access = await service.issue_access_token(outcome.login)
    refresh = await service.issue_refresh_token(outcome.login)
    response = envelope_response(True, _token_data(service, access, outcome.login))
    response.set_cookie(
        REFRESH_COOKIE, refresh, max_age=30 * 24 * 3600, path=REFRESH_COOKIE_PATH, httponly=True, samesite="strict"
    )
    return response


@router.post(V3_REFRESH_PATH)
async def v3_refresh(request: Request, service: AuthDep) -> Response:
    refresh = request.cookies.get(REFRESH_COOKIE, "")
    refreshed = await service.refresh(refresh)
    if refreshed is None:
        return error_response(["Invalid or expired refresh token"], 401)
    access, login = refreshed
    return envelope_response(True, _token_data(service, access, login))


@router.post(V3_LOGOUT_PATH)
async def v3_logout(request: Request, service: AuthDep) -> Response:
    refresh = request.cookies.get(REFRESH_COOKIE, "")
    if refresh:
        await service.revoke_refresh_token(refresh)
    response = envelope_response(True)
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH)
    return response
