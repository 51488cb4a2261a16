"""Recognising audio by content (ffprobe) and converting it for Asterisk (ffmpeg).

Safety: ffprobe and ffmpeg get argument lists (never a shell), ``file:`` paths we generated, only the ``file``
protocol and an allow-list of audio demuxers. The allow-list matters: ffmpeg would otherwise accept text formats
such as HLS or concat playlists that make it read other local files or fetch URLs. A file is audio when an allowed
demuxer claims it with a real probe score, it has an audio stream and a positive duration no longer than the limit.

Output: ``.wav`` 8 kHz mono signed 16-bit PCM with a plain header (what Asterisk's format_wav plays without
transcoding from slin) and ``.mp3`` 8 kHz mono 16 kbps (MikoPBX keeps one too; handy for download).
"""

from __future__ import annotations

import json
import logging
import wave
from dataclasses import dataclass
from pathlib import Path

from autodialer.adapters.audio.process import CommandRunner, CommandTimedOut, SubprocessRunner

log = logging.getLogger(__name__)

AUDIO_DEMUXERS = ("mp3", "wav", "w64", "ogg", "flac", "aiff", "au", "mov", "amr", "gsm", "matroska", "aac", "caf")
MIN_PROBE_SCORE = 25  # ffmpeg's own threshold for "probably this format" (AVPROBE_SCORE_MAX / 4)


@dataclass(frozen=True, slots=True)
class AudioProbe:
    format_name: str
    duration_s: float


class AudioConverter:
    def __init__(
        self,
        runner: CommandRunner | None = None,
        *,
        ffprobe: str = "ffprobe",
        ffmpeg: str = "ffmpeg",
        max_duration_s: float = 3600,
        timeout_s: float = 120,
    ) -> None:
        self._runner = runner or SubprocessRunner()
        self._ffprobe = ffprobe
        self._ffmpeg = ffmpeg
        self._max_duration_s = max_duration_s
        self._timeout_s = timeout_s

    def _input_options(self) -> list[str]:
        return ["-protocol_whitelist", "file", "-format_whitelist", ",".join(AUDIO_DEMUXERS)]

    async def probe(self, path: Path) -> AudioProbe | None:
        """What the file is by content, or None if it is not audio we accept."""
        argv = [
            self._ffprobe,
            "-v", "error",
            *self._input_options(),
            "-show_entries", "format=format_name,duration,probe_score:stream=codec_type",
            "-of", "json",
            f"file:{path.resolve()}",
        ]  # fmt: skip
        try:
            result = await self._runner.run(argv, timeout_s=self._timeout_s)
        except CommandTimedOut:
            return None
        if result.returncode != 0:
            return None
        try:
            info = json.loads(result.stdout or b"{}")
            fmt = info.get("format") or {}
            streams = info.get("streams") or []
            score = int(fmt.get("probe_score", 0))
            duration = float(fmt.get("duration", 0))
        except (ValueError, TypeError, AttributeError):
            return None
        has_audio = any(isinstance(s, dict) and s.get("codec_type") == "audio" for s in streams)
        if score < MIN_PROBE_SCORE or not has_audio or not 0 < duration <= self._max_duration_s:
            return None
        return AudioProbe(str(fmt.get("format_name", ""))[:64], duration)

    @property
    def max_duration_s(self) -> float:
        return self._max_duration_s

    async def convert(self, source: Path, wav: Path, mp3: Path) -> float | None:
        """Write the wav and mp3 renditions of ``source``'s first audio stream; their decoded duration in seconds,
        or None if ffmpeg fails.

        The header's duration (checked by :meth:`probe`) can lie: a 3-hour FLAC may declare one second. So ffmpeg
        stops writing each output a little past the limit (``-t``), which bounds its time and disk, and the
        duration returned is the wav's, measured: more than ``max_duration_s`` means the audio is too long."""
        limit = f"{self._max_duration_s + 0.5:g}"
        common = ["-map", "0:a:0", "-t", limit, "-ac", "1", "-ar", "8000", "-map_metadata", "-1", "-bitexact"]
        argv = [
            self._ffmpeg,
            "-nostdin", "-v", "error", "-y",
            *self._input_options(),
            "-i", f"file:{source.resolve()}",
            *common, "-c:a", "pcm_s16le", "-f", "wav", f"file:{wav.resolve()}",
            *common, "-c:a", "libmp3lame", "-b:a", "16k", "-f", "mp3", f"file:{mp3.resolve()}",
        ]  # fmt: skip
        try:
            result = await self._runner.run(argv, timeout_s=self._timeout_s)
        except CommandTimedOut:
            log.warning("ffmpeg timed out converting %s", source)
            return False
        duration = wav_duration_s(wav) if result.returncode == 0 else None
        if not duration:
            log.warning("ffmpeg could not convert %s: %s", source, result.stderr[-500:].decode(errors="replace"))
            return None
        return duration


def wav_duration_s(path: Path) -> float | None:
    """The duration of a PCM wav from its frames (None if it is not one, or empty)."""
    try:
        with wave.open(str(path), "rb") as audio:
            frames, rate = audio.getnframes(), audio.getframerate()
    except (OSError, EOFError, wave.Error):
        return None
    return frames / rate if frames and rate else None
