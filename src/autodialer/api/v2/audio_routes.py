"""The audio prompt library (upload, list, play, delete) and the TTS preview.

Uploads go through the same AudioLibrary as v1's POST /audio: recognised by content (ffprobe), converted to 8 kHz
mono wav (ffmpeg), size-limited before any tool runs (settings.audio_max_bytes) and duration-limited once decoded.
The multipart body is counted while it is read and refused (413) as soon as it outgrows the limit. A prompt a poll
plays is not deleted (409 naming the polls). What plays (GET …/file, the preview) is the wav Asterisk plays.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile

from autodialer.api.v2.models import MAX_ID, FieldProblem
from autodialer.api.v2.multipart_upload import MalformedMultipart, NotMultipart, UploadTooLarge, read_upload_form
from autodialer.api.v2.poll_models import AudioList, AudioOut, Lang, VoiceList
from autodialer.api.v2.problems import PROBLEM_RESPONSE, problem
from autodialer.services.audio_library import AudioLibrary
from autodialer.services.polls import PollUseCases
from autodialer.services.tts_preview import MAX_PREVIEW_CHARS, TtsPreview

router = APIRouter(responses={k: PROBLEM_RESPONSE[k] for k in (401, 422)})
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: PROBLEM_RESPONSE[404]}
WAV: dict[int | str, dict[str, Any]] = {200: {"content": {"audio/wav": {}}, "description": "8 kHz mono wav"}}


def _use_cases(request: Request) -> PollUseCases:
    use_cases: PollUseCases = request.app.state.polls
    return use_cases


def audio_library(request: Request) -> AudioLibrary:
    return _use_cases(request).audio


def tts_preview(request: Request) -> TtsPreview:
    return _use_cases(request).tts


Library = Annotated[AudioLibrary, Depends(audio_library)]
Preview = Annotated[TtsPreview, Depends(tts_preview)]
AudioId = Annotated[int, Path(ge=1, le=MAX_ID, description="the prompt's id")]


def _file_problem(status: int, message: str, error_id: str) -> Response:
    return problem(status, f"file: {message}", error_id, [FieldProblem(field="file", message=message)])


@router.post(
    "/audio",
    status_code=201,
    tags=["audio"],
    summary="Upload a prompt (multipart/form-data, field `file`; its file name is the prompt's name)",
    response_model=AudioOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
    responses={413: {"description": "larger than the limit"}, 415: {"description": "not audio"}},
)
async def upload_audio(request: Request, library: Library) -> Response:
    try:
        form = await read_upload_form(request, library.max_bytes, max_files=1, max_fields=8)
    except UploadTooLarge:
        return _file_problem(413, f"must be at most {library.max_bytes} bytes", "audio-too-large")
    except NotMultipart:
        return _file_problem(415, "send multipart/form-data with the audio in the field `file`", "audio-missing")
    except MalformedMultipart as e:
        return _file_problem(422, f"malformed multipart body ({e})", "audio-missing")
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            return _file_problem(422, "missing: send the audio in the multipart field `file`", "audio-missing")
        stored = await library.upload(upload.filename or "", upload.file)
    finally:
        await form.close()
    record = await library.record(stored.id)
    return Response(
        AudioOut.of(record).model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers={"Location": f"/api/v2/audio/{record.id}"},
    )


@router.get("/audio", tags=["audio"], summary="List the prompts, by id", response_model=AudioList)
async def list_audio(library: Library) -> AudioList:
    return AudioList(items=[AudioOut.of(r) for r in await library.records()])


@router.get("/audio/{audio_id}", tags=["audio"], summary="Read a prompt", response_model=AudioOut, responses=NOT_FOUND)
async def get_audio(audio_id: AudioId, library: Library) -> AudioOut:
    return AudioOut.of(await library.record(audio_id))


@router.get(
    "/audio/{audio_id}/file",
    tags=["audio"],
    summary="The prompt as Asterisk plays it (8 kHz mono wav)",
    response_class=FileResponse,
    responses={**NOT_FOUND, **WAV},
)
async def play_audio(audio_id: AudioId, library: Library) -> FileResponse:
    record = await library.record(audio_id)
    return FileResponse(library.playback_path(record), media_type="audio/wav")


@router.delete(
    "/audio/{audio_id}",
    status_code=204,
    tags=["audio"],
    summary="Delete a prompt no poll plays (409 names the polls that do)",
    responses={**NOT_FOUND, 409: PROBLEM_RESPONSE[409]},
)
async def delete_audio(audio_id: AudioId, library: Library) -> Response:
    await library.delete_unused(audio_id)
    return Response(status_code=204)


@router.get("/tts/voices", tags=["tts"], summary="The speech engine's voices", response_model=VoiceList)
async def tts_voices(preview: Preview) -> VoiceList:
    return VoiceList(voices=await preview.voices())


@router.get(
    "/tts/preview",
    tags=["tts"],
    summary="A text spoken as a poll would speak it (cached; 8 kHz mono wav)",
    response_class=FileResponse,
    responses={**WAV, 503: {"description": "the speech engine failed"}},
)
async def tts_preview_audio(
    preview: Preview,
    request: Request,
    text: Annotated[str, Query(min_length=1, max_length=MAX_PREVIEW_CHARS, description="what to say")],
    lang: Annotated[Lang, Query(description="the language: chooses the voice as at call time")] = "ru-RU",
    voice: Annotated[str | None, Query(max_length=64, description="an engine voice (GET /tts/voices)")] = None,
) -> Response:
    wav: FilePath = await preview.preview(text, lang, voice or None)
    etag = f'"{wav.stem}"'  # the cache key: engine, version, voice and text
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return FileResponse(wav, media_type="audio/wav", headers=headers)
