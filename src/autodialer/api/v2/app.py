"""The v2 application, mounted at /api/v2 by api.app: typed routes on services only, OpenAPI 3.1 at
/api/v2/openapi.json, errors as problem+json (problems.py). The auth gate of the outer app runs before it, so v2 is
guarded exactly as v1 is. The docs page (/api/docs, docs.py) belongs to the outer app.
"""

from __future__ import annotations

from fastapi import FastAPI

from autodialer.api.v2 import campaign_routes, number_routes
from autodialer.api.v2.problems import install_problem_handlers
from autodialer.services.campaigns import CampaignService

PREFIX = "/api/v2"
DESCRIPTION = """Campaigns (v1 "tasks") and their numbers, typed. Errors are RFC 9457 problem details
(`application/problem+json`) naming each field at fault. Authentication as v1: local addresses are exempt, else
`Authorization: Bearer <JWT or API key>` or a session cookie."""


def create_v2_app(campaigns: CampaignService) -> FastAPI:
    app = FastAPI(
        title="autodialer API",
        version="2.0",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        servers=[{"url": PREFIX}],
    )
    app.state.campaigns = campaigns
    install_problem_handlers(app)
    app.include_router(campaign_routes.router)
    app.include_router(number_routes.router)
    return app
