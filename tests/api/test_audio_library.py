"""The audio library service with fake ports: name cleaning, size checks, and what a failed upload leaves behind."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from typing import BinaryIO

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodialer.services.audio_library import (
    AudioInUse,
    AudioLibrary,
    AudioMissing,
    AudioNameInvalid,
    AudioRecord,
    AudioTooLarge,
    AudioUnknown,
    PreparedAudio,
    clean_upload_name,
)


class FakeFiles:
    def __init__(self) -> None:
        self.prepared: list[bytes] = []
        self.installed: dict[str, str] = {}
        self.discarded: list[str] = []
        self.removed: list[str] = []
        self._n = 0

    async def prepare(self, source: BinaryIO) -> PreparedAudio:
        self.prepared.append(source.read())
        self._n += 1
        return PreparedAudio(f"{self._n:032x}", "mp3", 1.0)

    async def install(self, prepared: PreparedAudio, stored_name: str) -> None:
        self.installed[stored_name] = prepared.staging_id

    async def discard(self, prepared: PreparedAudio) -> None:
        self.discarded.append(prepared.staging_id)

    async def remove(self, stored_name: str) -> None:
        self.removed.append(stored_name)

    def new_stored_name(self) -> str:
        return f"{self._n + 100:032x}"

    def playback_path(self, stored_name: str) -> str:
        return f"/store/{stored_name}.wav"


class FakeRecords:
    def __init__(self, fail_save: bool = False) -> None:
        self.rows: dict[str, AudioRecord] = {}
        self.fail_save = fail_save

    async def audio_by_name(self, name: str) -> AudioRecord | None:
        return self.rows.get(name)

    async def save_audio(
        self, name: str, stored_name: str, original_ext: str, content_type: str, duration_s: float, now: float
    ) -> AudioRecord:
        if self.fail_save:
            raise RuntimeError("database down")
        old = self.rows.get(name)
        row = AudioRecord(old.id if old else len(self.rows) + 1, name, stored_name, original_ext, content_type, 1.0)
        self.rows[name] = row
        return row

    async def audio_by_id(self, audio_id: int) -> AudioRecord | None:
        return next((r for r in self.rows.values() if r.id == audio_id), None)

    async def audio_list(self) -> Sequence[AudioRecord]:
        return sorted(self.rows.values(), key=lambda r: r.id)

    async def delete_audio(self, name: str) -> AudioRecord | None:
        return self.rows.pop(name, None)


def library(records: FakeRecords, files: FakeFiles, max_bytes: int = 100) -> AudioLibrary:
    return AudioLibrary(records, files, max_bytes, lambda: 1.0)


async def test_reupload_keeps_the_stored_name() -> None:
    records, files = FakeRecords(), FakeFiles()
    first = await library(records, files).upload("a.mp3", io.BytesIO(b"one"))
    second = await library(records, files).upload("a.mp3", io.BytesIO(b"two"))
    assert first.path == second.path and first.id == second.id
    assert files.prepared == [b"one", b"two"]


async def test_size_is_checked_before_any_tool_runs() -> None:
    files = FakeFiles()
    with pytest.raises(AudioTooLarge):
        await library(FakeRecords(), files, max_bytes=10).upload("a.mp3", io.BytesIO(b"x" * 11))
    with pytest.raises(AudioMissing):
        await library(FakeRecords(), files).upload("a.mp3", io.BytesIO(b""))
    with pytest.raises(AudioNameInvalid):
        await library(FakeRecords(), files).upload("../..", io.BytesIO(b"x"))
    assert files.prepared == []


async def test_a_failed_save_discards_the_prepared_files() -> None:
    files = FakeFiles()
    with pytest.raises(RuntimeError):
        await library(FakeRecords(fail_save=True), files).upload("a.mp3", io.BytesIO(b"x"))
    assert len(files.discarded) == 1


async def test_delete_touches_only_the_row_it_finds() -> None:
    records, files = FakeRecords(), FakeFiles()
    lib = library(records, files)
    stored = await lib.upload("a.mp3", io.BytesIO(b"x"))
    assert not await lib.delete("../a.mp3")
    assert not await lib.delete("a.mp3\x00")
    assert files.removed == []
    assert await lib.delete("a.mp3")
    assert [f"/store/{n}.wav" for n in files.removed] == [stored.path]


@given(st.text(max_size=300))
def test_clean_names_have_no_path_or_control_characters(raw: str) -> None:
    try:
        name = clean_upload_name(raw)
    except AudioNameInvalid:
        return
    assert "/" not in name and "\\" not in name
    assert name not in ("", ".", "..") and len(name) <= 255
    assert all(unicodedata.category(ch)[0] != "C" for ch in name)  # no NUL, CR, LF or other control/format chars


def test_clean_name_examples() -> None:
    assert clean_upload_name("C:\\Users\\x\\1.mp3") == "1.mp3"
    assert clean_upload_name("../../etc/passwd") == "passwd"
    assert clean_upload_name("a\r\nb.mp3") == "ab.mp3"
    assert clean_upload_name("$(rm -rf ~).mp3") == "$(rm -rf ~).mp3"


class FakeUsers:
    def __init__(self, uses: dict[str, list[tuple[int, str]]]) -> None:
        self.uses = uses

    async def polls_using(self, name: str, stored_name: str) -> Sequence[tuple[int, str]]:
        return self.uses.get(name, [])


async def test_delete_unused_refuses_a_prompt_a_poll_plays_naming_the_poll() -> None:
    records, files = FakeRecords(), FakeFiles()
    users = FakeUsers({"hello.wav": [(7, "Survey")]})
    lib = AudioLibrary(records, files, 100, lambda: 1.0, users)
    used = await lib.upload("hello.wav", io.BytesIO(b"one"))
    free = await lib.upload("bye.wav", io.BytesIO(b"two"))
    with pytest.raises(AudioInUse, match=r"7 \('Survey'\)") as refused:
        await lib.delete_unused(used.id)
    assert refused.value.polls == ((7, "Survey"),)
    assert "hello.wav" in records.rows and files.removed == []
    await lib.delete_unused(free.id)
    assert "bye.wav" not in records.rows and len(files.removed) == 1
    with pytest.raises(AudioUnknown):
        await lib.delete_unused(free.id)
