"""POST /polling refuses files that could never play, and keeps MikoPBX's questionFile → questionText fallback.

Only our uploads play (the path POST /audio returned, or the name a file was uploaded as). A question whose file is
not ours but that has a text is stored and speaks the text; a question with neither, or a playback action whose
file is not ours, is refused at POST, naming the field, with nothing stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.api.conftest import Api

from autodialer.adapters.db.audio_repository import SqlAudioRepository

STORED = "0123456789abcdef0123456789abcdef"
UPLOAD_RULE = "must be an audio file uploaded with POST /audio"


@pytest.fixture
async def uploaded(api: Api, tmp_path: Path) -> Path:
    """An upload as POST /audio leaves it: the wav in <data_dir>/audio and its row, named ``hello.mp3``."""
    audio = tmp_path / "audio"
    audio.mkdir(exist_ok=True)
    (audio / f"{STORED}.wav").write_bytes(b"RIFF....WAVE")
    await SqlAudioRepository(api.engine).save_audio("hello.mp3", STORED, "mp3", "mp3", 1.0, api.clock.now())
    return audio / f"{STORED}.mp3"  # the path with the uploaded extension, as MikoPBX answered


def poll(question: dict[str, Any]) -> dict[str, Any]:
    return {"crmId": "p", "name": "files", "questions": [{"questionId": "q", **question}]}


async def test_a_file_that_is_not_ours_without_a_text_is_refused(api: Api, uploaded: Path) -> None:
    for file in ("/etc/passwd", "passwd", str(uploaded.parent / ".." / "audio" / "x.wav"), "../hello.mp3"):
        status, payload = await api.post("/polling", poll({"questionFile": file}))
        assert status == 400, file
        assert payload["messages"]["error"][0].startswith(f"questions[0].questionFile: {UPLOAD_RULE}")
        assert "no questionText to speak instead" in payload["messages"]["error"][0]
    assert await api.rows("SELECT id FROM polls") == []


async def test_a_file_that_is_not_ours_with_a_text_falls_back_to_the_text(api: Api) -> None:
    status, payload = await api.post("/polling", poll({"questionFile": "/etc/passwd", "questionText": "Hello"}))
    assert (status, payload["result"]) == (200, True)


async def test_our_uploads_are_accepted_by_path_or_by_name(api: Api, uploaded: Path) -> None:
    for file in (str(uploaded), str(uploaded.with_suffix(".wav")), "hello.mp3"):
        status, payload = await api.post("/polling", poll({"questionFile": file}))
        assert (status, payload["result"]) == (200, True), file


async def test_a_playback_file_that_is_not_ours_is_refused(api: Api, uploaded: Path) -> None:
    def playback(value: str, **extra: str) -> dict[str, Any]:
        return poll({"questionText": "Q", "press": [{"key": "1", "action": "playback", "value": value, **extra}]})

    status, payload = await api.post("/polling", playback("/etc/passwd"))
    assert status == 400
    assert payload["messages"]["error"][0].startswith(f"questions[0].press[0].value: {UPLOAD_RULE}")
    status, _ = await api.post("/polling", playback("passwd", valueOptions="file"))
    assert status == 400
    assert await api.rows("SELECT id FROM polls") == []
    # Ours, or a text to speak (valueOptions text, or a value that does not look like a file): accepted.
    for body in (playback(str(uploaded)), playback("hello.mp3"), playback("/etc/passwd", valueOptions="text")):
        status, payload = await api.post("/polling", body)
        assert (status, payload["result"]) == (200, True), body
    assert (await api.post("/polling", playback("Thank you")))[0] == 200
