"""The composition root: the one place that builds adapters, services and the HTTP app and wires them together.

Everything else receives what it needs as arguments; nothing reads settings or opens connections at import time.

    AMIClient ──events──▶ AvailabilityTracker (who is free) ──on_change──▶ DialerEngine.wake
              └─events──▶ AsteriskPbxGateway (call events)  ──on_call_event──▶ DialerEngine
    FastAGIServer /connect, /poll ──▶ ConnectCallHandler / PollCallHandler ──CallProgress──▶ DialerEngine
    REST API ──on_tasks_changed──▶ PlanningReads.invalidate, DialerEngine.task_changed
             (PostgreSQL: also NOTIFY ──▶ other instances' PgTaskListener ──▶ the same, there)
    DialerEngine ──▶ PlanningReads (planning reads kept in memory) ──▶ SqlDialerStore
    build_context: every service the HTTP edges get (api.context.AppContext), never an adapter:
    v1 API ──▶ TaskService ──▶ SqlTaskRepository · ResultsFeed ──▶ SqlResultsFeed · MikoPolls ──▶ SqlPollRepository
           └─▶ AuthService ──▶ SqlAuthRepository, Hs256Tokens · HealthCheck ──▶ SqlDatabasePing
    v2 API ──▶ CampaignService ──▶ SqlCampaignRepository (through SqlTaskRepository's write rules)
           └─▶ PollUseCases: PollService ──▶ SqlPollStore · AudioLibrary (also v1 /audio) · TtsPreview
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp

from autodialer.adapters.asterisk.agi_call import AGICall
from autodialer.adapters.asterisk.agi_channel import channel_handler
from autodialer.adapters.asterisk.ami_client import AMIClient
from autodialer.adapters.asterisk.ami_errors import AMILoginFailed
from autodialer.adapters.asterisk.availability import AvailabilityTracker
from autodialer.adapters.asterisk.fastagi_server import FastAGIServer
from autodialer.adapters.asterisk.pbx_gateway import EVENT_FILTERS, AsteriskPbxGateway, GatewayConfig
from autodialer.adapters.asterisk.pbx_link import PbxLinkMonitor
from autodialer.adapters.asterisk.user_events import AmiUserEventSink
from autodialer.adapters.audio.conversion import AudioConverter
from autodialer.adapters.audio.file_store import AudioFileStore
from autodialer.adapters.audio.prompt_files import StoredPromptFiles
from autodialer.adapters.clock import AsyncioSleeper, SystemClock
from autodialer.adapters.db.audio_repository import SqlAudioRepository
from autodialer.adapters.db.auth_repository import SqlAuthRepository
from autodialer.adapters.db.campaign_repository import SqlCampaignRepository
from autodialer.adapters.db.dnc_repository import SqlDncRepository
from autodialer.adapters.db.engine import SqlDatabasePing, create_engine, migrate
from autodialer.adapters.db.idempotency_repository import SqlIdempotencyStore
from autodialer.adapters.db.poll_repository import SqlPollRepository
from autodialer.adapters.db.poll_store import SqlPollStore
from autodialer.adapters.db.results_feed import SqlResultsFeed
from autodialer.adapters.db.sql_dialer_store import SqlDialerStore
from autodialer.adapters.db.task_notifications import (
    PgTaskListener,
    PgTaskNotifier,
    is_postgresql,
    notify_tasks_changed,
    source_of,
)
from autodialer.adapters.db.task_repository import SqlTaskRepository
from autodialer.adapters.db.writer_loop import WriterLoop
from autodialer.adapters.jwt_tokens import Hs256Tokens
from autodialer.adapters.numbering_plan_file import read_numbering_plan
from autodialer.adapters.phone_numbering import PhoneNumbering
from autodialer.adapters.poll_prompts import PollPromptRenderer
from autodialer.adapters.process.local_sockets import RunDir
from autodialer.adapters.process.wake_socket import WakeSender
from autodialer.adapters.tts.prompt_cache import PromptRenderer, build_prompt_renderer
from autodialer.api.app import create_app
from autodialer.api.context import AppContext
from autodialer.api.php_serialize import php_serialize
from autodialer.api.status import PbxStatus
from autodialer.domain.numbering_plan import NO_PLAN, InvalidNumberingPlan, NumberingPlan
from autodialer.domain.retry_policy import RetryPolicy
from autodialer.services.audio_library import AudioLibrary
from autodialer.services.auth_service import AuthPolicy, AuthService
from autodialer.services.campaigns import CampaignPolicy, CampaignService
from autodialer.services.connect_call import ConnectCallHandler, ConnectSettings
from autodialer.services.dialer_engine import DialerEngine, EngineSettings
from autodialer.services.dnc_lists import DncLists
from autodialer.services.health import HealthCheck
from autodialer.services.idempotency import IdempotencyService
from autodialer.services.live_board import LiveBoard
from autodialer.services.live_conditions import LiveConditions
from autodialer.services.live_events import LiveEvents
from autodialer.services.mikopbx_polls import MikoPolls
from autodialer.services.mikopbx_tasks import ResultsFeed, TaskService
from autodialer.services.number_eligibility import NumberEligibility
from autodialer.services.planning_reads import PlanningReads
from autodialer.services.poll_call import PollCallHandler, PollSettings
from autodialer.services.polls import PollService, PollUseCases
from autodialer.services.ports import Clock
from autodialer.services.stale_marks import StaleAnswerMarks
from autodialer.services.tts_preview import TtsPreview
from autodialer.settings import Settings
from autodialer.settings_check import SettingsError, env_name

log = logging.getLogger(__name__)


def load_numbering_plan(settings: Settings) -> NumberingPlan:
    """The numbering-plan table of ``AUTODIALER_NUMBERING_PLAN`` (empty: none), read once at start-up and given to
    every NumberEligibility (the engine's and explain's). A file that cannot be used stops the start with one
    SettingsError line naming the variable, the file, the line and the rule: a table silently ignored would let
    the wide libphonenumber zones or, worse, a half-read table decide when people are called."""
    if not settings.numbering_plan:
        return NO_PLAN
    name = f"{env_name('numbering_plan')}={settings.numbering_plan!r}"
    try:
        plan = read_numbering_plan(Path(settings.numbering_plan))
    except OSError as e:
        raise SettingsError([f"{name}: cannot be read ({e.strerror or e})"]) from e
    except InvalidNumberingPlan as e:
        raise SettingsError([f"{name}: line {e.line}: {e.rule}"]) from e
    if not plan:
        raise SettingsError([f"{name}: holds no range (leave the variable empty for no table)"])
    log.info("numbering plan: %d ranges from %s", len(plan), settings.numbering_plan)
    return plan


async def run_migrations(settings: Settings) -> None:
    engine = create_engine(settings.effective_database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


@dataclass
class Dialer:
    """The PBX side: AMI link, trackers, engine and FastAGI server, started and stopped together."""

    ami: AMIClient
    availability: AvailabilityTracker
    gateway: AsteriskPbxGateway
    engine: DialerEngine
    agi: FastAGIServer
    link: PbxLinkMonitor
    # The engine's planning reads kept in memory: told of task changes with the engine (build_service).
    planning: PlanningReads
    # Reads the PBX's stale answer marks now and then; the FastAGI routes delete them (services/stale_marks.py).
    stale_marks: StaleAnswerMarks
    # On PostgreSQL: other instances' writes wake this dialer (build_service sets it; started and stopped here).
    listener: PgTaskListener | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def live_conditions(self) -> LiveConditions:
        """The engine's target and link state for explain (the same reads its planning rounds make)."""
        return LiveConditions(self.engine, self.availability, roster=self.availability, link=self.link)

    async def start(self) -> None:
        await self.agi.start()
        self.ami.start()
        self._tasks.append(asyncio.create_task(self.engine.run(), name="dialer-engine"))
        self._tasks.append(asyncio.create_task(self.stale_marks.run(AsyncioSleeper()), name="stale-answer-marks"))
        if self.listener is not None:
            self.listener.start()

    def status(self) -> PbxStatus:
        """The PBX side as GET /status shows it."""
        ami, error = self.ami, self.ami.last_error
        return PbxStatus(
            ami_address=f"{ami.host}:{ami.port}",
            ami_username=ami.username,
            ami_state=ami.state.value,
            ami_logged_in=ami.is_connected(),
            ami_connects=ami.connect_count,
            ami_last_error=None if error is None else str(error) or type(error).__name__,
            ami_login_refused=isinstance(error, AMILoginFailed),
            fastagi_address=f"{self.agi.host}:{self.agi.port}",
            fastagi_listening=self.agi.listening,
            fastagi_sessions=self.agi.active_calls,
            calls_in_flight=self.engine.calls_in_flight,
        )

    async def stop(self) -> None:
        if self.listener is not None:
            await self.listener.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.agi.stop()
        await self.ami.close()


