"""TTS prompts with the real espeak-ng and sox: format, cache, params substitution, voice choice, concurrency."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodialer.adapters.audio.process import CommandResult, SubprocessRunner
from autodialer.adapters.tts.espeak import EspeakEngine
from autodialer.adapters.tts.prompt_cache import PromptRenderer, substitute_params
from autodialer.adapters.tts.voices import voice_for_lang


class CountingRunner:
    """Runs commands for real and records them, so a test can see what espeak-ng was asked to say."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], bytes | None]] = []
        self._real = SubprocessRunner()

    async def run(self, argv: Sequence[str], *, stdin: bytes | None = None, timeout_s: float = 60) -> CommandResult:
        self.calls.append((list(argv), stdin))
        return await self._real.run(argv, stdin=stdin, timeout_s=timeout_s)

    def spoken(self) -> list[tuple[str, str]]:
        """(voice, text) of every synthesis."""
        return [
            (argv[argv.index("-v") + 1], (stdin or b"").decode())
            for argv, stdin in self.calls
            if argv[0] == "espeak-ng" and "-w" in argv
        ]


def soxi(path: Path, flag: str) -> str:
    return subprocess.run(["soxi", flag, str(path)], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def runner() -> CountingRunner:
    return CountingRunner()


@pytest.fixture
def renderer(runner: CountingRunner, tmp_path: Path) -> PromptRenderer:
    return PromptRenderer(EspeakEngine(runner), tmp_path / "tts", "ru-RU", runner)


async def test_rendered_prompt_is_8k_mono_16bit_wav(renderer: PromptRenderer) -> None:
    path = await renderer.render("Здравствуйте, это опрос", "ru-RU")
    assert path.suffix == ".wav" and path.is_file()
    assert (soxi(path, "-t"), soxi(path, "-r"), soxi(path, "-c"), soxi(path, "-b")) == ("wav", "8000", "1", "16")
    assert float(soxi(path, "-D")) > 0.5
    assert await renderer.playback_name("Здравствуйте, это опрос", "ru-RU") == str(path.with_suffix(""))


async def test_cache_hit_does_not_run_espeak_again(renderer: PromptRenderer, runner: CountingRunner) -> None:
    first = await renderer.render("Press one", "en-US")
    second = await renderer.render("Press one", "en-US")
    other_voice = await renderer.render("Press one", "de-DE")
    assert first == second != other_voice
    assert runner.spoken() == [("en-us", "Press one"), ("de", "Press one")]


async def test_params_are_substituted_into_the_text_the_engine_gets(
    renderer: PromptRenderer, runner: CountingRunner
) -> None:
    text = "Ваша задолженность <speach> рублей, <name>"
    a = await renderer.render(text, "ru-RU", {"speach": "1000", "name": "Иван"})
    b = await renderer.render(text, "ru-RU", {"speach": 250, "name": "Иван"})
    bare = await renderer.render(text, "ru-RU")
    assert len({a, b, bare}) == 3
    assert [t for _, t in runner.spoken()] == [
        "Ваша задолженность 1000 рублей, Иван",
        "Ваша задолженность 250 рублей, Иван",
        "Ваша задолженность  рублей,",
    ]


async def test_unknown_lang_falls_back_to_the_default_then_english(runner: CountingRunner, tmp_path: Path) -> None:
    russian_default = PromptRenderer(EspeakEngine(runner), tmp_path / "a", "ru-RU", runner)
    nonsense_default = PromptRenderer(EspeakEngine(runner), tmp_path / "b", "xx-XX", runner)
    assert await russian_default.voice_for("tlh-KLINGON") == "ru"
    assert await russian_default.voice_for("") == "ru"
    assert await nonsense_default.voice_for("qq") == "en"
    await nonsense_default.render("Hello", "qq-QQ")
    assert runner.spoken() == [("en", "Hello")]


def test_voice_mapping_rules() -> None:
    available = {"ru", "en-us", "en-gb", "en-029", "fr-fr", "fr-be", "pt", "pt-br", "de", "es-419", "es"}
    assert voice_for_lang("ru-RU", available, "en") == "ru"
    assert voice_for_lang("en-US", available, "ru") == "en-us"
    assert voice_for_lang("en_GB", available, "ru") == "en-gb"
    assert voice_for_lang("en", available, "ru") == "en-us"
    assert voice_for_lang("fr-CA", available, "ru") == "fr-fr"
    assert voice_for_lang("pt-BR", available, "ru") == "pt-br"
    assert voice_for_lang("es-MX", available, "ru") == "es"
    assert voice_for_lang("uk-UA", available, "ru-RU") == "ru"
    assert voice_for_lang(None, available, "de-DE") == "de"
    assert voice_for_lang("uk", available, "xx") == "en"


async def test_concurrent_renders_share_one_synthesis_and_leave_no_temp_files(
    renderer: PromptRenderer, runner: CountingRunner, tmp_path: Path
) -> None:
    paths = await asyncio.gather(*(renderer.render("Спасибо за ответ", "ru-RU") for _ in range(5)))
    assert len(set(paths)) == 1
    assert len(runner.spoken()) == 1
    assert soxi(paths[0], "-r") == "8000"
    assert sorted(p.name for p in (tmp_path / "tts").iterdir()) == [paths[0].name]


async def test_independent_renderers_on_one_cache_agree(runner: CountingRunner, tmp_path: Path) -> None:
    # Two processes sharing the cache folder: each renders, the renames do not clash, the file stays valid.
    one = PromptRenderer(EspeakEngine(runner), tmp_path / "tts", "ru-RU", runner)
    two = PromptRenderer(EspeakEngine(runner), tmp_path / "tts", "ru-RU", runner)
    a, b = await asyncio.gather(one.render("Один", "ru"), two.render("Один", "ru"))
    assert a == b and soxi(a, "-c") == "1"
    assert sorted(p.name for p in (tmp_path / "tts").iterdir()) == [a.name]


async def test_nothing_to_say_is_an_error(renderer: PromptRenderer) -> None:
    with pytest.raises(ValueError, match="nothing to say"):
        await renderer.render("<sum>", "ru-RU")


async def test_text_starting_with_a_dash_is_spoken_not_parsed_as_an_option(
    renderer: PromptRenderer, runner: CountingRunner
) -> None:
    path = await renderer.render("--help -w /tmp/x", "en-US")
    assert path.is_file()
    assert runner.spoken() == [("en-us", "--help -w /tmp/x")]


async def test_prune_drops_prompts_not_used_for_a_while(renderer: PromptRenderer) -> None:
    old = await renderer.render("old", "en")
    fresh = await renderer.render("fresh", "en")
    mtime = fresh.stat().st_mtime
    os.utime(old, (mtime - 3600, mtime - 3600))
    assert renderer.prune(max_age_s=1800, now=mtime) == 1
    assert not old.exists() and fresh.exists()


@given(
    st.text(max_size=60),
    st.dictionaries(st.text(alphabet="abcdefgh_", min_size=1, max_size=6), st.text(alphabet="0123456789 ", max_size=8)),
)
def test_substitution_leaves_no_tags_no_control_characters(text: str, params: dict[str, str]) -> None:
    spoken = substitute_params(text, params)
    assert not any(f"<{key}>" in spoken for key in params)
    assert all(ch in "\t\n" or (ord(ch) >= 32 and ord(ch) != 127) for ch in spoken)
    assert re.search(r"<[^<>]*>", spoken) is None


def test_nested_leftover_tags_are_all_removed() -> None:
    assert substitute_params("a<b<c>>d <x>", {}) == "ad "
