"""Poll prompts as Asterisk gets them, and MikoPBX's questionFile rule.

- STREAM FILE takes a name without extension (res_agi handle_streamfile -> ast_openstream, which appends each
  format's extension itself; trace 07: ``STREAM FILE dialer-prompt ...``); an upload converted to ``<md5>.wav`` +
  ``<md5>.mp3`` is played from the wav (format_wav is always there, format_mp3 usually is not).
- http delivery hands res_http_media_cache a URL ending in ``.wav``: it takes the extension from the URL's tail when
  a format knows it (file_extension_from_url) and ast_media_cache_retrieve returns the cached path without it.
- spec mikopbx-compat.md §3.2 POST /polling, ``questionFile``: "If that file exists it is used; otherwise
  ``questionText`` is synthesized". A question with both, whose file is not there, speaks its text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from autodialer.adapters.poll_prompts import PollPromptRenderer
from autodialer.domain.poll_flow import Ask, PollDefinition, Press, Prompt, Question, start_poll
from autodialer.services.poll_call import PromptUnavailable


class Speech:
    def __init__(self, tts_dir: Path) -> None:
        self.tts_dir = tts_dir
        self.spoken: list[tuple[str, str | None]] = []

    async def render(self, text: str, lang: str | None, params: None = None) -> Path:
        self.spoken.append((text, lang))
        path = self.tts_dir / "3f9a.wav"
        path.write_bytes(b"RIFF")
        return path


class NoRecords:
    async def audio_by_name(self, name: str) -> object | None:
        return None


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    audio, tts = tmp_path / "audio", tmp_path / "tts"
    audio.mkdir()
    tts.mkdir()
    return audio, tts


def renderer(dirs: tuple[Path, Path], delivery: str = "files") -> tuple[PollPromptRenderer, Speech]:
    audio, tts = dirs
    speech = Speech(tts)
    base = "http://10.0.0.5:8080/"
    return PollPromptRenderer(speech, NoRecords(), audio, tts, delivery, base), speech  # type: ignore[arg-type]


async def test_an_uploaded_mp3_is_played_from_its_wav_without_extension(dirs: tuple[Path, Path]) -> None:
    audio, _ = dirs
    (audio / "474d.wav").write_bytes(b"RIFF")
    (audio / "474d.mp3").write_bytes(b"ID3")
    prompts, _ = renderer(dirs)
    assert await prompts.render(Prompt("ru-RU", file=str(audio / "474d.mp3"))) == str(audio / "474d")


async def test_http_delivery_names_the_wav_url(dirs: tuple[Path, Path]) -> None:
    audio, _ = dirs
    (audio / "474d.wav").write_bytes(b"RIFF")
    prompts, _ = renderer(dirs, "http")
    url = await prompts.render(Prompt("ru-RU", file=str(audio / "474d.mp3")))
    assert url == "http://10.0.0.5:8080/autodialer/prompts/audio/474d.wav"
    assert (
        await prompts.render(Prompt("ru-RU", text="Привет")) == "http://10.0.0.5:8080/autodialer/prompts/tts/3f9a.wav"
    )


def ask_of(question: Question) -> Prompt:
    step = start_poll(PollDefinition(1, (question,)), {"speach": "1000"}, 0.0)
    ask = step.instructions[-1]
    assert isinstance(ask, Ask)
    return ask.prompt


async def test_a_missing_question_file_falls_back_to_the_question_text(dirs: tuple[Path, Path]) -> None:
    question = Question("1", "Debt <speach>", file="/nowhere/old.wav", press=(Press("1", "answer", "1"),))
    prompts, speech = renderer(dirs)
    name = await prompts.render(ask_of(question))
    assert speech.spoken == [("Debt 1000", "ru-RU")]
    assert name == str(dirs[1] / "3f9a")


async def test_an_existing_question_file_wins_over_the_text(dirs: tuple[Path, Path]) -> None:
    audio, _ = dirs
    (audio / "474d.wav").write_bytes(b"RIFF")
    question = Question("1", "Debt <speach>", file=str(audio / "474d.wav"), press=(Press("1", "answer", "1"),))
    prompts, speech = renderer(dirs)
    assert await prompts.render(ask_of(question)) == str(audio / "474d")
    assert speech.spoken == []


async def test_a_missing_question_file_without_text_is_unavailable(dirs: tuple[Path, Path]) -> None:
    question = Question("1", "", file="/nowhere/old.wav", press=(Press("1", "answer", "1"),))
    prompts, speech = renderer(dirs)
    with pytest.raises(PromptUnavailable):
        await prompts.render(ask_of(question))
    assert speech.spoken == []
