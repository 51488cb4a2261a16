"""The prompt library behind POST/GET/DELETE /audio: uploads recognised by content, converted for Asterisk.

Invariants:
- The uploaded file name (basename, control characters removed) is the identity, as in MikoPBX; re-uploading a name
  replaces its files in place and keeps its stored name and path. The name is only ever a database value: files are
  stored under a generated hex name, so no request string becomes part of a path, and DELETE looks the name up in
  the database and removes only the files of the row it finds.
- A file is accepted only if the files port recognises it as audio by its content and converts it; nothing of a
  refused upload is kept. Size is checked before any tool runs.
- The returned path is the 8 kHz mono 16-bit wav, which always exists (MikoPBX returns the path with the uploaded
  extension, which for non-wav/mp3 uploads no longer exists after conversion: its bug B12).
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol

MAX_NAME_LENGTH = 255


class AudioError(Exception):
    """A refused upload; ``error_id`` is stable, the message names the field and the rule."""

    error_id = "audio-error"


class AudioMissing(AudioError):
    error_id = "audio-missing"


class AudioNameInvalid(AudioError):
    error_id = "audio-name-invalid"


class AudioTooLarge(AudioError):
    error_id = "audio-too-large"


class AudioNotRecognised(AudioError):
    error_id = "audio-not-recognised"


class AudioConversionFailed(AudioError):
    error_id = "audio-conversion-failed"


class AudioUnknown(AudioError):
    error_id = "audio-not-found"


class AudioInUse(AudioError):
    """A prompt a poll plays is not deleted; ``polls`` names them (id, name)."""

    error_id = "audio-in-use"

    def __init__(self, message: str, polls: Sequence[tuple[int, str]]) -> None:
        super().__init__(message)
        self.polls = tuple(polls)


class AudioTooLong(AudioError):
    """Longer than the limit once decoded, whatever its header said (a header can lie)."""

    error_id = "audio-too-long"


@dataclass(frozen=True, slots=True)
class PreparedAudio:
    """Converted files waiting in the store's staging area until installed or discarded."""

    staging_id: str
    format_name: str
    duration_s: float


class AudioFiles(Protocol):
    async def prepare(self, source: BinaryIO) -> PreparedAudio:
        """Copy ``source`` to staging, recognise it by content and convert it.

        Raises AudioNotRecognised or AudioConversionFailed (staging already cleaned up then)."""
        ...

    async def install(self, prepared: PreparedAudio, stored_name: str) -> None:
        """Atomically replace the files of ``stored_name`` with the prepared ones."""
        ...

    async def discard(self, prepared: PreparedAudio) -> None: ...

    async def remove(self, stored_name: str) -> None:
        """Delete the files of ``stored_name``; missing files are fine."""
        ...

    def new_stored_name(self) -> str: ...

    def playback_path(self, stored_name: str) -> str:
        """Absolute path of the 8 kHz mono wav."""
        ...


@dataclass(frozen=True, slots=True)
class AudioRecord:
    id: int
    name: str
    stored_name: str
    original_ext: str
    content_type: str | None
    duration_s: float | None


class AudioRecords(Protocol):
    async def audio_by_name(self, name: str) -> AudioRecord | None: ...

    async def save_audio(
        self, name: str, stored_name: str, original_ext: str, content_type: str, duration_s: float, now: float
    ) -> AudioRecord:
        """Insert, or update the row with this name (its stored_name becomes ``stored_name``)."""
        ...

    async def audio_by_id(self, audio_id: int) -> AudioRecord | None: ...

    async def audio_list(self) -> Sequence[AudioRecord]:
        """Every row, by id."""
        ...

    async def delete_audio(self, name: str) -> AudioRecord | None:
        """Delete and return the row with this name, if any."""
        ...


class PromptUsers(Protocol):
    async def polls_using(self, name: str, stored_name: str) -> Sequence[tuple[int, str]]:
        """(id, name) of the polls whose current version plays this prompt, by its name or a path to its files."""
        ...


@dataclass(frozen=True, slots=True)
class StoredAudio:
    id: int
    name: str
    path: str


