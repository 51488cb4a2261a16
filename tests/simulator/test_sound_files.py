"""STREAM FILE with an absolute path reads the disk, as Asterisk does: ``<path>.<format>`` must exist.

Asterisk takes the name without extension and opens ``<name>.wav`` (or another format it knows); a name given with
its extension, or one whose file is missing, answers ``200 result=-1 endpos=0`` and the call goes on. A wav plays
for its real length, so ``endpos`` is its frame count at 8 kHz.
"""

from __future__ import annotations

import wave
from pathlib import Path

from autodialer.protocols.agi import CommandResult
from autodialer.simulator import Behaviour

from .test_agi import AGIPeer, agi_sim, ones, originate

__all__ = ["agi_sim"]  # the fixture, imported for pytest


def write_wav(path: Path, seconds: float) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * int(8000 * seconds))


async def test_absolute_paths_play_only_when_the_file_exists(agi_sim, tmp_path: Path) -> None:
    sim, handlers, ami = agi_sim
    write_wav(tmp_path / "prompt.wav", 2.0)
    sim.control.set_customer("5550003", Behaviour(answer_after=0.2))
    results: list[CommandResult] = []

    async def session(peer: AGIPeer) -> None:
        await peer.next()
        for name in ("prompt", "prompt.wav", "missing"):
            results.append((await peer.run(f'STREAM FILE {tmp_path / name} ""'))[0])
        await peer.run("HANGUP")

    handlers.append(session)
    await ami.request("Originate", originate("5550003"))
    await ami.wait_for(lambda: ones(ami, "Hangup"), 5)
    assert results == [
        CommandResult.success(0, endpos=16000),
        CommandResult.success(-1, endpos=0),
        CommandResult.success(-1, endpos=0),
    ]
    assert [p for _, p in sim.control.prompts] == [str(tmp_path / "prompt")]