def build_dialer(
    settings: Settings,
    db: AsyncEngine,
    clock: Clock | None = None,
    speech: PromptRenderer | None = None,
    numbering_plan: NumberingPlan | None = None,
) -> Dialer:
    """``speech``: the prompt renderer (one per service: the call flow and the v2 TTS preview share its cache);
    ``numbering_plan``: the loaded table (None: loaded here from the settings)."""
    clock = clock or SystemClock()
    plan = load_numbering_plan(settings) if numbering_plan is None else numbering_plan
    ami = AMIClient(
        settings.ami_host,
        settings.ami_port,
        settings.ami_username,
        settings.ami_secret,
        event_filters=EVENT_FILTERS,
        ping_interval=settings.ami_ping_interval_s,
        trace=settings.ami_trace,
    )
    availability = AvailabilityTracker(settings.internal_context)
    gateway = AsteriskPbxGateway(
        ami, GatewayConfig(outgoing_context=settings.outgoing_context, connect_context=settings.connect_context)
    )
    # Each consumer gets only the event names it reads (AMIClient routes by name: ~60 events per call).
    ami.on_event(availability.handle_event, availability.EVENT_NAMES)
    ami.on_event(gateway.handle_event, gateway.EVENT_NAMES)
    ami.on_connected(lambda: availability.resync(ami))
    ami.on_disconnected(availability.disconnected)

    store = SqlDialerStore(
        db, page_limit=settings.results_page_limit, numbering=PhoneNumbering(settings.default_region)
    )
    planning = PlanningReads(store, clock)
    engine = DialerEngine(
        planning,
        gateway,
        availability,
        clock,
        AsyncioSleeper(),
        AmiUserEventSink(ami),
        EngineSettings(
            originate_timeout_s=settings.originate_timeout_s,
            caller_id=settings.originate_caller_id,
            def_dial_prefix=settings.def_dial_prefix,
            retry_policy=RetryPolicy().with_overrides(settings.retry_policy),
            watchdog_interval_s=settings.watchdog_interval_s,
            max_call_s=settings.max_call_s,
            pbx_zone=settings.pbx_timezone,
            originate_rate=settings.originate_rate,
        ),
        eligibility=NumberEligibility(
            PhoneNumbering(settings.default_region), settings.pbx_timezone, settings.call_hours, numbering_plan=plan
        ),
    )
    prompts = PollPromptRenderer(
        speech or build_prompt_renderer(settings),
        SqlAudioRepository(db),
        settings.audio_dir,
        settings.tts_cache_dir,
        settings.prompt_delivery,
        settings.prompt_http_base_url,
    )
    stale_marks = StaleAnswerMarks(gateway, store, interval_s=settings.answer_mark_sweep_interval_s)
    connect = ConnectCallHandler(
        engine,
        availability,
        clock,
        ConnectSettings(
            dial_timeout_s=settings.agent_dial_timeout_s,
            internal_context=settings.internal_context,
            dial_extensions_directly=settings.dial_extensions_directly,
            agent_mark_context=settings.connect_context,
        ),
        prompts,
        later_marks=stale_marks,  # a step ends without waiting for its endDial's commit to delete the mark
    )
    poll = PollCallHandler(
        engine,
        prompts,
        clock,
        PollSettings(
            dial_timeout_s=settings.agent_dial_timeout_s,
            internal_context=settings.internal_context,
            agent_mark_context=settings.connect_context,  # the transfer marks the employee's answer as connect does
        ),
    )

    # Once a session's own step is done, a few old marks go on it (services/stale_marks.py).
    connect_step = channel_handler(connect.handle, after=stale_marks.clear_some)
    poll_step = channel_handler(poll.handle, after=stale_marks.clear_some)

    async def connect_route(call: AGICall) -> None:
        # The lab dialplan sends polls to /connect with DIALER_MODE=poll as the second argument.
        await (poll_step if len(call.args) > 1 and call.args[1] == "poll" else connect_step)(call)

    agi = FastAGIServer(
        {"/connect": connect_route, "/poll": poll_step},
        host=settings.fastagi_host,
        port=settings.fastagi_port,
    )
    return Dialer(
        ami,
        availability,
        gateway,
        engine,
        agi,
        PbxLinkMonitor(ami, availability, clock.now),
        planning,
        stale_marks,
    )