def clean_upload_name(raw: str) -> str:
    """The identity of an upload: its basename (``/`` and ``\\`` both separate), without control characters.

    Raises AudioNameInvalid for a name that is empty, ``.``/``..`` or longer than 255 characters after cleaning.
    """
    base = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    if name in ("", ".", "..") or len(name) > MAX_NAME_LENGTH:
        raise AudioNameInvalid(f"file: the file name {raw[:80]!r} is empty or invalid (at most 255 characters)")
    return name


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower()[:16] if dot and stem else ""


class AudioLibrary:
    def __init__(
        self,
        records: AudioRecords,
        files: AudioFiles,
        max_bytes: int,
        now: Callable[[], float],
        users: PromptUsers | None = None,
    ) -> None:
        self._records = records
        self._users = users
        self._files = files
        self._max_bytes = max_bytes
        self._now = now
        self._name_locks: dict[str, asyncio.Lock] = {}

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    async def upload(self, filename: str, source: BinaryIO) -> StoredAudio:
        """Store an uploaded prompt under its cleaned name and return where Asterisk can play it."""
        name = clean_upload_name(filename)
        source.seek(0, 2)
        size = source.tell()
        source.seek(0)
        if size == 0:
            raise AudioMissing("error upload file: file is empty")
        if size > self._max_bytes:
            raise AudioTooLarge(f"file: {size} bytes is larger than the limit of {self._max_bytes} bytes")
        prepared = await self._files.prepare(source)
        # One upload per name at a time in this process, so two of them cannot leave a file set orphaned.
        # (One small lock per distinct name ever uploaded: bounded by the library's size.)
        lock = self._name_locks.setdefault(name, asyncio.Lock())
        try:
            async with lock:
                existing = await self._records.audio_by_name(name)
                stored_name = existing.stored_name if existing else self._files.new_stored_name()
                await self._files.install(prepared, stored_name)
                record = await self._records.save_audio(
                    name, stored_name, _extension(name), prepared.format_name, prepared.duration_s, self._now()
                )
        except BaseException:
            await self._files.discard(prepared)
            raise
        return StoredAudio(record.id, record.name, self._files.playback_path(record.stored_name))

    async def list(self) -> list[StoredAudio]:
        return [
            StoredAudio(r.id, r.name, self._files.playback_path(r.stored_name))
            for r in await self._records.audio_list()
        ]

    async def delete(self, name: str) -> bool:
        """Delete the prompt called exactly ``name``; False (and nothing touched) when there is none."""
        if len(name) > MAX_NAME_LENGTH or any(unicodedata.category(ch)[0] == "C" for ch in name):
            return False  # no stored name looks like this (and PostgreSQL refuses NUL in a parameter)
        record = await self._records.delete_audio(name)
        if record is None:
            return False
        await self._files.remove(record.stored_name)
        return True

    async def record(self, audio_id: int) -> AudioRecord:
        """The prompt with this id; AudioUnknown when there is none."""
        record = await self._records.audio_by_id(audio_id)
        if record is None:
            raise AudioUnknown(f"audio_id: no audio prompt {audio_id}")
        return record

    async def records(self) -> Sequence[AudioRecord]:
        return await self._records.audio_list()

    def playback_path(self, record: AudioRecord) -> str:
        """The 8 kHz mono wav of ``record`` (what Asterisk plays, and what a browser can play)."""
        return self._files.playback_path(record.stored_name)

    async def delete_unused(self, audio_id: int) -> AudioRecord:
        """Delete the prompt unless a poll plays it (AudioInUse naming the polls; the v1 DELETE does not ask).

        The check and the delete are two statements: a poll saved between them may name a prompt that is gone; it
        then speaks its text or fails its call as any poll whose prompt was deleted through v1 (poll_prompts)."""
        record = await self.record(audio_id)
        users = await self._users.polls_using(record.name, record.stored_name) if self._users else ()
        if users:
            named = ", ".join(f"{poll_id} ({name!r})" for poll_id, name in users[:10])
            raise AudioInUse(f"audio_id: the prompt {record.name!r} is played by poll(s) {named}", users)
        if await self._records.delete_audio(record.name) is not None:
            await self._files.remove(record.stored_name)
        return record
