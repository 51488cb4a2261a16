"""GET /autodialer/prompts/{kind}/{name}.wav: prompts for an Asterisk that fetches them over HTTP.

Used when settings.prompt_delivery is ``http`` (Asterisk plays the URL through res_http_media_cache). Only our own
generated file names are served (32–64 hex digits + ``.wav``) from the TTS cache or the audio store, so the route
cannot reach any other file. It sits behind the same auth gate as everything else: Asterisk's address must be
exempt (it is, on the same host) since the media cache sends no credentials.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse

from autodialer.api.context import AppContext, get_context

router = APIRouter()
_FILE = re.compile(r"[0-9a-f]{16,64}\.wav")


@router.get("/autodialer/prompts/{kind}/{name}")
async def get_prompt(kind: str, name: str, context: Annotated[AppContext, Depends(get_context)]) -> FileResponse:
    settings = context.settings
    base = {"tts": settings.tts_cache_dir, "audio": settings.audio_dir}.get(kind)
    if base is None or not _FILE.fullmatch(name):
        raise HTTPException(status_code=404)
    path = base / name
    if not path.is_file():
        raise HTTPException(status_code=404)
    return FileResponse(path, media_type="audio/wav")