def build_campaign_service(
    settings: Settings,
    db: AsyncEngine,
    now: Callable[[], float],
    on_change: Callable[[], None],
    numbering_plan: NumberingPlan | None = None,
    live: LiveConditions | None = None,
    task_writer: WriterLoop | None = None,
) -> CampaignService:
    """The campaign use cases (v2 API, explain) on the SQL store; ``on_change`` wakes the dialer after a write;
    ``numbering_plan``: the loaded table (None: loaded here from the settings); ``live``: the dialer's target and
    link state in this process (explain's live holds; None outside the service); ``task_writer``: where campaign
    writes run on SQLite (None: on the caller's loop)."""
    repository = SqlCampaignRepository(
        db, page_limit=settings.results_page_limit, render_params=php_serialize, writer=task_writer
    )
    policy = CampaignPolicy(
        lines_ceiling=settings.max_count_channels_ceiling,
        pbx_zone=settings.pbx_timezone,
        call_hours=settings.call_hours,
        numbering_plan=load_numbering_plan(settings) if numbering_plan is None else numbering_plan,
    )
    return CampaignService(repository, PhoneNumbering(settings.default_region), policy, now, on_change, live)


def build_poll_use_cases(
    settings: Settings,
    db: AsyncEngine,
    now: Callable[[], float],
    on_change: Callable[[], None],
    speech: PromptRenderer | None = None,
) -> PollUseCases:
    """Polls, the audio library (shared with v1's /audio) and the TTS preview (the call flow's renderer and cache)."""
    audio_records = SqlAudioRepository(db)
    store = SqlPollStore(db)
    files = AudioFileStore(settings.audio_dir, AudioConverter())
    library = AudioLibrary(audio_records, files, settings.audio_max_bytes, now, users=store)
    polls = PollService(store, audio_records, now, on_change)
    return PollUseCases(polls, library, TtsPreview(speech or build_prompt_renderer(settings)))


