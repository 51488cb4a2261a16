"""Turns a poll prompt (a text to speak or a stored file) into what Asterisk's STREAM FILE can play.

Delivery (settings.prompt_delivery): ``files`` hands Asterisk an absolute path without extension, for a PBX on the
same host or sharing the data directory by a mount at the same path; ``http`` hands it a URL under
settings.prompt_http_base_url, which Asterisk fetches through res_http_media_cache (served by api/routes/prompts.py).

A file prompt is accepted only when it is one of ours (audio.prompt_files: a path inside the audio store or the name
of an upload). Anything else is PromptUnavailable, so a poll can never make Asterisk read an arbitrary file. A
question whose file is not one of ours but that also has a text speaks the text instead (MikoPBX: "if that file
exists it is used; otherwise questionText is synthesized").
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal, Protocol

from autodialer.adapters.audio.prompt_files import AudioNames, StoredPromptFiles
from autodialer.domain import poll_flow
from autodialer.services.poll_call import PromptUnavailable

log = logging.getLogger(__name__)


class _SpeechRenderer(Protocol):
    async def render(self, text: str, lang: str | None, params: None = None) -> Path: ...


class PollPromptRenderer:
    def __init__(
        self,
        speech: _SpeechRenderer,
        audio_records: AudioNames,
        audio_dir: Path,
        tts_dir: Path,
        delivery: Literal["files", "http"] = "files",
        http_base_url: str = "",
    ) -> None:
        self._speech = speech
        self._files = StoredPromptFiles(audio_dir, audio_records)
        self._tts_dir = tts_dir.resolve()
        self._delivery = delivery
        self._http_base = http_base_url.rstrip("/")

    async def render(self, prompt: poll_flow.Prompt) -> str:
        if prompt.text is not None:
            try:
                wav = await self._speech.render(prompt.text, prompt.lang)
            except Exception as e:  # the TTS adapter's failures are many (engine, sox, disk); all mean the same here
                raise PromptUnavailable(f"speech for {prompt.text[:60]!r} could not be rendered: {e}") from e
            return self._deliver(wav.resolve())
        if prompt.file:
            try:
                return self._deliver(await self._stored_file(prompt.file))
            except PromptUnavailable:
                if not prompt.fallback_text:
                    raise
                log.warning("poll: %r is not an uploaded audio file, speaking the question text", prompt.file[:120])
            return await self.render(poll_flow.Prompt(lang=prompt.lang, text=prompt.fallback_text))
        raise PromptUnavailable("the prompt has neither text nor file")

    async def _stored_file(self, file: str) -> Path:
        wav = await self._files.locate(file)
        if wav is None:
            raise PromptUnavailable(f"{file[:120]!r} is not an uploaded audio file")
        return wav

    def _deliver(self, wav: Path) -> str:
        if self._delivery == "http":
            kind = "tts" if wav.parent == self._tts_dir else "audio"
            return f"{self._http_base}/autodialer/prompts/{kind}/{wav.name}"
        return str(wav.with_suffix(""))
