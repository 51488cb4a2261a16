"""GET /api/docs: a page that reads /api/v2/openapi.json and shows every operation, its parameters, body and
answers. The page ships in this package (docs.html, plain HTML and script, no CDN, nothing fetched but the spec)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()
_CSP = "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"


@router.get("/api/docs", include_in_schema=False)
async def docs_page() -> HTMLResponse:
    page = resources.files(__package__).joinpath("docs.html").read_text(encoding="utf-8")
    return HTMLResponse(page, headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-cache"})