def build_dnc_lists(
    settings: Settings, db: AsyncEngine, now: Callable[[], float], on_change: Callable[[], None] = lambda: None
) -> DncLists:
    """The do-not-call lists' use cases (v2 routes, ``autodialer dnc import``) on the SQL store."""
    numbering = PhoneNumbering(settings.default_region)
    store = SqlDialerStore(db, page_limit=settings.results_page_limit, numbering=numbering)
    return DncLists(SqlDncRepository(db, store), numbering.e164, now, on_change)


async def wake_dialers(settings: Settings, db: AsyncEngine) -> None:
    """After a CLI command's write (``dnc import``): the dialer of a serve on this data directory wakes over its
    local socket, and on PostgreSQL every instance's over NOTIFY (the command is none of them, so none ignores it).
    Neither is needed for correctness, only for promptness: without them the dialers see the change at their own
    re-read (a task whose last open numbers the write closed is then closed, the wallboard counts it)."""
    sender = WakeSender(RunDir.of(settings.data_dir).wake_socket)
    try:
        sender.send_now()
    finally:
        sender.close()
    if is_postgresql(settings.effective_database_url):
        await notify_tasks_changed(db, source_of(os.getpid()))


def build_auth_service(settings: Settings, db: AsyncEngine, now: Callable[[], float]) -> AuthService:
    policy = AuthPolicy(
        admin_login=settings.admin_login,
        seed_password=settings.admin_password,
        session_lifetime_s=settings.session_lifetime_s,
        jwt_lifetime_s=settings.jwt_lifetime_s,
        failures_per_window=settings.login_failures_per_window,
        failure_window_s=settings.login_failure_window_s,
    )
    return AuthService(SqlAuthRepository(db), policy, now, Hs256Tokens(settings.jwt_secret))


