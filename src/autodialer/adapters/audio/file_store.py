"""The on-disk prompt store: ``<audio_dir>/<32 hex>.wav`` (8 kHz mono 16-bit PCM) and ``<32 hex>.mp3`` (16 kbps).

Implements ``services.audio_library.AudioFiles``. Invariants:
- Paths are built only from names this module generates (``new_stored_name``) and checked against ``^[0-9a-f]{32}$``
  before any file operation, so nothing from a request can address a file (no ``../``, absolute paths or NUL).
- Uploads are staged in ``<audio_dir>/.staging/<id>/`` on the same file system and moved in with ``os.replace``, so
  a reader (Asterisk) sees the old file or the new one, never half of one.
- Removal unlinks the store's own entries; a symlink planted there is removed, its target never followed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from autodialer.adapters.audio.conversion import AudioConverter
from autodialer.services.audio_library import AudioConversionFailed, AudioNotRecognised, AudioTooLong, PreparedAudio

STORED_NAME = re.compile(r"[0-9a-f]{32}")
EXTENSIONS = (".wav", ".mp3")


class AudioFileStore:
    def __init__(self, audio_dir: Path, converter: AudioConverter) -> None:
        self._dir = audio_dir.resolve()
        self._staging = self._dir / ".staging"
        self._converter = converter

    @property
    def directory(self) -> Path:
        return self._dir

    def new_stored_name(self) -> str:
        return uuid.uuid4().hex

    def playback_path(self, stored_name: str) -> str:
        return str(self._path(stored_name, ".wav"))

    def _path(self, stored_name: str, extension: str) -> Path:
        if not STORED_NAME.fullmatch(stored_name):
            raise ValueError(f"not a stored audio name: {stored_name!r}")
        return self._dir / f"{stored_name}{extension}"

    async def prepare(self, source: BinaryIO) -> PreparedAudio:
        staging_id = uuid.uuid4().hex
        folder = self._staging / staging_id
        try:
            await asyncio.to_thread(_copy_into, source, folder / "upload")
            probe = await self._converter.probe(folder / "upload")
            if probe is None:
                raise AudioNotRecognised("file: not a recognised audio format (the content is checked, not the name)")
            decoded = await self._converter.convert(folder / "upload", folder / "out.wav", folder / "out.mp3")
            if decoded is None:
                raise AudioConversionFailed("file: the audio could not be converted to 8 kHz mono wav")
            if decoded > self._converter.max_duration_s:
                raise AudioTooLong(
                    f"file: the audio lasts more than {self._converter.max_duration_s:g} s once decoded"
                    f" (its header says {probe.duration_s:g} s)"
                )
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, folder, True)
            raise
        return PreparedAudio(staging_id, probe.format_name, decoded)

    async def install(self, prepared: PreparedAudio, stored_name: str) -> None:
        folder = self._staging_folder(prepared)
        for extension in EXTENSIONS:
            staged = folder / f"out{extension}"
            staged.chmod(0o644)  # Asterisk runs as another user
            os.replace(staged, self._path(stored_name, extension))
        await asyncio.to_thread(shutil.rmtree, folder, True)

    async def discard(self, prepared: PreparedAudio) -> None:
        await asyncio.to_thread(shutil.rmtree, self._staging_folder(prepared), True)

    async def remove(self, stored_name: str) -> None:
        for extension in EXTENSIONS:
            self._path(stored_name, extension).unlink(missing_ok=True)

    def _staging_folder(self, prepared: PreparedAudio) -> Path:
        if not STORED_NAME.fullmatch(prepared.staging_id):
            raise ValueError(f"not a staging id: {prepared.staging_id!r}")
        return self._staging / prepared.staging_id


def _copy_into(source: BinaryIO, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    source.seek(0)
    with target.open("xb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
