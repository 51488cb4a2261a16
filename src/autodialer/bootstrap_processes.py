"""The composition of ``autodialer serve`` as two processes (settings.api_workers = 1), beside bootstrap.

Heavy API traffic (hundreds of requests a second, a 750,000-number GET, a million POSTs) must not slow dialing, so
the API gets its own process and event loop. The database is the boundary; a datagram wakes the dialer after writes.

    autodialer serve: the DIALER process                       API worker: python -m autodialer.api_worker (nice +5)
    build_service (migrates; AMI, FastAGI, engine, full app)   build_context without dialer; no migration
      full app ◀── run/dialer.sock (0600) ── DialerProxy ◀──── public HTTP host:port: /live, /events, explain, /status
      WakeListener ◀── run/wake.sock ◀── WakeSender ◀────────── context.on_tasks_changed (every write)
      PgTaskListener (PostgreSQL) ◀── NOTIFY ◀── PgTaskNotifier ◀── other instances (this worker's: ignored)
      ApiWorkerProcess: spawn, ready line, restart with backoff, stop (SIGTERM, wait, SIGKILL)
                                                               die_with_parent: SIGKILLed when serve dies

The worker's settings are the dialer's own, sent as JSON on its stdin (flags and test overrides included). The
service says "REST API on …" (and sets ``ready``) once the worker's public port accepts. The worker's CPU priority is
lowered (``API_WORKER_NICENESS``): under contention the latency-critical dialer runs first.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import uvicorn

import autodialer
from autodialer.adapters.clock import SystemClock
from autodialer.adapters.db.engine import create_engine
from autodialer.adapters.db.task_notifications import PgTaskNotifier, is_postgresql, source_of
from autodialer.adapters.db.writer_loop import WriterLoop
from autodialer.adapters.process.api_worker_process import READY_FD_PLACEHOLDER, ApiWorkerProcess
from autodialer.adapters.process.local_sockets import RunDir, bind_stream_socket
from autodialer.adapters.process.parent_death import parent_gone
from autodialer.adapters.process.wake_socket import WakeListener, WakeSender
from autodialer.adapters.tts.prompt_cache import build_prompt_renderer
from autodialer.api.app import create_app
from autodialer.api.dialer_proxy import DialerProxy, SocketPeerMiddleware
from autodialer.bootstrap import (
    _HttpServer,
    both,
    build_context,
    build_service,
    freeze_startup_heap,
    http_config,
    load_numbering_plan,
)
from autodialer.domain.numbering_plan import NumberingPlan
from autodialer.settings import Settings

log = logging.getLogger(__name__)

API_WORKER_NICENESS = 5  # added to the worker's nice value: the dialer wins the CPU when both want it
# The worker's GIL hand-over interval (CPython's default 5 ms). Its SQLite write transactions run on a thread of
# their own (WriterLoop), which waits for the GIL at every statement's round trip to aiosqlite's thread while the
# event loop's thread and GET /task/{id}'s rendering thread keep it busy. A 5-number POST held the file's write lock,
# which the dialer waits for, 242 ms p50 at 5 ms, 94 ms at 0.5 ms (100 req/s and a 750,000-number GET alongside).
API_WORKER_SWITCH_INTERVAL_S = 0.0005


async def run_split_service(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    """The dialer process: spawn the API worker (it imports meanwhile), migrate, start the dialer and its full app
    on the Unix socket, then let the worker serve; until cancelled (or the worker cannot be started: WorkerFailed).
    Stops the worker first, then the dialer."""
    plan = load_numbering_plan(settings)  # a bad file stops the start before anything is created
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run_dir = RunDir.create(settings.data_dir)
    worker = ApiWorkerProcess(
        _worker_argv(run_dir),
        settings.model_dump_json().encode(),
        env=_worker_env(),
        restart_stdin=None if settings.http_port else functools.partial(_port_pinned, settings),
    )
    await worker.spawn()
    try:
        await _serve_dialer(settings, plan, run_dir, worker, ready)
    finally:
        await worker.stop()
        run_dir.remove()


async def _serve_dialer(
    settings: Settings, plan: NumberingPlan, run_dir: RunDir, worker: ApiWorkerProcess, ready: asyncio.Event | None
) -> None:
    service = await build_service(settings, numbering_plan=plan)
    dialer = service.dialer
    assert dialer is not None
    internal = _HttpServer(_socket_config(SocketPeerMiddleware(service.app)))
    internal.on_shutdown = service.live.close
    wake = WakeListener(run_dir.wake_socket, service.tasks_changed)
    serve: asyncio.Task[None] | None = None
    try:
        await dialer.start()
        agi = (settings.fastagi_host, dialer.agi.port)
        log.info("dialer: AMI %s:%s, FastAGI on %s:%s", settings.ami_host, settings.ami_port, *agi)
        serve = asyncio.create_task(internal.serve(sockets=[bind_stream_socket(run_dir.dialer_socket)]))
        wake.open()
        while not internal.started and not serve.done():
            await asyncio.sleep(0.02)
        if serve.done():
            serve.result()
            raise RuntimeError(f"the dialer's socket {run_dir.dialer_socket} could not be served")
        url = await worker.start()
        log.info("REST API on %s (API worker pid %s)", url, worker.pid)
        if ready is not None:
            ready.set()
        freeze_startup_heap()
        supervised = asyncio.ensure_future(worker.wait())
        done, _ = await asyncio.wait({serve, supervised}, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        await worker.stop()  # first: its relayed event streams end, no request reaches a stopping dialer
        internal.should_exit = True
        if serve is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(serve, timeout=5)
        wake.close()
        service.live.close()
        await dialer.stop()
        await service.db.dispose()


def _socket_config(app: SocketPeerMiddleware) -> uvicorn.Config:
    # Served on a socket bound here (mode 0600), never on a TCP port.
    return uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, proxy_headers=False)


def _port_pinned(settings: Settings, first_url: str) -> bytes:
    """The settings of a restarted worker when ``http_port`` is 0 (any free port): the port the first one got."""
    return settings.model_copy(update={"http_port": urlsplit(first_url).port}).model_dump_json().encode()


def _worker_argv(run_dir: RunDir) -> list[str]:
    argv = [sys.executable, "-m", "autodialer.api_worker", "--dialer-socket", str(run_dir.dialer_socket)]
    argv += ["--wake-socket", str(run_dir.wake_socket), "--parent-pid", str(os.getpid())]
    argv += ["--ready-fd", READY_FD_PLACEHOLDER]
    if logging.getLogger("autodialer").isEnabledFor(logging.DEBUG):
        argv.append("--verbose")
    return argv


def _worker_env() -> dict[str, str]:
    """This process's environment, with the autodialer package it runs importable first (a checkout run with
    PYTHONPATH or a test's sys.path, not necessarily what the interpreter would find)."""
    source = str(Path(autodialer.__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": source + (os.pathsep + path if path else "")}


async def run_api_worker(
    settings: Settings, dialer_socket: Path, wake_socket: Path, parent_pid: int, ready_fd: int
) -> None:
    """The API worker: the app without a dialer on the public port, DIALER_ROUTES relayed to ``dialer_socket``,
    writes waking the dialer on ``wake_socket``; writes its URL on ``ready_fd`` once the port accepts. Until
    cancelled or the dialer process is gone."""
    db = create_engine(settings.effective_database_url)
    # SQLite: task writes on a quiet loop of their own, so this busy one cannot stretch the dialer's wait for the lock
    writer = WriterLoop(settings.effective_database_url)
    wake = WakeSender(wake_socket)
    changed: Callable[[], None] = wake
    if is_postgresql(settings.effective_database_url):  # other instances wake too; our dialer ignores its own
        changed = both(wake, PgTaskNotifier(db, source_of(parent_pid)))
    context = build_context(
        settings,
        db,
        SystemClock().now,
        on_tasks_changed=changed,
        speech=build_prompt_renderer(settings),
        numbering_plan=load_numbering_plan(settings),
        task_writer=writer,
    )
    proxy = DialerProxy(create_app(context), httpx.AsyncHTTPTransport(uds=str(dialer_socket)))
    server = _HttpServer(http_config(proxy, settings))
    server.on_shutdown = proxy.close
    serve = asyncio.create_task(server.serve())
    orphaned = asyncio.create_task(parent_gone(parent_pid))
    try:
        while not server.started and not serve.done():
            await asyncio.sleep(0.02)
        if serve.done():
            serve.result()
            raise SystemExit(1)  # uvicorn logged why (the port is taken)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        shown = settings.http_host if settings.http_port else host
        os.write(ready_fd, f"http://{_url_host(shown)}:{port}\n".encode())
        os.close(ready_fd)
        freeze_startup_heap()
        await asyncio.wait({serve, orphaned}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        orphaned.cancel()
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(serve, timeout=5)
        await proxy.aclose()
        wake.close()
        await writer.aclose()
        await db.dispose()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