def build_context(
    settings: Settings,
    db: AsyncEngine,
    now: Callable[[], float],
    *,
    on_tasks_changed: Callable[[], None] | None = None,
    speech: PromptRenderer | None = None,
    pbx_status: Callable[[], PbxStatus] | None = None,
    numbering_plan: NumberingPlan | None = None,
    live: LiveConditions | None = None,
    task_writer: WriterLoop | None = None,
) -> AppContext:
    """Every service the HTTP edges (v1, v2, console) use, on the SQL stores. Services wake the dialer through
    ``context.on_tasks_changed``, read when called, so the caller may rebind it after building. ``numbering_plan``:
    the loaded table (None: loaded from the settings). ``task_writer`` (SQLite): the loop the task and campaign
    writes run on, off this one (the API worker's: adapters/db/writer_loop.py)."""
    context = AppContext(settings=settings, now=now, pbx_status=pbx_status)
    if on_tasks_changed is not None:
        context.on_tasks_changed = on_tasks_changed

    def changed() -> None:
        context.on_tasks_changed()

    page_limit = settings.results_page_limit
    context.campaigns = build_campaign_service(settings, db, now, changed, numbering_plan, live, task_writer)
    context.dnc = build_dnc_lists(settings, db, now, changed)
    context.idempotency = IdempotencyService(SqlIdempotencyStore(db), now)
    context.polls = build_poll_use_cases(settings, db, now, changed, speech)
    context.audio = context.polls.audio
    context.tasks = TaskService(SqlTaskRepository(db, page_limit=page_limit, writer=task_writer), now, changed)
    context.results = ResultsFeed(SqlResultsFeed(db, page_limit=page_limit))
    files = StoredPromptFiles(settings.audio_dir, SqlAudioRepository(db))
    context.v1_polls = MikoPolls(SqlPollRepository(db), files, now, changed)
    context.auth = build_auth_service(settings, db, now)
    context.health = HealthCheck(SqlDatabasePing(db))
    return context


@dataclass
class Service:
    settings: Settings
    db: AsyncEngine
    app: FastAPI
    dialer: Dialer | None
    live: LiveBoard
    # What a write of this instance changes here (context.on_tasks_changed, less the PostgreSQL NOTIFY to other
    # instances); the API worker's wake-ups call it in the dialer process.
    tasks_changed: Callable[[], None] = field(default=lambda: None)


async def build_service(
    settings: Settings, clock: Clock | None = None, numbering_plan: NumberingPlan | None = None
) -> Service:
    """Migrate the database and build the API (and the dialer unless settings.dialer_enabled is false). ``clock``
    is the wall clock unless a test gives another (the e2e tests cross call-window boundaries on chosen dates).
    The numbering plan is read first, once, for the engine and explain: a bad file stops the start before anything
    is written (``numbering_plan``: already read by the caller)."""
    plan = load_numbering_plan(settings) if numbering_plan is None else numbering_plan
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    clock = clock or SystemClock()
    # SQLite: the dialer's writes pass the file's write gate before those of the API worker and CLI commands
    db = create_engine(settings.effective_database_url, preferred_writer=settings.dialer_enabled)
    await migrate(db)
    speech = build_prompt_renderer(settings)
    dialer = build_dialer(settings, db, clock, speech, plan) if settings.dialer_enabled else None
    context = build_context(
        settings,
        db,
        clock.now,
        speech=speech,
        pbx_status=None if dialer is None else dialer.status,
        numbering_plan=plan,
        live=None if dialer is None else dialer.live_conditions(),
    )
    assert context.campaigns is not None
    context.live = build_live_board(context.campaigns, dialer)
    local = context.live.campaigns_changed
    if dialer is not None:
        engine, live, planning = dialer.engine, context.live, dialer.planning

        def tasks_changed() -> None:
            planning.invalidate()
            engine.task_changed()
            live.campaigns_changed()

        local = tasks_changed
    context.on_tasks_changed = local
    if is_postgresql(settings.effective_database_url):  # other instances on the database wake too
        source = source_of(os.getpid())
        context.on_tasks_changed = both(local, PgTaskNotifier(db, source))
        if dialer is not None:
            dialer.listener = PgTaskListener(settings.effective_database_url, source, local)
    return Service(settings, db, create_app(context), dialer, context.live, local)


