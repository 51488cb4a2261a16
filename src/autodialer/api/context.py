"""What every HTTP handler may use, built once by the composition root (bootstrap.build_context) and stored on
``app.state``: settings, the clock, and the services (use cases). Never a database engine or another adapter."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request

from autodialer.api.status import PbxStatus
from autodialer.services.audio_library import AudioLibrary
from autodialer.services.auth_service import AuthService
from autodialer.services.campaigns import CampaignService
from autodialer.services.dnc_lists import DncLists
from autodialer.services.health import HealthCheck
from autodialer.services.idempotency import IdempotencyService
from autodialer.services.live_board import LiveBoard
from autodialer.services.mikopbx_polls import MikoPolls
from autodialer.services.mikopbx_tasks import ResultsFeed, TaskService
from autodialer.services.polls import PollUseCases
from autodialer.settings import Settings


def _nothing() -> None:
    return None


@dataclass(slots=True)
class AppContext:
    settings: Settings
    now: Callable[[], float] = time.time
    # The dialer engine's wake-up: called after any change to tasks or numbers (a no-op without an engine).
    on_tasks_changed: Callable[[], None] = field(default=_nothing)
    # A snapshot of the PBX link for GET /status; None when this instance does not dial (API only).
    pbx_status: Callable[[], PbxStatus] | None = None
    # The campaign use cases behind /api/v2 (bootstrap.build_campaign_service); None: no v2 API on this app.
    campaigns: CampaignService | None = None
    dnc: DncLists | None = None  # the do-not-call lists' routes (v2); None: not mounted
    idempotency: IdempotencyService | None = None  # Idempotency-Key on v2 POSTs; None: the header is ignored
    polls: PollUseCases | None = (
        None  # polls, audio prompts and TTS preview on /api/v2 (bootstrap.build_poll_use_cases)
    )
    # The MikoPBX v1 edge's use cases: tasks, results feeds, polls, audio (the library v2 and the console use
    # too), the auth gate and logins, readiness. None only in an app built without them (a route then fails loudly).
    tasks: TaskService | None = None
    results: ResultsFeed | None = None
    v1_polls: MikoPolls | None = None
    audio: AudioLibrary | None = None
    auth: AuthService | None = None
    health: HealthCheck | None = None
    # The live wallboard (/api/v2/live, /api/v2/events); None: v2 builds one without agents, calls or PBX link.
    live: LiveBoard | None = None
    sse_heartbeat_s: float = 15.0
    sse_lifetime_s: float = 600.0  # an event stream ends after this; the client resumes from its last id
    export_page_rows: int = 1000  # the v2 CSV exports read and send this many rows at a time


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context
