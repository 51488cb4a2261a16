"""The TTS preview: what a poll's text will sound like, spoken by the same engine, voice choice and cache as the call
flow uses (so a preview also warms the cache for the call).

Rules: the text is 1..500 characters once trimmed, without control characters; ``lang`` is a tag like ``ru-RU``
(the voice follows it as at call time); ``voice``, when given, must be one the engine has. Identical requests are
rendered once: the renderer's cache is keyed by engine, version, voice and text, and the file's name is that key,
which the edge uses as the ETag.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Protocol

from autodialer.domain.campaigns import CampaignError, InvalidField

MAX_PREVIEW_CHARS = 500
LANG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class SpeechUnavailable(CampaignError):
    """The engine (or the conversion after it) failed: the service's trouble, not the request's."""

    error_id = "tts-failed"


class SpeechPrompts(Protocol):
    async def voices(self) -> Collection[str]: ...

    async def render(self, text: str, lang: str | None, params: None = None, voice: str | None = None) -> Path:
        """The cached 8 kHz wav speaking ``text``; raises on engine failure."""
        ...


class TtsPreview:
    def __init__(self, speech: SpeechPrompts) -> None:
        self._speech = speech

    async def voices(self) -> list[str]:
        return sorted(await self._speech.voices())

    async def preview(self, text: str, lang: str = "ru-RU", voice: str | None = None) -> Path:
        spoken = text.strip()
        if not spoken:
            raise InvalidField("must have something to say", "text")
        if len(spoken) > MAX_PREVIEW_CHARS:
            raise InvalidField(f"must be at most {MAX_PREVIEW_CHARS} characters", "text")
        if _CONTROL.search(spoken):
            raise InvalidField("must not contain control characters", "text")
        if not LANG.fullmatch(lang):
            raise InvalidField("must be a language tag like ru-RU", "lang")
        if voice is not None and voice not in await self._speech.voices():
            raise InvalidField(f"must be one of the engine's voices (GET /tts/voices), got {voice[:40]!r}", "voice")
        try:
            return await self._speech.render(spoken, lang, None, voice)
        except ValueError as e:  # nothing left to say once tags are dropped
            raise InvalidField(str(e).removeprefix("text: "), "text") from e
        except Exception as e:  # the engine's failures are many (espeak-ng, sox, disk); all mean the same here
            raise SpeechUnavailable(f"the speech engine failed: {e}") from e
