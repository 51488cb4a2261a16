"""The composition root: the one place that builds adapters, services and the HTTP app and wires them together.

Everything else receives what it needs as arguments; nothing reads settings or opens connections at import time.
"""

from __future__ import annotations

import asyncio
import logging
import time

import uvicorn

from autodialer.adapters.db.engine import create_engine, migrate
from autodialer.api.app import create_app
from autodialer.api.context import AppContext
from autodialer.settings import Settings

log = logging.getLogger(__name__)


async def run_migrations(settings: Settings) -> None:
    engine = create_engine(settings.effective_database_url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def run_service(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    """Migrate, then serve the REST API until cancelled."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.effective_database_url)
    await migrate(engine)
    context = AppContext(settings=settings, db=engine, now=time.time)
    app = create_app(context)
    config = uvicorn.Config(
        app, host=settings.http_host, port=settings.http_port, log_level="info", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    log.info("autodialer API on http://%s:%s", settings.http_host, settings.http_port)
    try:
        serve = asyncio.create_task(server.serve())
        while not server.started and not serve.done():
            await asyncio.sleep(0.05)
        if ready is not None:
            ready.set()
        await serve
    finally:
        await engine.dispose()
