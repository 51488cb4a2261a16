"""The MikoPBX PBXApiResult envelope and its exact JSON rendering.

Module endpoints answer ``{"result","data","messages","function","processor","pid"}`` in that key order, pretty-printed
like PHP's ``json_encode(JSON_PRETTY_PRINT|JSON_UNESCAPED_SLASHES)``: 4-space indent, non-ASCII as ``\\uXXXX``, ``/``
unescaped, an empty PHP array as ``[]``. HTTP status is 200 even when ``result`` is false, except where we refuse bad
input (4xx with the same envelope; 1C treats any non-200 as ``result:false``, so that stays compatible).
"""

from __future__ import annotations

import os
from typing import Any

from fastapi.responses import Response

from autodialer.api.fast_json import render_json_fast

JSON_MEDIA_TYPE = "application/json; charset=UTF-8"


def render_json(payload: Any) -> bytes:
    """PHP-compatible pretty JSON (see module docstring); same bytes as ``json.dumps(payload, indent=4)``."""
    return render_json_fast(payload)


def envelope(result: bool, data: Any = None, messages: Any = None) -> dict[str, Any]:
    return {
        "result": result,
        "data": [] if data is None else data,
        "messages": [] if messages is None else messages,
        "function": "",
        "processor": "",
        "pid": os.getpid(),
    }


def envelope_response(result: bool, data: Any = None, messages: Any = None, status_code: int = 200) -> Response:
    return Response(render_json(envelope(result, data, messages)), status_code=status_code, media_type=JSON_MEDIA_TYPE)


def error_response(errors: list[str], status_code: int = 400, data: Any = None) -> Response:
    """A refusal: ``result:false`` and ``messages: {"error": [...]}``, each message naming the field and the rule."""
    return envelope_response(False, data, {"error": errors}, status_code=status_code)


def not_found(kind: str, wanted: object) -> Response:
    """An unknown id: HTTP 200 and ``data: []`` as the original, with a message saying what was not found."""
    return envelope_response(False, None, {"error": [f"id: no {kind} {wanted} (never created, or deleted)"]})
