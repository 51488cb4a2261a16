"""Which prompt files are ours: the only files a poll may make Asterisk play.

A file prompt names an upload either by the path POST /audio returned (``<audio_dir>/<32 hex>.<ext>``, any
extension: MikoPBX returned the uploaded one) or by the name it was uploaded under (``1.mp3``). Either way what
plays is the stored 8 kHz wav, and only if it lies directly in the audio store and exists. Any other path (``/etc/
passwd``, ``../x``, a MikoPBX path from another machine) is not ours, whatever the file system holds there.

Used twice: POST /polling refuses a question that could never play (a file not ours and no text to fall back on),
and at call time the poll prompt renderer plays only what this finds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class AudioNames(Protocol):
    async def audio_by_name(self, name: str) -> object | None: ...


class StoredPromptFiles:
    def __init__(self, audio_dir: Path, records: AudioNames) -> None:
        self._audio_dir = audio_dir.resolve()
        self._records = records

    @property
    def directory(self) -> Path:
        return self._audio_dir

    async def locate(self, file: str) -> Path | None:
        """The stored wav ``file`` names, or None when it names nothing in the store."""
        if not file or "\x00" in file:
            return None
        candidate = Path(file)
        if candidate.is_absolute():
            wav = self._in_store(candidate.with_suffix(".wav"))
            if wav is not None:
                return wav
        record = await self._records.audio_by_name(file)
        stored_name = getattr(record, "stored_name", None)
        if isinstance(stored_name, str):
            return self._in_store(self._audio_dir / f"{stored_name}.wav")
        return None

    def _in_store(self, wav: Path) -> Path | None:
        resolved = wav.resolve()
        return resolved if resolved.parent == self._audio_dir and resolved.is_file() else None
