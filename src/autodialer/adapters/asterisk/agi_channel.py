"""AGICall seen through the services' channel port (services/call_channel.py: CallChannel, PromptChannel).

The services never import adapter errors, so hangups are translated here, once: a channel command that
meets a hangup (511, -1 after HANGUP, closed socket) returns the value Asterisk itself would give a dialplan
in that case (no key, ``exec`` -1) and leaves ``hung_up`` true, which the handlers check. A prompt that
cannot be played (result -1 on a live channel, e.g. a missing sound file) is logged and counts as "no key".
A rejected command (510/520) is a bug in our command building and still raises AGICommandError.

``log_call_id`` is the step's third AGI argument when the dialplan passes ``${CHANNEL(callid)}`` there (the shipped
snippet, docs/dialplan.md: no round trip before the Dial), else ``GET VARIABLE CHANNEL(callid)`` (a dialplan
installed earlier passes two arguments).

``channel_handler(service.handle)`` turns a service entry point ``handle(channel, call_id)`` into a
FastAGIServer route handler; the call id is the channel's ``agi_uniqueid`` (the Originate ChannelId).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable

from autodialer.adapters.asterisk import answer_marks
from autodialer.adapters.asterisk.agi_call import AGICall, AGICommandError, AGICommandFailed, AGIHangup
from autodialer.services.stale_marks import MarkKind

log = logging.getLogger(__name__)

# The AGI arguments of the shipped dialplan: <inner number>, <mode>, <CHANNEL(callid)> (0-based: agi_arg_3).
CALLID_ARG = 2


class AGIChannel:
    """Implements services.call_channel.PromptChannel (and so CallChannel) on top of an AGICall."""

    def __init__(self, call: AGICall) -> None:
        self._call = call

    @property
    def hung_up(self) -> bool:
        return self._call.hung_up

    async def answer(self) -> None:
        try:
            await self._call.answer()
        except (AGIHangup, AGICommandFailed) as exc:
            log.info("AGI %s: ANSWER did not succeed: %s", self._call.uniqueid, exc)

    async def exec(self, app: str, *args: str) -> int:
        try:
            return await self._call.exec(app, *args)
        except AGIHangup:
            return -1

    async def get_variable(self, name: str) -> str | None:
        try:
            return await self._call.get_variable(name)
        except AGIHangup:
            return None

    async def log_call_id(self) -> str | None:
        args = self._call.args
        if len(args) > CALLID_ARG:
            return args[CALLID_ARG] or None
        return await self.get_variable("CHANNEL(callid)")

    async def set_variable(self, name: str, value: str) -> None:
        with contextlib.suppress(AGIHangup):  # nothing left to set it on
            await self._call.set_variable(name, value)

    async def hangup(self) -> None:
        await self._call.hangup()

    async def clear_answer_mark(self) -> None:
        await self._delete_mark(answer_marks.FAMILY, "answer mark")

    async def clear_agent_mark(self) -> None:
        await self._delete_mark(answer_marks.AGENT_FAMILY, "employee's answer mark")

    async def clear_mark(self, kind: MarkKind, call_id: str) -> None:
        """Another call's stale mark (services/stale_marks.py), deleted on this session."""
        family = answer_marks.FAMILY if kind == "customer" else answer_marks.AGENT_FAMILY
        await self._delete_mark(family, f"stale {kind} mark of {call_id}", call_id)

    async def _delete_mark(self, family: str, what: str, call_id: str | None = None) -> None:
        try:  # res_agi runs DATABASE on a dead channel too
            await self._call.command("DATABASE DEL", family, call_id or self._call.uniqueid)
        except (AGIHangup, AGICommandError) as exc:  # the socket is gone or the PBX refused: the mark stays
            log.warning("AGI %s: %s not deleted: %s", self._call.uniqueid, what, exc)

    async def stream_file(self, name: str, escape_digits: str = "") -> tuple[str | None, int]:
        try:
            return await self._call.stream_file(name, escape_digits)
        except AGIHangup:
            return None, 0
        except AGICommandFailed:
            log.warning("AGI %s: could not play %r", self._call.uniqueid, name)
            return None, 0

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        try:
            return await self._call.wait_for_digit(timeout_ms)
        except (AGIHangup, AGICommandFailed):
            return None


def channel_handler(
    handle: Callable[[AGIChannel, str], Awaitable[None]],
    after: Callable[[AGIChannel], Awaitable[object]] | None = None,
) -> Callable[[AGICall], Awaitable[None]]:
    """Route handler running ``handle(AGIChannel(call), call.uniqueid)``, then ``after(channel)`` on the same session
    once the step returned (e.g. StaleAnswerMarks.clear_some)."""

    async def run(call: AGICall) -> None:
        channel = AGIChannel(call)
        await handle(channel, call.uniqueid)
        if after is not None:
            await after(channel)

    run.__qualname__ = getattr(handle, "__qualname__", "channel_handler")
    return run
