"""The asyncio FastAGI server: accepts Asterisk's AGI(agi://host:4573/<script>) connections and routes them.

Per connection: read the environment (bounded by ``env_timeout``), pick the handler for the script path
(``/connect``, ``/poll``; the query string is ignored), run ``handler(call)`` while a reader task feeds
results and HANGUP notices to it, and close the socket as soon as the call is over.

Closing promptly is the point: Asterisk does NOT close the FastAGI socket after a hangup; the channel (and,
after an AGI ``HANGUP``, the customer's SIP leg) is torn down only when we close it (README §6, trace 06).
So the socket is closed when the handler returns, and at the latest ``hangup_grace`` seconds after the
channel died (HANGUP notice, our HANGUP command, or EOF); the grace lets a handler read DIALSTATUS and the
like from the dead channel, and a handler still running after it is cancelled.

A handler's exception is logged with channel and uniqueid and ends only its own call. ``stop()`` stops
accepting, waits up to ``stop_timeout`` for running calls, then cancels them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType

from autodialer.adapters.asterisk.agi_call import AGICall, AGIHangup
from autodialer.adapters.asterisk.fastagi_session import FastAGISession
from autodialer.protocols.agi import AGIProtocolError

log = logging.getLogger(__name__)

DEFAULT_PORT = 4573
# Connections Asterisk opened that we have not accepted yet. Each answered call opens one, up to ~400/s; with
# asyncio's default (100) a loop busy for a quarter of a second overflows it, the kernel drops the SYNs, and each
# of those customers waits for TCP's retry after 1 s (3 s for a second drop) before the connect step even starts:
# dead air just after answering (engine_throughput.py, 1,000 live). The kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 4096

Handler = Callable[[AGICall], Awaitable[None]]


def route_key(path: str) -> str:
    """Normalise a route: ``connect``, ``/connect/`` and ``/connect?x=1`` all become ``/connect``."""
    path = path.split("?", 1)[0].strip("/")
    return "/" + path if path else ""


class FastAGIServer:
    def __init__(
        self,
        routes: Mapping[str, Handler] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        env_timeout: float = 10.0,
        hangup_grace: float = 2.0,
        stop_timeout: float = 5.0,
    ) -> None:
        self._routes: dict[str, Handler] = {}
        for path, handler in (routes or {}).items():
            self.route(path, handler)
        self._host = host
        self._port = port
        self._env_timeout = env_timeout
        self._hangup_grace = hangup_grace
        self._stop_timeout = stop_timeout
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    def route(self, path: str, handler: Handler) -> None:
        self._routes[route_key(path)] = handler

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``); the configured one before start()."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def host(self) -> str:
        return self._host

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.is_serving()

    @property
    def active_calls(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_connection, self._host, self._port, backlog=LISTEN_BACKLOG)
        log.info("FastAGI server listening on %s:%s, routes %s", self._host, self.port, sorted(self._routes))

    async def stop(self, timeout: float | None = None) -> None:
        """Stop accepting, give running calls ``timeout`` (default ``stop_timeout``) seconds, cancel the rest."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        running = set(self._connections)
        if running:
            _, pending = await asyncio.wait(running, timeout=self._stop_timeout if timeout is None else timeout)
            if pending:
                log.warning("FastAGI stop: cancelling %d call(s) still running", len(pending))
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        if server is not None:
            await server.wait_closed()
        log.info("FastAGI server stopped")

    async def __aenter__(self) -> FastAGIServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        session = FastAGISession(reader, writer)
        try:
            await self._serve(session)
        except Exception:  # the per-connection supervisor: one bad call must never take the server down
            log.exception("AGI %s: connection failed", session.label)
        finally:
            await session.close()
            if task is not None:
                self._connections.discard(task)

    async def _serve(self, session: FastAGISession) -> None:
        try:
            env = await asyncio.wait_for(session.read_environment(), self._env_timeout)
        except TimeoutError:
            log.warning("AGI %s: no complete environment within %.1fs", session.label, self._env_timeout)
            return
        except AGIProtocolError as exc:
            log.warning("AGI %s: bad environment: %s", session.label, exc)
            return
        if env is None:
            log.info("AGI %s: closed before the environment was complete", session.label)
            return
        handler = self._routes.get(env.script)
        if handler is None:
            log.warning("AGI %s: no route for script %r; closing", session.label, env.script)
            return
        log.info("AGI %s: %s args=%s", session.label, env.script, list(env.args))
        call = AGICall(env, session)
        reader_task = asyncio.create_task(session.run_reader())
        handler_task = asyncio.create_task(self._run_handler(handler, call, session.label))
        try:
            await self._until_call_over(session, handler_task)
        finally:
            handler_task.cancel()
            reader_task.cancel()
            await asyncio.gather(handler_task, reader_task, return_exceptions=True)

    async def _until_call_over(self, session: FastAGISession, handler_task: asyncio.Task[None]) -> None:
        dead = asyncio.create_task(session.wait_dead())
        try:
            await asyncio.wait({handler_task, dead}, return_when=asyncio.FIRST_COMPLETED)
            if handler_task.done():
                return
            _, pending = await asyncio.wait({handler_task}, timeout=self._hangup_grace)
            if pending:
                log.warning(
                    "AGI %s: handler still running %.1fs after the hangup; cancelling it",
                    session.label,
                    self._hangup_grace,
                )
        finally:
            dead.cancel()
            await asyncio.gather(dead, return_exceptions=True)

    @staticmethod
    async def _run_handler(handler: Handler, call: AGICall, label: str) -> None:
        try:
            await handler(call)
        except AGIHangup as exc:
            log.info("AGI %s: call ended by hangup: %s", label, exc)
        except Exception:  # a handler bug ends its own call only; the socket is closed by the caller
            log.exception("AGI %s: handler %s failed", label, getattr(handler, "__qualname__", handler))
