"""The API worker's relay of the dialer's routes (api/dialer_proxy): which routes, what travels, streaming, peers.

The dialer side is a real uvicorn on a Unix socket behind SocketPeerMiddleware, as in the service; the worker side
is DialerProxy called as an ASGI app, recording what it sends and when.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import Message, Receive, Scope, Send

from autodialer.adapters.process.local_sockets import bind_stream_socket
from autodialer.api.dialer_proxy import DIALER_ROUTES, DialerProxy, SocketPeerMiddleware


class DialerApp:
    """What the dialer's app saw; ``/api/v2/events`` streams one event, then another once ``release`` is set."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.seen.append(
            {
                **{k: scope[k] for k in ("method", "raw_path", "query_string", "client", "scheme")},
                "headers": scope["headers"],
                "body": body,
            }
        )
        if scope["path"] == "/api/v2/events":
            headers = [(b"content-type", b"text/event-stream")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"event: hello\n\n", "more_body": True})
            await self.release.wait()
            await send({"type": "http.response.body", "body": b"event: call\n\n", "more_body": False})
            return
        reply = json.dumps({"client": scope["client"]}).encode()
        await send({"type": "http.response.start", "status": 203, "headers": [(b"x-from", b"dialer")]})
        await send({"type": "http.response.body", "body": reply})


async def front_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"worker"})


class Exchange:
    """One request to an ASGI app, as a server would make it; ``sent`` records the app's messages as they come."""

    def __init__(
        self,
        method: str,
        path: str,
        *,
        query: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes = b"",
        client: tuple[str, int] = ("198.51.100.7", 40123),
    ) -> None:
        self.scope: Scope = {
            "type": "http",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "headers": headers or [],
            "client": client,
            "scheme": "http",
            "server": ("127.0.0.1", 8080),
            "http_version": "1.1",
            "root_path": "",
        }
        self._body = body
        self.sent: list[Message] = []
        self.arrived = asyncio.Event()
        self.disconnect = asyncio.Event()

    async def receive(self) -> Message:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self.disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        self.arrived.set()

    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")

    def ended(self) -> bool:
        return any(m["type"] == "http.response.body" and not m.get("more_body") for m in self.sent)


