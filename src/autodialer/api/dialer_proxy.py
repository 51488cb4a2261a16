"""The routes that read the dialer's memory, served by the API worker from the dialer process (api_workers=1).

With the API in its own worker process, the database is the boundary between API and dialer. A few routes show
what only the dialer process holds in memory: the live wallboard (``/api/v2/live``, ``/api/v2/live/…``), its event
stream (``/api/v2/events``), explain's live conditions (``/api/v2/campaigns/{id}/numbers/{id}/explain``) and the
PBX link of ``GET /status``. ``DialerProxy`` (the worker's outermost ASGI layer) sends exactly those, method, path,
query, headers and body untouched, to the dialer's full app on its Unix socket and streams the answer back as it
comes (an event stream is never buffered); everything else goes to the worker's own app.

The dialer's app authenticates them itself (same settings, same database), so it must see the real client:
``PEER_HEADER`` carries the scheme and peer address the worker's socket saw, and ``SocketPeerMiddleware``, which
wraps the app only on the dialer's Unix socket (mode 0600, never the public port), puts them back in the scope.
The worker drops any ``PEER_HEADER`` a public client sent before adding its own, so none can choose its address;
X-Forwarded-For and the like travel unchanged and api.forwarded applies the trusted-proxy rule on the dialer side
exactly as it would have in a single process.

A stream ends when the dialer ends it, when the client goes away, or when the worker shuts down (``close``). The
dialer unreachable (restarting, gone): 503, with a problem body on v2 paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# The paths whose handlers read the dialer's memory: request.app.state.live (api/v2/live_routes), the explain's
# LiveConditions (api/v2/number_routes via CampaignService), context.pbx_status (api/routes/health /status).
DIALER_ROUTES = re.compile(
    r"/api/v2/(?:live(?:/.*)?|events|campaigns/[^/]+/numbers/[^/]+/explain)/?|/status/?", flags=re.DOTALL
)
PEER_HEADER = b"x-autodialer-peer"
# Per connection, not per message (RFC 9110 7.6.1): never relayed. Content-Length and Transfer-Encoding are framing:
# the body is relayed as read, with its length when the client gave one.
HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade"}
)
# The worker's server writes its own Date and Server.
NOT_RELAYED = HOP_BY_HOP | {b"date", b"server"}
_UNAVAILABLE = {"type": "about:blank", "title": "The dialer process does not answer", "status": 503}


def encode_peer(scope: Scope) -> bytes:
    """``<scheme> <host> <port>`` of the socket peer (``-`` when unknown)."""
    client = scope.get("client")
    host, port = (client[0], client[1]) if client else ("-", 0)
    return f"{scope.get('scheme', 'http')} {host} {port}".encode("latin-1")


def decode_peer(value: bytes) -> tuple[str, tuple[str, int] | None] | None:
    """(scheme, client) from ``encode_peer``'s bytes; None if they are not that."""
    parts = value.decode("latin-1").split(" ")
    if len(parts) != 3 or parts[0] not in ("http", "https") or not parts[2].isdigit():
        return None
    return parts[0], (None if parts[1] == "-" else (parts[1], int(parts[2])))


class SocketPeerMiddleware:
    """On the dialer's Unix socket only: the client is the one the API worker's ``PEER_HEADER`` names."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = scope.get("headers", [])
            values = [value for key, value in headers if key.lower() == PEER_HEADER]
            scope["headers"] = [(key, value) for key, value in headers if key.lower() != PEER_HEADER]
            peer = decode_peer(values[-1]) if len(values) == 1 else None
            if peer is not None:
                scope["scheme"], scope["client"] = peer[0], peer[1]
            else:  # not the worker (another local process of our user): no address, hence no exemption
                scope["client"] = None
        await self._app(scope, receive, send)


class DialerProxy:
    """The API worker's outermost layer: DIALER_ROUTES to the dialer process, the rest to ``app``.

    ``transport``: how to reach the dialer (httpx.AsyncHTTPTransport(uds=…) in the service; an in-memory ASGI
    transport in tests)."""

    def __init__(self, app: ASGIApp, transport: httpx.AsyncBaseTransport) -> None:
        self._app = app
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=32)
        # No read timeout: an event stream is quiet between heartbeats, and the client decides how long it waits.
        timeout = httpx.Timeout(10.0, read=None)
        self._client = httpx.AsyncClient(transport=transport, limits=limits, timeout=timeout)
        self._closing = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and DIALER_ROUTES.fullmatch(scope["path"]):
            await self._forward(scope, receive, send)
        else:
            await self._app(scope, receive, send)

    def close(self) -> None:
        """End every relayed response now (the worker shuts down: uvicorn waits for responses to finish)."""
        self._closing.set()

    async def aclose(self) -> None:
        self.close()
        await self._client.aclose()

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A bare Request, not client.build_request: that adds the client's defaults (Accept, Accept-Encoding,
        # User-Agent) to what the client sent.
        request = httpx.Request(
            scope["method"],
            httpx.URL("http://dialer", raw_path=_target(scope)),
            headers=_request_headers(scope),
            content=await _body(scope, receive),
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TransportError as e:
            log.warning("dialer process unreachable for %s %s: %s", scope["method"], scope["path"], e)
            await _unavailable(scope, send)
            return
        try:
            headers = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in NOT_RELAYED]
            await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
            await self._relay(response, receive, send)
        finally:
            await response.aclose()

    async def _relay(self, response: httpx.Response, receive: Receive, send: Send) -> None:
        """Send the body as it arrives until it ends, the client disconnects or the worker closes."""
        pump = asyncio.ensure_future(_pump(response.aiter_raw(), send))
        gone = asyncio.ensure_future(_disconnected(receive))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait({pump, gone, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (gone, closing):
                task.cancel()
            if not pump.done():
                pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        failure = None if pump.cancelled() else pump.exception()
        if not pump.cancelled() and failure is None:
            return  # the dialer ended the body: sent in full
        if failure is not None:
            log.info("relay from the dialer process ended: %s", failure)
        with contextlib.suppress(Exception):  # the client may be gone already
            await send({"type": "http.response.body", "body": b"", "more_body": False})


def _target(scope: Scope) -> bytes:
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    query: bytes = scope.get("query_string", b"")
    return raw + b"?" + query if query else raw


def _request_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    headers = [
        (key, value)
        for key, value in scope.get("headers", [])
        if key.lower() not in HOP_BY_HOP and key.lower() != PEER_HEADER
    ]
    headers.append((PEER_HEADER, encode_peer(scope)))
    return headers


async def _body(scope: Scope, receive: Receive) -> bytes | AsyncIterator[bytes]:
    """The request body: streamed when the client sends one, else empty (no chunked framing on a GET)."""
    names = {key.lower() for key, _ in scope.get("headers", [])}
    if b"content-length" not in names and b"transfer-encoding" not in names:
        return b""
    return _body_chunks(receive)


async def _body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise httpx.ReadError("the client went away while sending its body")
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _pump(chunks: AsyncIterator[bytes], send: Send) -> None:
    async for chunk in chunks:
        if chunk:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _unavailable(scope: Scope, send: Send) -> None:
    v2 = scope["path"].startswith("/api/v2/")
    body = json.dumps(_UNAVAILABLE).encode() if v2 else b'{"result":false,"messages":["the dialer does not answer"]}'
    media = b"application/problem+json" if v2 else b"application/json"
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode()), (b"retry-after", b"1")]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
