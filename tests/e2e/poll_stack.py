"""Helpers for the poll end-to-end tests: the e2e stack with the TTS engine observed, plus poll-shaped requests.

``poll_stack`` is ``harness.running_stack`` with one difference: the speech engine the service builds (espeak-ng,
unchanged) is wrapped in ``RecordingSpeech``, which records every text it is asked to speak before passing it on.
Production wiring stays as it is; only ``bootstrap.build_prompt_renderer`` is replaced for the duration, with the
same construction around the wrapped engine. The tests read ``speech.texts`` to prove what the customer heard.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from tests.e2e.harness import Stack, running_stack

from autodialer import bootstrap
from autodialer.adapters.audio.process import CommandRunner
from autodialer.adapters.tts.engine import SpeechEngine, SpeechEngineFailed
from autodialer.adapters.tts.espeak import EspeakEngine
from autodialer.adapters.tts.prompt_cache import PromptRenderer
from autodialer.cli_sim import product_dialplan
from autodialer.settings import Settings


@dataclass
class RecordingSpeech:
    """A SpeechEngine that records (text, voice) of every synthesis and delegates to the real engine; a text in
    ``broken`` fails as an engine failure would (SpeechEngineFailed)."""

    inner: SpeechEngine
    texts: list[tuple[str, str]] = field(default_factory=list)
    broken: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.inner.name

    async def version(self) -> str:
        return await self.inner.version()

    async def voices(self) -> Collection[str]:
        return await self.inner.voices()

    async def synthesize(self, text: str, voice: str, out: Path) -> None:
        self.texts.append((text, voice))
        if text in self.broken:
            raise SpeechEngineFailed(f"espeak-ng failed for voice {voice}: (a test's broken text)")
        await self.inner.synthesize(text, voice, out)

    def spoken(self) -> list[str]:
        return [text for text, _ in self.texts]


@dataclass
class PollStack:
    stack: Stack
    speech: RecordingSpeech

    async def post_poll(self, body: dict[str, Any]) -> str:
        data = await self.stack.post_poll(body)
        return str(data["id"])

    async def post_poll_raw(self, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self.stack.http.post("/polling", content=json.dumps(body))
        payload: dict[str, Any] = reply.json()
        return payload

    async def poll_task(self, poll_id: str, numbers: list[Any], **fields: Any) -> str:
        body = {"name": "poll", "innerNumType": "polling", "innerNum": poll_id, "numbers": numbers, **fields}
        return str((await self.stack.post_task(body))["id"])

    async def polling_results(self, change_time: str = "0") -> list[dict[str, Any]]:
        reply = await self.stack.http.get(f"/polling-results/{change_time}")
        payload: dict[str, Any] = reply.json()
        assert payload["result"] is True, payload
        rows: list[dict[str, Any]] = payload["data"]["results"]
        return rows

    def prompts(self) -> list[str]:
        """Every file name the simulator was asked to play (STREAM FILE), in order."""
        return [name for _, name in self.stack.sim.control.prompts]

    async def played(self, count: int) -> list[str]:
        """The prompts once ``count`` have started: a final playback starts after the poll's result is stored."""
        await self.stack.until(lambda: len(self.prompts()) >= count, 5, f"{count} prompts to play")
        return self.prompts()


def production_dialplan() -> str:
    """The lab's [internal] extensions (employees 201/202) plus the dialplan snippet an admin installs
    (``autodialer.dialplan``: [dialer-out] and [dialer-connect], which sends polls to FastAGI /poll).

    The lab's own [dialer-connect] uses ``_X.``, which never matches a one-digit poll id (MikoPBX numbers polls
    from 1); the snippet's ``_[0-9*#+]!`` does.
    """
    return product_dialplan()  # the simulator generates the lab's [internal] around it


@contextlib.asynccontextmanager
async def poll_stack(
    data_dir: Path,
    database_url: str = "",
    *,
    sim_config: dict[str, Any] | None = None,
    broken_texts: frozenset[str] = frozenset(),
    **kwargs: Any,
) -> AsyncIterator[PollStack]:
    data_dir.mkdir(parents=True, exist_ok=True)
    dialplan = data_dir / "extensions.conf"
    dialplan.write_text(production_dialplan())
    recorder: list[RecordingSpeech] = []

    def build(settings: Settings, runner: CommandRunner | None = None) -> PromptRenderer:
        speech = RecordingSpeech(EspeakEngine(runner), broken=broken_texts)
        recorder.append(speech)
        return PromptRenderer(speech, settings.tts_cache_dir, settings.tts_default_lang, runner)

    with mock.patch.object(bootstrap, "build_prompt_renderer", build):
        config = {"dialplan_path": dialplan, **(sim_config or {})}
        async with running_stack(data_dir, database_url, sim_config=config, **kwargs) as stack:
            assert len(recorder) == 1, "the service builds exactly one prompt renderer"
            yield PollStack(stack, recorder[0])
