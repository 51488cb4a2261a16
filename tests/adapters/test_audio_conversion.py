"""Audio recognition and conversion with the real ffprobe/ffmpeg; the store's file handling."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from autodialer.adapters.audio.conversion import AudioConverter
from autodialer.adapters.audio.file_store import AudioFileStore
from autodialer.adapters.audio.process import CommandResult, CommandTimedOut, SubprocessRunner
from autodialer.services.audio_library import AudioNotRecognised, AudioTooLong


def soxi(path: Path, flag: str) -> str:
    return subprocess.run(["soxi", flag, str(path)], check=True, capture_output=True, text=True).stdout.strip()


def tone(path: Path, seconds: float = 0.5, rate: int = 22050, channels: int = 2) -> Path:
    argv = ["sox", "-n", "-r", str(rate), "-c", str(channels), str(path), "synth", str(seconds), "sine", "300"]
    subprocess.run(argv, check=True, capture_output=True)
    return path


@pytest.mark.parametrize("suffix", [".mp3", ".wav", ".flac", ".ogg", ".aiff"])
async def test_audio_formats_are_recognised_without_their_extension(tmp_path: Path, suffix: str) -> None:
    source = tone(tmp_path / f"in{suffix}")
    anonymous = source.rename(tmp_path / "upload")  # the name tells ffprobe nothing
    converter = AudioConverter()
    probe = await converter.probe(anonymous)
    assert probe is not None and probe.duration_s == pytest.approx(0.5, abs=0.1)
    assert await converter.convert(anonymous, tmp_path / "o.wav", tmp_path / "o.mp3")
    assert (soxi(tmp_path / "o.wav", "-r"), soxi(tmp_path / "o.wav", "-c"), soxi(tmp_path / "o.wav", "-b")) == (
        "8000",
        "1",
        "16",
    )
    assert soxi(tmp_path / "o.mp3", "-r") == "8000"


@pytest.mark.parametrize(
    "content",
    [
        b"hello, I am text\n" * 50,
        b"#EXTM3U\n#EXTINF:1,\nhttp://example.invalid/a.mp3\n",
        b"ffconcat version 1.0\nfile /etc/passwd\n",
        b"<html><body>not audio</body></html>",
        b"",
    ],
)
async def test_non_audio_is_not_recognised(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "upload"
    path.write_bytes(content)
    assert await AudioConverter().probe(path) is None


async def test_random_bytes_are_not_recognised(tmp_path: Path) -> None:
    path = tmp_path / "upload"
    path.write_bytes(os.urandom(50_000))
    assert await AudioConverter().probe(path) is None


async def test_audio_longer_than_the_limit_is_refused(tmp_path: Path) -> None:
    path = tone(tmp_path / "long.wav", seconds=3, rate=8000, channels=1)
    assert await AudioConverter(max_duration_s=2).probe(path) is None


class HangingRunner:
    async def run(self, argv: Sequence[str], *, stdin: bytes | None = None, timeout_s: float = 60) -> CommandResult:
        raise CommandTimedOut(argv[0])


async def test_a_tool_that_times_out_means_not_recognised(tmp_path: Path) -> None:
    path = tone(tmp_path / "a.wav")
    assert await AudioConverter(HangingRunner()).probe(path) is None
    assert not await AudioConverter(HangingRunner()).convert(path, tmp_path / "o.wav", tmp_path / "o.mp3")


async def test_the_subprocess_runner_kills_on_timeout() -> None:
    with pytest.raises(CommandTimedOut):
        await SubprocessRunner().run(["sleep", "5"], timeout_s=0.05)


async def test_store_prepares_installs_and_cleans_up(tmp_path: Path) -> None:
    store = AudioFileStore(tmp_path / "audio", AudioConverter())
    data = tone(tmp_path / "a.mp3").read_bytes()
    prepared = await store.prepare(io.BytesIO(data))
    name = store.new_stored_name()
    await store.install(prepared, name)
    wav = Path(store.playback_path(name))
    assert wav.parent == (tmp_path / "audio").resolve() and soxi(wav, "-r") == "8000"
    assert oct(wav.stat().st_mode & 0o777) == "0o644"
    with pytest.raises(AudioNotRecognised):
        await store.prepare(io.BytesIO(b"plain text"))
    assert list((tmp_path / "audio" / ".staging").iterdir()) == []
    await store.remove(name)
    assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == [".staging"]


@pytest.mark.parametrize("bad", ["../etc/passwd", "/etc/passwd", "a" * 31 + "\x00", "ABCDEF" * 6, ""])
async def test_store_refuses_names_it_did_not_generate(tmp_path: Path, bad: str) -> None:
    store = AudioFileStore(tmp_path, AudioConverter())
    with pytest.raises(ValueError):
        await store.remove(bad)
    with pytest.raises(ValueError):
        store.playback_path(bad)


def lying_flac(path: Path, seconds: float, declared_samples: int = 8000) -> Path:
    """A real FLAC of ``seconds`` at 8 kHz whose STREAMINFO says it holds ``declared_samples`` (one second)."""
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", str(path), "synth", str(seconds), "sine", "440"],
        check=True,
        capture_output=True,
    )
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # the first metadata block is STREAMINFO
    at = 8 + 10  # sample rate (20 bits), channels (3), bits per sample (5), total samples (36)
    packed = int.from_bytes(data[at : at + 8], "big")
    packed = (packed >> 36 << 36) | declared_samples
    data[at : at + 8] = packed.to_bytes(8, "big")
    path.write_bytes(data)
    return path


async def test_a_header_that_lies_about_the_duration_is_caught_on_the_decoded_audio(tmp_path: Path) -> None:
    source = lying_flac(tmp_path / "upload.flac", seconds=20)
    converter = AudioConverter(max_duration_s=5)
    probe = await converter.probe(source)
    assert probe is not None and probe.duration_s == pytest.approx(1.0)  # the header passes the check
    decoded = await converter.convert(source, tmp_path / "o.wav", tmp_path / "o.mp3")
    assert decoded is not None and 5 < decoded <= 5.5 + 0.1  # ffmpeg stopped just past the limit
    assert float(soxi(tmp_path / "o.wav", "-D")) == pytest.approx(decoded, abs=0.01)
    store = AudioFileStore(tmp_path / "audio", converter)
    with pytest.raises(AudioTooLong, match=r"more than 5 s once decoded \(its header says 1 s\)"):
        await store.prepare(io.BytesIO(source.read_bytes()))
    assert list((tmp_path / "audio" / ".staging").iterdir()) == []  # nothing of it is kept


async def test_the_decoded_duration_is_what_is_stored(tmp_path: Path) -> None:
    source = lying_flac(tmp_path / "upload.flac", seconds=3)  # says 1 s, lasts 3 s: within the limit
    prepared = await AudioFileStore(tmp_path / "audio", AudioConverter(max_duration_s=5)).prepare(
        io.BytesIO(source.read_bytes())
    )
    assert prepared.duration_s == pytest.approx(3.0, abs=0.01)