def both(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    def call() -> None:
        first()
        second()

    return call


def build_live_board(campaigns: CampaignService, dialer: Dialer | None) -> LiveBoard:
    """The wallboard: told by the engine (calls), the availability tracker (agents) and the AMI link."""
    if dialer is None:
        return LiveBoard(LiveEvents(), campaigns)
    board = LiveBoard(LiveEvents(), campaigns, roster=dialer.availability, calls=dialer.engine, link=dialer.link)
    dialer.engine.observe_calls(board)
    return board


class _HttpServer(uvicorn.Server):
    """uvicorn without its own SIGINT/SIGTERM capture: the command stops the whole service (process_signals), and
    uvicorn re-raising a captured signal after its own shutdown would cancel the dialer's cleanup half way."""

    on_shutdown: Callable[[], None] = staticmethod(lambda: None)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn waits for every response to finish: the event streams (never finishing on their own) end first.
        self.on_shutdown()
        await super().shutdown(sockets)


def http_config(app: ASGIApp, settings: Settings) -> uvicorn.Config:
    """How uvicorn serves the API. Its own proxy-header handling is off whatever its environment says (uvicorn reads
    FORWARDED_ALLOW_IPS, often ``*`` in container images): api.forwarded trusts only settings.trusted_proxies."""
    return uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        lifespan="off",
        access_log=False,
        proxy_headers=False,
    )


def freeze_startup_heap() -> None:
    """Once a process has built what it serves with: collect, then move every object left into the collector's
    permanent generation (``gc.freeze``), so later full collections walk only what was made since.

    They are triggered by allocation counts, so a 10,000-row results page (tens of thousands of row objects) ran
    one every few requests, and each walked the ~150,000 objects of the app, the schema and the numbering plan:
    60-110 ms on this 2-core machine, 0.6-1.0 s of 40 feed answers' time, against 0.07 s frozen (issue 11)."""
    gc.collect()
    gc.freeze()


async def run_service(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    """Migrate, start the dialer, then serve the REST API until cancelled: from an API worker process when
    settings.api_workers is 1 (bootstrap_processes), else from this process."""
    if settings.dialer_enabled and settings.api_workers == 1:
        from autodialer.bootstrap_processes import run_split_service

        await run_split_service(settings, ready=ready)
        return
    service = await build_service(settings)
    server = _HttpServer(http_config(service.app, settings))
    server.on_shutdown = service.live.close
    serve: asyncio.Task[None] | None = None
    try:
        if service.dialer is not None:
            await service.dialer.start()
            log.info(
                "dialer: AMI %s:%s, FastAGI on %s:%s",
                settings.ami_host,
                settings.ami_port,
                settings.fastagi_host,
                service.dialer.agi.port,
            )
        serve = asyncio.create_task(server.serve())
        while not server.started and not serve.done():
            await asyncio.sleep(0.05)
        log.info("REST API on http://%s:%s", settings.http_host, settings.http_port)
        if ready is not None:
            ready.set()
        freeze_startup_heap()
        # Shielded: cancelling run_service must let uvicorn close its sockets rather than kill it mid-flight.
        await asyncio.shield(serve)
    finally:
        server.should_exit = True
        if serve is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(serve, timeout=5)
        service.live.close()
        if service.dialer is not None:
            await service.dialer.stop()
        await service.db.dispose()
