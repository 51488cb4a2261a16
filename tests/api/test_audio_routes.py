"""POST/GET/DELETE /audio through HTTP against a migrated database, with the real ffprobe/ffmpeg and soxi checks."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from autodialer.api.app import create_app
from autodialer.bootstrap import build_context
from autodialer.settings import load_settings

AUDIO = "/pbxcore/api/module-dialer/v1/audio"


def soxi(path: Path | str, flag: str) -> str:
    return subprocess.run(["soxi", flag, str(path)], check=True, capture_output=True, text=True).stdout.strip()


def make_tone(path: Path, seconds: float, rate: int = 44100, channels: int = 2) -> Path:
    subprocess.run(
        ["sox", "-n", "-r", str(rate), "-c", str(channels), str(path), "synth", str(seconds), "sine", "440"],
        check=True,
        capture_output=True,
    )
    return path


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("samples")
    make_tone(folder / "tone1.mp3", 1)
    make_tone(folder / "tone2.mp3", 2)
    make_tone(folder / "tone.wav", 0.5, rate=16000, channels=1)  # 16 kB, within the test limit
    return {name: (folder / name).read_bytes() for name in ("tone1.mp3", "tone2.mp3", "tone.wav")}


@dataclass
class Harness:
    app: FastAPI
    audio_dir: Path
    root: Path
    engine: AsyncEngine

    def client(self, host: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(host, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://pbx")


@pytest.fixture
async def harness(migrated_engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[Harness]:
    settings = load_settings(environment="test", data_dir=tmp_path / "data", audio_max_bytes=64 * 1024)
    context = build_context(settings, migrated_engine, time.time)
    app = create_app(context)
    yield Harness(app, settings.audio_dir.resolve(), tmp_path, migrated_engine)


async def upload(client: httpx.AsyncClient, filename: str, content: bytes, field: str = "file") -> httpx.Response:
    return await client.post(AUDIO, files={field: (filename, content, "application/octet-stream")})


def assert_8k_mono(path: str) -> None:
    assert Path(path).is_file()
    assert soxi(path, "-r") == "8000"
    assert soxi(path, "-c") == "1"
    assert soxi(path, "-b") == "16"
    assert soxi(path, "-t") == "wav"


def stored_files(audio_dir: Path) -> list[str]:
    return sorted(p.name for p in audio_dir.iterdir() if p.name != ".staging")


async def test_mp3_upload_gives_an_8k_mono_wav_and_mp3(harness: Harness, samples: dict[str, bytes]) -> None:
    async with harness.client() as client:
        reply = await upload(client, "1.mp3", samples["tone1.mp3"])
    assert reply.status_code == 200
    body = reply.json()
    assert list(body) == ["result", "data", "messages", "function", "processor", "pid"]
    assert body["result"] is True and body["messages"] == []
    filename = body["data"]["filename"]
    assert re.fullmatch(re.escape(str(harness.audio_dir)) + r"/[0-9a-f]{32}\.wav", filename)
    assert_8k_mono(filename)
    mp3 = Path(filename).with_suffix(".mp3")
    assert soxi(mp3, "-r") == "8000" and soxi(mp3, "-c") == "1"
    assert float(soxi(filename, "-D")) == pytest.approx(1.0, abs=0.1)


async def test_wav_upload_under_any_field_name(harness: Harness, samples: dict[str, bytes]) -> None:
    async with harness.client() as client:
        reply = await upload(client, "greeting.wav", samples["tone.wav"], field="whatever")
        listing = await client.get(AUDIO)
    assert reply.status_code == 200
    assert_8k_mono(reply.json()["data"]["filename"])
    assert listing.json()["data"] == [{"id": "1", "name": "greeting.wav", "path": reply.json()["data"]["filename"]}]


async def test_recognised_by_content_not_name(harness: Harness, samples: dict[str, bytes]) -> None:
    async with harness.client() as client:
        as_txt = await upload(client, "prompt.txt", samples["tone1.mp3"])
        text_as_mp3 = await upload(client, "evil.mp3", b"just some text, not audio at all\n" * 20)
        listing = await client.get(AUDIO)
    assert as_txt.status_code == 200
    assert_8k_mono(as_txt.json()["data"]["filename"])
    assert text_as_mp3.status_code == 415
    assert text_as_mp3.json()["result"] is False
    assert "not a recognised audio format" in text_as_mp3.json()["messages"]["error"][0]
    assert [f["name"] for f in listing.json()["data"]] == ["prompt.txt"]
    assert len(stored_files(harness.audio_dir)) == 2  # the one good upload's wav + mp3, nothing of the refused one
    assert list((harness.audio_dir / ".staging").iterdir()) == []


async def test_hls_playlist_disguised_as_mp3_is_refused(harness: Harness) -> None:
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
    async with harness.client() as client:
        reply = await upload(client, "x.mp3", playlist)
    assert reply.status_code == 415


async def test_oversized_uploads_are_refused_with_413(harness: Harness) -> None:
    big = os.urandom(70 * 1024)
    async with harness.client() as client:
        declared = await upload(client, "big.mp3", big + os.urandom(64 * 1024))  # over limit + framing allowance
        in_limit_of_body = await upload(client, "big.mp3", big)  # body fits the framing allowance, file does not

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: caught while streaming
            yield b"--b\r\nContent-Disposition: form-data; name=file; filename=c.mp3\r\n\r\n"
            for _ in range(40):
                yield os.urandom(4096)

        streamed = await client.post(
            AUDIO, content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"}
        )
    for reply in (declared, in_limit_of_body, streamed):
        assert reply.status_code == 413, reply.text
        assert reply.json()["result"] is False
        assert "limit of 65536 bytes" in reply.json()["messages"]["error"][0]


async def test_missing_file_is_refused(harness: Harness) -> None:
    async with harness.client() as client:
        no_file = await client.post(AUDIO, data={"field": "value"}, files={})
        not_multipart = await client.post(AUDIO, content=b"{}")
        empty = await upload(client, "e.mp3", b"")
    for reply in (no_file, not_multipart, empty):
        assert reply.status_code == 400
        assert reply.json()["messages"] == {"error": ["error upload file: file is empty"]}


async def test_a_malformed_multipart_body_is_refused_naming_the_parser_error(harness: Harness) -> None:
    async with harness.client() as client:
        reply = await client.post(AUDIO, content=b"--x\r\n", headers={"Content-Type": "multipart/form-data"})
    assert reply.status_code == 400
    [message] = reply.json()["messages"]["error"]
    assert message.startswith("file: malformed multipart body (") and "boundary" in message.lower()


async def test_same_name_replaces_the_file_in_place(harness: Harness, samples: dict[str, bytes]) -> None:
    async with harness.client() as client:
        first = (await upload(client, "1.mp3", samples["tone1.mp3"])).json()["data"]["filename"]
        second = (await upload(client, "1.mp3", samples["tone2.mp3"])).json()["data"]["filename"]
        listing = (await client.get(AUDIO)).json()["data"]
    assert first == second
    assert float(soxi(second, "-D")) == pytest.approx(2.0, abs=0.1)
    assert len(listing) == 1
    assert len(stored_files(harness.audio_dir)) == 2


@pytest.mark.parametrize(
    "filename",
    ["$(touch PWNED).mp3", "a;touch PWNED;b.mp3", "`touch PWNED`.mp3", "x|touch PWNED&.mp3", "-rf --help.mp3",
     "'*?#%2e.mp3", "a b&c=d>e<f.mp3"],
)  # fmt: skip
async def test_shell_metacharacters_in_names_are_harmless(
    harness: Harness, samples: dict[str, bytes], filename: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(harness.root)
    async with harness.client() as client:
        reply = await upload(client, filename, samples["tone1.mp3"])
        listing = (await client.get(AUDIO)).json()["data"]
        deleted = await client.delete(f"{AUDIO}/{quote(filename, safe='')}")
        after = (await client.get(AUDIO)).json()["data"]
    assert reply.status_code == 200
    assert listing[0]["name"] == filename
    assert re.fullmatch(r"[0-9a-f]{32}\.wav", Path(reply.json()["data"]["filename"]).name)
    assert deleted.json()["result"] is True and after == []
    assert not list(harness.root.rglob("PWNED"))


async def test_path_components_in_upload_names_are_dropped(harness: Harness, samples: dict[str, bytes]) -> None:
    async with harness.client() as client:
        reply = await upload(client, "../../etc/evil.mp3", samples["tone1.mp3"])
        windows = await upload(client, "C:\\Users\\x\\win.mp3", samples["tone1.mp3"])
        listing = (await client.get(AUDIO)).json()["data"]
    assert reply.status_code == 200 and windows.status_code == 200
    assert [f["name"] for f in listing] == ["evil.mp3", "win.mp3"]
    assert Path(reply.json()["data"]["filename"]).parent == harness.audio_dir


async def test_delete_cannot_touch_anything_outside_the_store(harness: Harness, samples: dict[str, bytes]) -> None:
    outside = harness.root / "secret.wav"
    outside.write_bytes(b"keep me")
    rel = os.path.relpath(outside, harness.audio_dir)
    async with harness.client() as client:
        kept = (await upload(client, "keep.mp3", samples["tone1.mp3"])).json()["data"]["filename"]
        for name in [rel, rel.replace("/", "%2F"), str(outside), str(outside).replace("/", "%2F"), "secret.wav%00",
                     "..", "%2E%2E", "*", Path(kept).name, Path(kept).stem]:  # fmt: skip
            reply = await client.delete(f"{AUDIO}/{name}")
            # httpx resolves a literal "../" before sending (404: another route); the %2F forms reach the handler.
            assert reply.status_code in (200, 404), name
            if "%2F" in name:
                assert reply.json()["result"] is True
    assert outside.read_bytes() == b"keep me"
    assert Path(kept).is_file()


async def test_delete_removes_the_files_but_never_follows_a_symlink(
    harness: Harness, samples: dict[str, bytes]
) -> None:
    outside = harness.root / "target.txt"
    outside.write_bytes(b"keep me")
    async with harness.client() as client:
        wav = Path((await upload(client, "1.mp3", samples["tone1.mp3"])).json()["data"]["filename"])
        wav.unlink()
        wav.symlink_to(outside)
        reply = await client.delete(f"{AUDIO}/1.mp3")
        unknown = await client.delete(f"{AUDIO}/never-uploaded.mp3")
        listing = (await client.get(AUDIO)).json()["data"]
    assert reply.json() == {**reply.json(), "result": True, "data": [], "messages": []}
    assert unknown.json()["result"] is True
    assert listing == []
    assert not wav.is_symlink() and not wav.with_suffix(".mp3").exists()
    assert outside.read_bytes() == b"keep me"


async def test_audio_routes_need_authentication(harness: Harness) -> None:
    async with harness.client("127.0.0.2") as client:
        replies = [
            await upload(client, "a.mp3", b"x"),
            await client.get(AUDIO),
            await client.delete(f"{AUDIO}/a.mp3"),
        ]
    assert [r.status_code for r in replies] == [401, 401, 401]
    assert all(r.json()["errors"] == ["The user isn't authenticated."] for r in replies)


async def test_an_upload_longer_than_the_limit_once_decoded_is_refused(harness: Harness) -> None:
    from tests.adapters.test_audio_conversion import lying_flac

    from autodialer.adapters.audio.conversion import AudioConverter
    from autodialer.adapters.audio.file_store import AudioFileStore
    from autodialer.adapters.db.audio_repository import SqlAudioRepository
    from autodialer.services.audio_library import AudioLibrary

    context = harness.app.state.context
    store = AudioFileStore(harness.audio_dir, AudioConverter(max_duration_s=5))
    harness.app.state.audio_library = AudioLibrary(SqlAudioRepository(harness.engine), store, 1 << 20, context.now)
    lying = lying_flac(harness.root / "lying.flac", seconds=20).read_bytes()  # says 1 s
    async with harness.client() as client:
        reply = await upload(client, "long.flac", lying)
        listing = await client.get(AUDIO)
    assert reply.status_code == 422
    assert reply.json()["messages"] == {
        "error": ["file: the audio lasts more than 5 s once decoded (its header says 1 s)"]
    }
    assert listing.json()["data"] == [] and stored_files(harness.audio_dir) == []
