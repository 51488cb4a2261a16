"""The authentication gate in front of every route, and MikoPBX's framework error bodies (401, 404).

A request passes if any of these holds (MikoPBX 2024.1 and 2025+ together, so both kinds of client work):
- its peer address is in ``settings.auth_exempt_addresses`` (addresses or networks; IPv4-mapped IPv6 is unwrapped);
- its path is a login route (``PUBLIC_PATHS``);
- a ``PHPSESSID`` cookie names a live session. The cookie header is parsed leniently, because 1C echoes the whole
  ``Set-Cookie`` value back (``Cookie: PHPSESSID=abc; path=/``);
- ``Authorization: Bearer`` carries a live JWT or an unrevoked API key.
Everything else gets the 2024.1 401 body (not the 2025+ envelope): the clients we replace the module for (1C and
CRMs written against ModuleAutoDialer on 2024.1) treat any non-200 as ``result:false`` and never parse the body, and
2024.1 is the release whose cookie flow they use. Authentication runs before routing, so an unauthenticated request
to an unknown path also gets 401 (MikoPBX answers 404 there, which tells a stranger which routes exist).

Then the principal's scope (domain.api_scopes, issue 12): an API key scoped ``read`` may only make GET, HEAD and
OPTIONS requests. Anything else is refused here with 403, before routing and before any body is read, so nothing is
stored: on v2 and console paths as problem+json ``api-key-read-only`` (what the console's script reads), elsewhere
(v1) in the same 2024.1 body as the 401. Either names the key's scope and the rule: ``this API key is scoped read:
POST needs a write key``. Sessions, access tokens and exempt addresses have write scope; login routes never look at
a key.

The gate is a plain ASGI middleware (not BaseHTTPMiddleware) so it streams uploads untouched. The peer address is the
socket's, or, from a proxy named in settings.trusted_proxies, the client its X-Forwarded-For names (api.forwarded,
which runs first). A request relayed by a proxy we do not trust (it carries X-Forwarded-For or Forwarded) is never
exempt, even from 127.0.0.1: a reverse proxy on the same host relays other people's requests.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from autodialer.api.context import AppContext
from autodialer.api.forwarded import AddressMatcher, ForwardedPeerMiddleware
from autodialer.api.v2.problems import V2_PATHS, read_only_key_problem, unauthenticated_problem
from autodialer.domain.api_scopes import refusal
from autodialer.services.auth_service import AuthService, Principal

log = logging.getLogger(__name__)
# The 2024.1 auth log line that fail2ban's mikopbx-www jail matches; kept so existing jails keep working.
auth_log = logging.getLogger("autodialer.auth")

SESSION_START_PATH = "/admin-cabinet/session/start"
SESSION_END_PATH = "/admin-cabinet/session/end"
V3_LOGIN_PATH = "/pbxcore/api/v3/auth:login"
V3_REFRESH_PATH = "/pbxcore/api/v3/auth:refresh"
V3_LOGOUT_PATH = "/pbxcore/api/v3/auth:logout"
HEALTH_PATH = "/health"  # liveness only (api.routes.health); /status stays behind the gate
PUBLIC_PATHS = frozenset(
    {SESSION_START_PATH, SESSION_END_PATH, V3_LOGIN_PATH, V3_REFRESH_PATH, V3_LOGOUT_PATH, HEALTH_PATH}
)

CONSOLE_PATHS = "/console/"  # answered in problem+json, as the console's CSRF refusals (api.console.csrf)
NOT_AUTHENTICATED = "The user isn't authenticated."


def php_json(payload: Any) -> str:
    """``json_encode`` with PHP's default flags: compact, non-ASCII as ``\\uXXXX``, ``/`` escaped as ``\\/``."""
    # "/" only ever occurs inside JSON strings, so a textual replace is exact.
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/")


def framework_error(status_code: int, message: str, now: float, timezone: str) -> Response:
    """MikoPBX 2024.1 Response::send for a halted request: jsonapi + errors + meta, with an ``E-Tag`` header.

    As in the original, ``hash`` = sha1(timestamp + content) and ``E-Tag`` = sha1(content), where content is the
    PHP-encoded ``{"errors":[message]}``; the timestamp is ``date('c')`` in the PBX time zone.
    """
    timestamp = datetime.fromtimestamp(now, ZoneInfo(timezone)).isoformat(timespec="seconds")
    content = php_json({"errors": [message]})
    body = {
        "jsonapi": {"version": "1.0"},
        "errors": [message],
        "meta": {"timestamp": timestamp, "hash": hashlib.sha1((timestamp + content).encode()).hexdigest()},  # noqa: S324
    }
    headers = {
        "E-Tag": hashlib.sha1(content.encode()).hexdigest(),  # noqa: S324 - an ETag, not a security hash
        "Access-Control-Allow-Origin": "*",
    }
    return Response(php_json(body), status_code=status_code, media_type="application/json", headers=headers)


