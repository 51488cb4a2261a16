"""POST/GET/DELETE ``/pbxcore/api/module-dialer/v1/audio``: the MikoPBX prompt upload routes.

The multipart body is read through a byte counter and refused with 413 as soon as it outgrows the limit (plus room
for the multipart framing), before it is parsed or stored; the first file part is taken whatever its field name.
Refusals keep the envelope with ``messages: {"error": [...]}`` and a 4xx status (one table, ``STATUS``).
GET answers a list of ``{"id","name","path"}`` (``id`` a string, like every database value the original serves);
``path`` is the wav rendition, which exists. DELETE answers ``result:true`` whether or not the name was known.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from autodialer.api.context import AppContext, get_context
from autodialer.api.envelope import envelope_response, error_response
from autodialer.api.mikopbx_v1.audio import audio_list
from autodialer.api.v2.multipart_upload import MalformedMultipart, NotMultipart, UploadTooLarge, read_upload_form
from autodialer.services.audio_library import (
    AudioConversionFailed,
    AudioError,
    AudioLibrary,
    AudioMissing,
    AudioNameInvalid,
    AudioNotRecognised,
    AudioTooLarge,
    AudioTooLong,
)

EMPTY_UPLOAD = "error upload file: file is empty"  # MikoPBX's own wording

STATUS: dict[type[AudioError], int] = {
    AudioMissing: 400,
    AudioNameInvalid: 400,
    AudioTooLarge: 413,
    AudioNotRecognised: 415,
    AudioConversionFailed: 422,
    AudioTooLong: 422,
}

router = APIRouter()  # mounted under /pbxcore/api/module-dialer/v1 by create_app


def get_audio_library(request: Request, context: Annotated[AppContext, Depends(get_context)]) -> AudioLibrary:
    """The library on ``app.state.audio_library`` (a test may put one there), else the context's: the one instance
    bootstrap builds for v1's /audio, the v2 API and the console."""
    library: AudioLibrary | None = getattr(request.app.state, "audio_library", None) or context.audio
    if library is None:
        raise RuntimeError("the context has no AudioLibrary (bootstrap.build_context builds one)")
    return library


LibraryDep = Annotated[AudioLibrary, Depends(get_audio_library)]


def _too_large(library: AudioLibrary) -> Response:
    return error_response([f"file: larger than the limit of {library.max_bytes} bytes"], 413)


@router.post("/audio")
async def upload_audio(request: Request, library: LibraryDep) -> Response:
    try:
        form = await read_upload_form(request, library.max_bytes, max_files=16, max_fields=64)
    except UploadTooLarge:
        return _too_large(library)
    except NotMultipart:
        return error_response([EMPTY_UPLOAD], 400)
    except MalformedMultipart as e:
        return error_response([f"file: malformed multipart body ({e})"], 400)
    try:
        upload = next((v for _, v in form.multi_items() if isinstance(v, UploadFile)), None)
        if upload is None:
            return error_response([EMPTY_UPLOAD], 400)
        stored = await library.upload(upload.filename or "", upload.file)
    except AudioError as e:
        return error_response([str(e)], STATUS.get(type(e), 400))
    finally:
        await form.close()
    return envelope_response(True, {"filename": stored.path})


@router.get("/audio")
async def list_audio(library: LibraryDep) -> Response:
    files = await library.list()
    return envelope_response(True, audio_list(files))


@router.delete("/audio/{name:path}")
async def delete_audio(name: str, library: LibraryDep) -> Response:
    await library.delete(name)
    return envelope_response(True)
