"""The HTTP application: MikoPBX ModuleAutoDialer's REST API on FastAPI.

``create_app(context)`` is called by the composition root (bootstrap) with everything the handlers need; nothing
is read from globals. Routes live under ``/pbxcore/api/module-dialer/v1`` (tasks, polls, results feeds, audio);
the session login lives where MikoPBX has it (``/admin-cabinet/session/start``, ``/pbxcore/api/v3/auth:login``).
The typed v2 API is mounted at ``/api/v2`` (api/v2) when the context carries its services; its docs page is
``/api/docs``, and the web console on it is ``/console/`` (api/console).
"""

from __future__ import annotations

from fastapi import FastAPI

from autodialer.api.auth import install_auth
from autodialer.api.console import routes as console
from autodialer.api.console.csrf import CsrfMiddleware
from autodialer.api.context import AppContext
from autodialer.api.errors import install_error_handlers
from autodialer.api.routes import audio, health, polling, prompts, results, session, tasks
from autodialer.api.v2 import docs as v2_docs
from autodialer.api.v2.app import PREFIX as V2_PREFIX
from autodialer.api.v2.app import create_v2_app
from autodialer.api.v2.request_guard import BodyLimits

MODULE_PREFIX = "/pbxcore/api/module-dialer/v1"


def create_app(context: AppContext) -> FastAPI:
    app = FastAPI(title="autodialer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.context = context
    install_error_handlers(app)
    app.include_router(tasks.router, prefix=MODULE_PREFIX)
    app.include_router(polling.router, prefix=MODULE_PREFIX)
    app.include_router(results.router, prefix=MODULE_PREFIX)
    app.include_router(audio.router, prefix=MODULE_PREFIX)
    app.include_router(session.router)
    app.include_router(prompts.router)
    app.include_router(health.router)
    if context.campaigns is not None:
        settings = context.settings
        audio_bytes = settings.audio_max_bytes + 64 * 1024  # the multipart framing around the file
        limits = BodyLimits(settings.max_json_body_bytes, settings.max_task_body_bytes, audio_bytes)
        v2 = create_v2_app(
            context.campaigns,
            context.idempotency,
            limits,
            context.polls,
            context.dnc,
            live=context.live,
            heartbeat_s=context.sse_heartbeat_s,
            stream_lifetime_s=context.sse_lifetime_s,
            export_page=context.export_page_rows,
        )
        app.mount(V2_PREFIX, v2)
        app.include_router(v2_docs.router)
        app.include_router(console.router)  # the console works on v2 only
    app.add_middleware(CsrfMiddleware, secret=context.settings.jwt_secret)  # inside the gate: sees its principal
    install_auth(
        app, context, extra_public_paths=console.PUBLIC_PATHS if context.campaigns is not None else frozenset()
    )
    return app