def session_cookie(cookie_header: str) -> str:
    """The PHPSESSID value from a Cookie header, tolerating echoed attributes (``path=/``, ``HttpOnly`` …)."""
    for part in cookie_header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name.strip() == "PHPSESSID":
            return value.strip().strip('"')
    return ""


class AuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        service: AuthService,
        exempt: AddressMatcher,
        now: Callable[[], float],
        timezone: str,
        public_paths: frozenset[str] = PUBLIC_PATHS,
    ) -> None:
        self._app = app
        self._service = service
        self._exempt = exempt
        self._now = now
        self._timezone = timezone
        self._public_paths = public_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self._app(scope, receive, send)
            return
        peer = (scope.get("client") or ("", 0))[0]
        principal: Principal | None
        if peer in self._exempt and not scope.get("state", {}).get("forwarded_by"):
            principal = Principal("exempt-address", peer)
        elif scope["path"] in self._public_paths:
            principal = Principal("public", "")
        else:
            principal = await self._principal(scope)
        if principal is None:
            headers = _headers(scope)
            auth_log.warning("From: %s UserAgent:%s Cause: Wrong password", peer, headers.get("user-agent", ""))
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})  # policy violation, before accepting
                return
            response = (
                unauthenticated_problem()
                if scope["path"].startswith(V2_PATHS)
                else framework_error(401, NOT_AUTHENTICATED, self._now(), self._timezone)
            )
            await response(scope, receive, send)
            return
        refused = refusal(principal.scope, scope.get("method", "GET"))  # a websocket opens with a GET
        if refused is not None:
            log.warning("%s %s refused for API key %r: %s", scope.get("method"), scope["path"], principal.name, refused)
            await self._forbidden(scope, refused)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self._app(scope, receive, send)

    def _forbidden(self, scope: Scope, reason: str) -> Response:
        if scope["path"].startswith((*V2_PATHS, CONSOLE_PATHS)):
            return read_only_key_problem(reason)
        return framework_error(403, reason, self._now(), self._timezone)

    async def _principal(self, scope: Scope) -> Principal | None:
        headers = _headers(scope)
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            principal = await self._service.bearer_principal(token.strip())
            if principal is not None:
                return principal
        session_id = session_cookie(headers.get("cookie", ""))
        return await self._service.session_principal(session_id) if session_id else None


def _headers(scope: Scope) -> dict[str, str]:
    # Later duplicates win except for Cookie, whose several headers (HTTP/2) are joined.
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}; {value}" if name == "cookie" and name in headers else value
    return headers


def get_auth_service(request: Request) -> AuthService:
    service: AuthService = request.app.state.auth_service
    return service


def install_auth(
    app: FastAPI,
    context: AppContext,
    service: AuthService | None = None,
    extra_public_paths: frozenset[str] = frozenset(),
) -> AuthService:
    """Guard every route of ``app`` (unknown routes' 404 body is api.errors' job); ``extra_public_paths`` (exact
    paths, e.g. the console's page and its sign-in) pass like the login routes.

    Uses the context's AuthService (bootstrap.build_context) unless one is given, and keeps it on
    ``app.state.auth_service`` for the login routes. Call once, after the routers are included.
    """
    auth = service or context.auth
    if auth is None:
        raise RuntimeError("the context has no AuthService (bootstrap.build_context builds one)")
    app.state.auth_service = auth
    settings = context.settings
    app.add_middleware(
        AuthMiddleware,
        service=auth,
        exempt=AddressMatcher(settings.auth_exempt_addresses),
        now=context.now,
        timezone=settings.pbx_timezone,
        public_paths=PUBLIC_PATHS | extra_public_paths,
    )
    app.add_middleware(ForwardedPeerMiddleware, trusted=AddressMatcher(settings.trusted_proxies))  # runs first
    return auth
