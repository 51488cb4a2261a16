"""The text-to-speech engine interface the prompt cache renders with (espeak-ng today; a cloud engine may follow).

An engine turns plain text in a named voice into a wav file of its own sample rate; the cache converts that to what
Asterisk plays. ``version()`` is part of every cache key, so upgrading the engine or its data re-renders prompts.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Protocol


class SpeechEngineFailed(Exception):
    error_id = "tts-failed"


class SpeechEngine(Protocol):
    @property
    def name(self) -> str: ...

    async def version(self) -> str: ...

    async def voices(self) -> Collection[str]:
        """Voice names ``synthesize`` accepts, lower-case (``ru``, ``en-us`` …)."""
        ...

    async def synthesize(self, text: str, voice: str, out: Path) -> None:
        """Write ``text`` spoken in ``voice`` to the wav file ``out``; raises SpeechEngineFailed."""
        ...