@pytest.fixture
def socket_path() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="dproxy-"))
    yield directory / "dialer.sock"
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def dialer(socket_path: Path) -> AsyncIterator[DialerApp]:
    app = DialerApp()
    config = uvicorn.Config(SocketPeerMiddleware(app), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[bind_stream_socket(socket_path)]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield app
    app.release.set()
    server.should_exit = True
    await serving


@pytest.fixture
async def proxy(socket_path: Path) -> AsyncIterator[DialerProxy]:
    relay = DialerProxy(front_app, httpx.AsyncHTTPTransport(uds=str(socket_path)))
    yield relay
    await relay.aclose()


def test_exactly_the_routes_that_read_the_dialers_memory_are_relayed() -> None:
    relayed = [
        "/api/v2/live",
        "/api/v2/live/agents",
        "/api/v2/live/campaigns/3",
        "/api/v2/events",
        "/status",
        "/api/v2/campaigns/3/numbers/17/explain",
    ]
    kept = [
        "/task",
        "/health",
        "/api/v2/campaigns/3/numbers/17",
        "/api/v2/campaigns/3",
        "/api/v2/lively",
        "/api/v2/events/x",
        "/status/more",
        "/pbxcore/api/module-dialer/v1/task/1",
        "/console/",
        "/api/v2/campaigns",
    ]
    assert [p for p in relayed if DIALER_ROUTES.fullmatch(p)] == relayed
    assert [p for p in kept if DIALER_ROUTES.fullmatch(p)] == []


async def test_other_routes_stay_in_the_worker(dialer: DialerApp, proxy: DialerProxy) -> None:
    exchange = Exchange("GET", "/task")
    await proxy(exchange.scope, exchange.receive, exchange.send)
    assert exchange.body() == b"worker" and dialer.seen == []


async def test_method_path_query_body_and_headers_travel_and_the_peer_is_the_real_one(
    dialer: DialerApp, proxy: DialerProxy
) -> None:
    headers = [
        (b"authorization", b"Bearer k"),
        (b"x-forwarded-for", b"10.1.1.1"),
        (b"content-length", b"5"),
        (b"x-autodialer-peer", b"http 127.0.0.1 1"),
        (b"connection", b"keep-alive"),
    ]
    exchange = Exchange("POST", "/api/v2/live/campaigns/7", query=b"a=1&b=%20", headers=headers, body=b"hello")
    await proxy(exchange.scope, exchange.receive, exchange.send)
    (seen,) = dialer.seen
    assert (seen["method"], seen["raw_path"], seen["query_string"], seen["body"]) == (
        "POST",
        b"/api/v2/live/campaigns/7",
        b"a=1&b=%20",
        b"hello",
    )
    # The client's own X-Autodialer-Peer is gone; the dialer's app sees the socket peer the worker saw.
    assert seen["client"] == ("198.51.100.7", 40123) and seen["scheme"] == "http"
    assert [v for k, v in seen["headers"] if k == b"x-autodialer-peer"] == []  # read and dropped by the middleware
    # Hop-by-hop headers stay; nothing is added but the Host HTTP/1.1 needs (this client sent none).
    assert {k for k, _ in seen["headers"]} == {b"host", b"authorization", b"x-forwarded-for", b"content-length"}
    assert (b"authorization", b"Bearer k") in seen["headers"] and (b"x-forwarded-for", b"10.1.1.1") in seen["headers"]
    start = exchange.sent[0]
    assert start["status"] == 203 and (b"x-from", b"dialer") in start["headers"]
    assert json.loads(exchange.body()) == {"client": ["198.51.100.7", 40123]}


async def test_an_event_stream_is_relayed_as_it_comes_and_ends_when_the_worker_closes(
    dialer: DialerApp, proxy: DialerProxy
) -> None:
    exchange = Exchange("GET", "/api/v2/events")
    relay = asyncio.create_task(proxy(exchange.scope, exchange.receive, exchange.send))
    await asyncio.wait_for(_until(lambda: b"event: hello" in exchange.body()), 5)  # before the stream ended
    assert not exchange.ended()
    dialer.release.set()
    await asyncio.wait_for(relay, 5)
    assert exchange.body() == b"event: hello\n\nevent: call\n\n" and exchange.ended()

    dialer.release.clear()
    again = Exchange("GET", "/api/v2/events")
    relay = asyncio.create_task(proxy(again.scope, again.receive, again.send))
    await asyncio.wait_for(_until(lambda: b"hello" in again.body()), 5)
    proxy.close()  # the worker shuts down: uvicorn would wait for this response for ever
    await asyncio.wait_for(relay, 5)
    assert again.ended() and b"call" not in again.body()


async def test_a_client_that_goes_away_ends_its_relayed_stream(dialer: DialerApp, proxy: DialerProxy) -> None:
    exchange = Exchange("GET", "/api/v2/events")
    relay = asyncio.create_task(proxy(exchange.scope, exchange.receive, exchange.send))
    await asyncio.wait_for(_until(lambda: b"hello" in exchange.body()), 5)
    exchange.disconnect.set()
    await asyncio.wait_for(relay, 5)


async def test_the_dialer_unreachable_is_a_503(socket_path: Path) -> None:
    relay = DialerProxy(front_app, httpx.AsyncHTTPTransport(uds=str(socket_path)))  # nothing listens there
    exchange = Exchange("GET", "/api/v2/live")
    await relay(exchange.scope, exchange.receive, exchange.send)
    await relay.aclose()
    assert exchange.sent[0]["status"] == 503
    assert json.loads(exchange.body())["status"] == 503


async def test_on_the_socket_a_request_without_exactly_one_peer_header_has_no_address() -> None:
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope["client"], scope["scheme"], scope["headers"]))

    middleware = SocketPeerMiddleware(app)
    for headers in ([], [(b"x-autodialer-peer", b"http 127.0.0.1 1")] * 2, [(b"x-autodialer-peer", b"nonsense")]):
        scope: Scope = {"type": "http", "headers": headers, "client": ("1.2.3.4", 5), "scheme": "http"}
        await middleware(scope, _never, _never_send)
    assert [client for client, _, _ in seen] == [None, None, None]
    assert all(headers == [] for _, _, headers in seen)
    await middleware(
        {"type": "http", "headers": [(b"x-autodialer-peer", b"https ::1 8443")], "client": None}, _never, _never_send
    )
    assert seen[-1][:2] == (("::1", 8443), "https")


async def _never() -> Message:
    raise AssertionError("not read")


async def _never_send(message: Message) -> None:
    raise AssertionError("not sent")


async def _until(predicate: Any) -> None:
    while not predicate():
        await asyncio.sleep(0.01)
