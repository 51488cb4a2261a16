"""PollCallHandler: the FastAGI ``/poll`` runner that executes the poll_flow instructions on the channel.

The flow itself (which question, which key does what, replays, limits) is the pure ``domain.poll_flow``; this
module answers the channel, renders prompts, plays them, collects keys and passes reports to the engine. If a
question cannot be rendered (TTS failure, a file that is not ours) or the PBX cannot play it (STREAM FILE ends at
position 0 without a key on a live channel: the file is not where Asterisk looks, e.g. a missing shared mount), the
call is hung up, which ends the poll as FAIL_POLLING: MikoPBX silently skipped such a question, which changed the
meaning of the answers that followed, and asking in silence would only replay nothing until the limits.

The "dial" key's transfer comes after EVENT_POLLING_END is committed (the poll already is SUCCESS_POLLING, as in
MikoPBX), and dials the employee as the connect step does: option ``g``, and ``U(<connect context>^<call id>)`` so
the PBX marks the employee's answer in AstDB (services/agent_marks.py). The Dial's DIALSTATUS is then stored as the
attempt's dial status (``CallProgress.transfer_ended``); once an ANSWER is committed the mark goes. A call lost with
us during the transfer is thus still the SUCCESS_POLLING it was, with its transfer answered (ARCHITECTURE.md).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Protocol

from autodialer.domain import poll_flow
from autodialer.domain.mikopbx_results import ANSWER, EventName
from autodialer.services.agent_marks import check_mark_context, employee_dial_options, marks_employee
from autodialer.services.call_channel import PromptChannel
from autodialer.services.call_progress import CallProgress, PollContext
from autodialer.services.ports import Clock

log = logging.getLogger(__name__)

_DIALABLE = re.compile(r"[0-9*#+]{1,32}")
_CHANNEL_INSTRUCTIONS = (poll_flow.Ask, poll_flow.Play, poll_flow.Dial, poll_flow.Hangup)


class PromptUnavailable(Exception):
    error_id = "prompt-unavailable"


class PromptRenderer(Protocol):
    async def render(self, prompt: poll_flow.Prompt) -> str:
        """A name Asterisk can play (STREAM FILE, no extension) for a text in ``prompt.lang`` or a stored file.

        Raises PromptUnavailable when it cannot (TTS failed, file missing or outside the audio directory).
        """
        ...


@dataclass(frozen=True, slots=True)
class PollSettings:
    dial_timeout_s: int = 60
    internal_context: str = "internal"
    # As ConnectSettings.agent_mark_context: the transfer's Dial gets ``U(<it>^<call id>)``; None: no mark asked for.
    agent_mark_context: str | None = None

    def __post_init__(self) -> None:
        check_mark_context("agent_mark_context", self.agent_mark_context)


class PollCallHandler:
    def __init__(
        self, progress: CallProgress, renderer: PromptRenderer, clock: Clock, settings: PollSettings | None = None
    ) -> None:
        self._progress = progress
        self._renderer = renderer
        self._clock = clock
        self._settings = settings or PollSettings()

    async def handle(self, channel: PromptChannel, call_id: str) -> None:
        """Run the poll of ``call_id`` (the FastAGI ``agi_uniqueid``) until it ends or the customer hangs up."""
        context = await self._progress.poll_context(call_id)
        if context is None:
            log.warning("poll: call %s is not a poll call of ours in progress, hanging up", call_id)
            await channel.hangup()
            return
        # Stored first, then the PBX's own mark of the answer (it covered a crash before the store) goes.
        await self._progress.customer_answered(call_id)
        await channel.clear_answer_mark()
        await self._poll(channel, call_id, context)

    async def _poll(self, channel: PromptChannel, call_id: str, context: PollContext) -> None:
        await channel.answer()  # Local;1 is up once the customer answered; MikoPBX's poll also began with Answer()
        step = poll_flow.start_poll(context.poll, context.params, self._clock.now())
        pending = list(step.instructions)
        state = step.state
        asked: poll_flow.Prompt | None = None  # the last question asked: what a SaveAnswer that follows answers
        while pending:
            instruction = pending.pop(0)
            if channel.hung_up and isinstance(instruction, _CHANNEL_INSTRUCTIONS):
                # No more channel commands once Asterisk said HANGUP; a key it delivered before that still counts,
                # so its SaveAnswer/Report/OptOut (already queued) run: the poll is over when the keys ran out.
                continue
            if isinstance(instruction, poll_flow.Ask):
                try:
                    asked = instruction.prompt
                    key = await self._ask(channel, instruction)
                except PromptUnavailable as e:
                    log.warning("poll: question unavailable, ending call %s: %s", call_id, e)
                    await channel.hangup()
                    return
                step = poll_flow.on_input(context.poll, context.params, state, key, self._clock.now())
                state = step.state
                pending.extend(step.instructions)
            else:
                await self._execute(channel, context, instruction, asked)

    async def _ask(self, channel: PromptChannel, ask: poll_flow.Ask) -> str | None:
        name = await self._renderer.render(ask.prompt)
        key, endpos = await channel.stream_file(name, poll_flow.DIGITS)
        if key is None and endpos == 0 and not channel.hung_up:
            raise PromptUnavailable(f"the PBX could not play {name!r}")
        if key is None and not channel.hung_up:
            key = await channel.wait_for_digit(int(ask.timeout_s * 1000))
        return key

    async def _execute(
        self,
        channel: PromptChannel,
        context: PollContext,
        instruction: poll_flow.Instruction,
        asked: poll_flow.Prompt | None,
    ) -> None:
        call_id = context.call_id
        match instruction:
            case poll_flow.Play(prompt=prompt):
                try:
                    await channel.stream_file(await self._renderer.render(prompt), "")
                except PromptUnavailable as e:
                    log.warning("poll: playback unavailable, skipped: %s", e)
            case poll_flow.SaveAnswer(question_id=question_id, result=result, exten=exten):
                await self._progress.poll_answer(
                    call_id,
                    question_id,
                    result,
                    exten,
                    asked=None if asked is None else (asked.text if asked.text is not None else asked.file),
                    poll_version=context.poll.version,
                )
            case poll_flow.Report(event=EventName.EVENT_POLLING):
                # Like MikoPBX's AGI events it carries CHANNEL(callid): the verboseCallId of polling rows.
                await self._progress.poll_started(call_id, await channel.log_call_id())
            case poll_flow.Report():
                await self._progress.poll_completed(call_id)
            case poll_flow.OptOut():
                await self._progress.opt_out(call_id)
            case poll_flow.Dial(exten=exten):
                if _DIALABLE.fullmatch(exten):
                    await self._transfer(channel, call_id, f"Local/{exten}@{self._settings.internal_context}")
                else:
                    log.warning("poll: refusing to dial %r (not a plain number)", exten)
            case poll_flow.Hangup():
                await channel.hangup()
            case poll_flow.Ask():
                raise AssertionError("Ask is handled by the loop")

    async def _transfer(self, channel: PromptChannel, call_id: str, target: str) -> None:
        """Put the customer through to ``target``; how that Dial ended is stored, and an employee's answer the PBX
        marked is unmarked once stored (rolled back, or the step cancelled first: the mark stays, so a call lost with
        us is still known to have reached the employee)."""
        options = employee_dial_options(self._settings.agent_mark_context, call_id)
        await channel.exec("Dial", target, str(self._settings.dial_timeout_s), options)
        status = await channel.get_variable("DIALSTATUS") or "NOANSWER"
        committed = await self._progress.transfer_ended(call_id, status)
        if committed and status == ANSWER and marks_employee(options):
            await channel.clear_agent_mark()
