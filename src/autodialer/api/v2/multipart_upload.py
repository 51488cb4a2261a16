"""Reading an uploaded file's multipart body under a size limit, for v1's POST /audio and v2's (each answers the
refusals in its own wire format).

The limit is the file's plus room for the multipart framing. A body is refused as soon as its Content-Length says
it is too large, or, without one, as soon as the bytes received pass the limit: the rest is never read or parsed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

from fastapi import Request
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException, MultiPartParser

MULTIPART_OVERHEAD = 64 * 1024


class UploadTooLarge(Exception):
    pass


class NotMultipart(Exception):
    pass


class MalformedMultipart(Exception):
    """The body is not valid multipart/form-data; the message is the parser's."""


async def read_upload_form(request: Request, max_file_bytes: int, *, max_files: int, max_fields: int) -> FormData:
    """The parsed form (the caller closes it), or UploadTooLarge, NotMultipart or MalformedMultipart."""
    limit = max_file_bytes + MULTIPART_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise NotMultipart
    parser = MultiPartParser(
        request.headers, _limited(request.stream(), limit), max_files=max_files, max_fields=max_fields
    )
    try:
        return await parser.parse()
    except MultiPartException as e:
        raise MalformedMultipart(e.message) from e


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in stream:
        received += len(chunk)
        if received > limit:
            raise UploadTooLarge
        yield chunk
