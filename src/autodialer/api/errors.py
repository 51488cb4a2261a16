"""How refusals and framework errors look on the wire, in one place.

Handlers raise :class:`Refusal` for bad input (4xx, the envelope with ``messages: {"error": [...]}``, nothing
stored: the raise unwinds the transaction). Unknown routes and methods get MikoPBX's NotFoundMiddleware body; an
unexpected exception gets HTTP 500 with the envelope (``result: false``), never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from autodialer.api.envelope import JSON_MEDIA_TYPE, error_response
from autodialer.api.v2.problems import V2_PATHS, problem

log = logging.getLogger(__name__)


class Refusal(Exception):
    """Input we will not act on; each message names the field and the rule it breaks."""

    def __init__(self, errors: list[str], status_code: int = 400, data: Any = None) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors
        self.status_code = status_code
        self.data = data


def mikopbx_error_body(message: str) -> bytes:
    """The body Phalcon's REST middlewares send for 401/404: ``{"jsonapi", "errors", "meta"}``."""
    errors = [message]
    digest = hashlib.sha1(json.dumps(errors).encode(), usedforsecurity=False).hexdigest()
    payload = {
        "jsonapi": {"version": "1.0"},
        "errors": errors,
        "meta": {"timestamp": datetime.now().astimezone().isoformat(timespec="seconds"), "hash": digest},
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def install_error_handlers(app: FastAPI) -> None:
    async def refusal(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refusal)
        return error_response(exc.errors, exc.status_code, exc.data)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if request.url.path.startswith(V2_PATHS):  # a v2 path the v2 mount did not take (e.g. a newline in it)
            return problem(exc.status_code, str(exc.detail), "not-found" if exc.status_code == 404 else "http-error")
        if exc.status_code in (404, 405):
            return Response(mikopbx_error_body("404 (Not Found)"), status_code=404, media_type=JSON_MEDIA_TYPE)
        return error_response([str(exc.detail)], exc.status_code)

    async def crash(_request: Request, exc: Exception) -> Response:
        log.exception("unhandled error in an API handler", exc_info=exc)
        return error_response(["internal error"], 500)

    app.add_exception_handler(Refusal, refusal)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, crash)
