"""Rendered prompts for the call flow: ``await renderer.render(text, lang, params) -> Path`` to an 8 kHz mono wav.

- ``<key>`` placeholders are replaced by the number's params with a plain string replace, key by key, as MikoPBX's
  gen-update-media-file.php does; placeholders left without a value are dropped, as its strip_tags() did, so the
  engine never reads out "<sum>". This applies to any text (question and playback texts alike).
- The cache key is SHA-256 over engine name, engine version, voice, output format and the final text, so a change
  to any of them renders anew and identical prompts are rendered once, whatever task or number asks.
- A render writes temporary files in the cache folder and ``os.replace``s the result into place: concurrent renders
  of one prompt (in this process they share one render; across processes the last rename wins with identical
  content) never expose a half-written file. A cache hit refreshes the file's mtime, so ``prune`` drops prompts
  not used for a while (per-number texts accumulate; MikoPBX deleted them after a day).
- Asterisk's Playback/Background want the path without extension: ``playback_name`` gives that form.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import uuid
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from autodialer.adapters.audio.process import CommandRunner, CommandTimedOut, SubprocessRunner
from autodialer.adapters.tts.engine import SpeechEngine, SpeechEngineFailed
from autodialer.adapters.tts.espeak import EspeakEngine
from autodialer.adapters.tts.voices import voice_for_lang
from autodialer.settings import Settings

OUTPUT_FORMAT = "wav-8000-mono-s16"
_LEFTOVER_TAG = re.compile(r"<[^<>]*>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def substitute_params(text: str, params: Mapping[str, Any] | None) -> str:
    """The text to speak: each ``<key>`` replaced by its value, leftover ``<…>`` tags and control characters removed."""
    for key, value in (params or {}).items():
        text = text.replace(f"<{key}>", "" if value is None else str(value))
    text = _CONTROL.sub(" ", text)
    while (stripped := _LEFTOVER_TAG.sub("", text)) != text:  # "<a<b>>" leaves "<a>" after one pass
        text = stripped
    return text


class PromptRenderer:
    def __init__(
        self,
        engine: SpeechEngine,
        cache_dir: Path,
        default_lang: str,
        runner: CommandRunner | None = None,
        sox: str = "sox",
    ) -> None:
        self._engine = engine
        self._dir = cache_dir
        self._default_lang = default_lang
        self._runner = runner or SubprocessRunner()
        self._sox = sox
        self._inflight: dict[str, asyncio.Future[Path]] = {}

    async def voices(self) -> Collection[str]:
        return await self._engine.voices()

    async def voice_for(self, lang: str | None) -> str:
        return voice_for_lang(lang, await self._engine.voices(), self._default_lang)

    async def render(
        self, text: str, lang: str | None, params: Mapping[str, Any] | None = None, voice: str | None = None
    ) -> Path:
        """Path of the wav speaking ``text`` (params substituted) in ``voice``, else the voice for ``lang``.

        Raises ValueError if nothing is left to say, SpeechEngineFailed if the engine or the conversion fails.
        """
        spoken = substitute_params(text, params).strip()
        if not spoken:
            raise ValueError("text: nothing to say after params substitution")
        voice = voice or await self.voice_for(lang)
        identity = [self._engine.name, await self._engine.version(), voice, OUTPUT_FORMAT, spoken]
        key = hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode()).hexdigest()
        path = self._dir / f"{key}.wav"
        if path.is_file():
            os.utime(path)
            return path
        inflight = self._inflight.get(key)
        if inflight is None:
            inflight = asyncio.ensure_future(self._produce(spoken, voice, path))
            self._inflight[key] = inflight
            inflight.add_done_callback(lambda _done: self._inflight.pop(key, None))
        return await asyncio.shield(inflight)

    async def playback_name(self, text: str, lang: str | None, params: Mapping[str, Any] | None = None) -> str:
        """``render``'s path without ``.wav``, as Asterisk's Playback/Background/STREAM FILE take it."""
        return str((await self.render(text, lang, params)).with_suffix(""))

    async def _produce(self, spoken: str, voice: str, path: Path) -> Path:
        self._dir.mkdir(parents=True, exist_ok=True)
        temp = f".{path.stem}.{uuid.uuid4().hex}"
        raw, converted = self._dir / f"{temp}.raw.wav", self._dir / f"{temp}.wav"
        try:
            await self._engine.synthesize(spoken, voice, raw)
            argv = [self._sox, "-t", "wav", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                    "-t", "wav", str(converted)]  # fmt: skip
            try:
                result = await self._runner.run(argv, timeout_s=60)
            except CommandTimedOut as e:
                raise SpeechEngineFailed("sox timed out converting a prompt") from e
            if result.returncode != 0:
                raise SpeechEngineFailed(f"sox failed: {result.stderr[-300:].decode(errors='replace')}")
            converted.chmod(0o644)  # Asterisk runs as another user
            os.replace(converted, path)
        finally:
            raw.unlink(missing_ok=True)
            converted.unlink(missing_ok=True)
        return path

    def prune(self, max_age_s: float, now: float) -> int:
        """Delete cached prompts not used for ``max_age_s``; returns how many. Safe while renders run."""
        removed = 0
        for path in self._dir.glob("*.wav"):
            if path.name.startswith("."):  # a render in progress
                continue
            try:
                if now - path.stat().st_mtime > max_age_s:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


def build_prompt_renderer(settings: Settings, runner: CommandRunner | None = None) -> PromptRenderer:
    """The renderer the settings describe (``tts_engine``, ``tts_cache_dir``, ``tts_default_lang``)."""
    engine = EspeakEngine(runner)
    return PromptRenderer(engine, settings.tts_cache_dir, settings.tts_default_lang, runner)
