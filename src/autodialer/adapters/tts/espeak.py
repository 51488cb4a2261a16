"""espeak-ng, the offline default engine: text on stdin (never an argument, so no text is read as an option),
``-w`` to a wav (22050 Hz mono 16-bit). The voice list and version are read once per process."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from autodialer.adapters.audio.process import CommandRunner, CommandTimedOut, SubprocessRunner
from autodialer.adapters.tts.engine import SpeechEngineFailed


class EspeakEngine:
    name = "espeak-ng"

    def __init__(self, runner: CommandRunner | None = None, binary: str = "espeak-ng", timeout_s: float = 60) -> None:
        self._runner = runner or SubprocessRunner()
        self._binary = binary
        self._timeout_s = timeout_s
        self._version: str | None = None
        self._voices: frozenset[str] | None = None

    async def version(self) -> str:
        if self._version is None:
            result = await self._runner.run([self._binary, "--version"], timeout_s=self._timeout_s)
            # "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/…": the data path is not part of the version.
            self._version = result.stdout.decode(errors="replace").split("Data at:")[0].strip()
        return self._version

    async def voices(self) -> Collection[str]:
        if self._voices is None:
            result = await self._runner.run([self._binary, "--voices"], timeout_s=self._timeout_s)
            lines = result.stdout.decode(errors="replace").splitlines()[1:]  # skip the header row
            self._voices = frozenset(line.split()[1].lower() for line in lines if len(line.split()) > 1)
        return self._voices

    async def synthesize(self, text: str, voice: str, out: Path) -> None:
        argv = [self._binary, "-b", "1", "-v", voice, "-w", str(out), "--stdin"]
        try:
            result = await self._runner.run(argv, stdin=text.encode("utf-8"), timeout_s=self._timeout_s)
        except CommandTimedOut as e:
            raise SpeechEngineFailed(f"espeak-ng timed out for voice {voice}") from e
        if result.returncode != 0 or not out.is_file():
            stderr = result.stderr[-300:].decode(errors="replace")
            raise SpeechEngineFailed(f"espeak-ng failed for voice {voice}: {stderr}")
