"""Request bodies read under a size limit that is enforced while they arrive, never after.

Limits are settings, one per kind of body: ``max_json_body_bytes`` for JSON bodies (polls, PUT /task),
``max_task_body_bytes`` for POST /task (number lists, up to a million numbers) and ``audio_max_bytes`` for uploads
(routes/audio). A body over its limit is refused with 413 and the envelope, as soon as its Content-Length says so
or, without one (chunked), as soon as the bytes received pass the limit; the rest is never read.

A task body is not held in memory: it is spooled to a temporary file (in memory up to SPOOL_IN_MEMORY bytes) and
decoded from there with bounded memory (json_stream), so a 150 MB body costs megabytes, not hundreds of them.
"""

from __future__ import annotations

import tempfile
from typing import IO

from fastapi import Request

from autodialer.api.errors import Refusal

SPOOL_IN_MEMORY = 1 << 20


def too_large(limit: int, setting: str) -> Refusal:
    return Refusal([f"body: must be at most {limit} bytes (setting AUTODIALER_{setting.upper()})"], status_code=413)


def _refuse_declared(request: Request, limit: int, setting: str) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit, setting)


async def read_body(request: Request, limit: int, setting: str) -> bytearray:
    """The raw body, refused with 413 beyond ``limit`` bytes (``setting`` names the limit in the refusal)."""
    _refuse_declared(request, limit, setting)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large(limit, setting)
    return body


async def spool_body(request: Request, limit: int, setting: str) -> IO[bytes]:
    """The raw body in a temporary file (positioned at its start), refused with 413 beyond ``limit`` bytes."""
    _refuse_declared(request, limit, setting)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - the caller closes it
    try:
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise too_large(limit, setting)
            spool.write(chunk)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool
