"""CSRF protection for state-changing requests authenticated by a session cookie (the console's).

A browser sends cookies with any cross-site request, so a cookie alone must not be able to change anything. The
console's JavaScript reads the token from a readable cookie (``autodialer_csrf``) and echoes it in the
``X-CSRF-Token`` header; another site can neither read the cookie nor set the header. The token is derived from the
session id (HMAC with ``jwt_secret``), so it needs no storage, is the same on every instance, and a token planted by
another site for a session it does not know is worthless (the "signed double-submit cookie" pattern).

Checked here: POST, PUT, PATCH and DELETE on /api/v2/ and /console/ whose principal came from the ``PHPSESSID``
cookie. Not checked: Bearer tokens and API keys (a browser never adds those by itself), and the v1 routes, whose
cookie flow (1C) must stay exactly as MikoPBX has it.

Exempt addresses need no credentials at all, so a browser on such a host (an admin reading mail on the PBX) could be
made to send a bodiless cross-site POST (``/pause``) that passes as local. Every browser marks those requests: an
unsafe request to /api/v2/ or /console/ that a browser says is cross-site (``Sec-Fetch-Site: cross-site``, or an
``Origin`` naming another host than ``Host``) is refused whoever sends it; scripts and CRMs send neither header.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from autodialer.api.auth import session_cookie
from autodialer.api.v2.problems import problem

CSRF_COOKIE = "autodialer_csrf"
CSRF_HEADER = "x-csrf-token"
GUARDED_PATHS = ("/api/v2/", "/console/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(secret: str, session_id: str) -> str:
    """The token that goes with ``session_id``: hex HMAC-SHA256, keyed by ``secret`` (may be empty in dev)."""
    return hmac.new(secret.encode(), b"console-csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


class CsrfMiddleware:
    """Runs inside the auth gate (it reads the principal the gate put on the scope)."""

    def __init__(self, app: ASGIApp, *, secret: str) -> None:
        self._app = app
        self._secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _unsafe(scope) and _cross_site(Headers(scope=scope)):
            response = problem(403, "a cross-site request may not change anything here", "cross-site-refused")
            await response(scope, receive, send)
            return
        if scope["type"] == "http" and self._needs_token(scope) and not self._token_matches(scope):
            response = problem(
                403,
                "a request made with the session cookie needs the X-CSRF-Token header (see GET /console/me)",
                "csrf-token-missing",
            )
            await response(scope, receive, send)
            return
        await self._app(scope, receive, send)

    @staticmethod
    def _needs_token(scope: Scope) -> bool:
        principal = scope.get("state", {}).get("principal")
        return _unsafe(scope) and getattr(principal, "kind", "") == "session"

    def _token_matches(self, scope: Scope) -> bool:
        headers = Headers(scope=scope)
        session_id = session_cookie("; ".join(headers.getlist("cookie")))  # HTTP/2 may split it
        sent = headers.get(CSRF_HEADER, "").strip()
        return bool(session_id and sent) and hmac.compare_digest(sent, csrf_token(self._secret, session_id))


def _unsafe(scope: Scope) -> bool:
    return scope["method"] not in SAFE_METHODS and scope["path"].startswith(GUARDED_PATHS)


def _cross_site(headers: Headers) -> bool:
    """What the browser says (Sec-Fetch-Site, sent by every current browser) or, from an older one, whether Origin
    names another host. Sec-Fetch-Site first: a reverse proxy may rewrite Host, so Origin ≠ Host is no proof there."""
    fetch_site = headers.get("sec-fetch-site", "").strip().lower()
    if fetch_site:
        return fetch_site == "cross-site"
    origin = headers.get("origin", "").strip()
    if not origin:
        return False
    if origin == "null":  # sandboxed frames, data: and file: pages
        return True
    return urlsplit(origin).netloc.lower() != headers.get("host", "").strip().lower()
