"""The port for one answered call's channel, as the FastAGI handlers drive it.

The FastAGI adapter's per-session object (``AGICall``) satisfies these Protocols structurally; tests use a scripted
fake. Commands follow Asterisk's AGI semantics (tests/fixtures/asterisk/README.md §6): ``exec`` returns the
application's result (Dial: 0 when it returned normally, -1 when the channel hung up); ``get_variable`` still answers
after the hangup; ``hung_up`` turns True as soon as Asterisk's asynchronous ``HANGUP`` line arrives. After a hangup
the handlers send no channel command other than ``get_variable``; a command that meets a hangup may raise the
adapter's hangup error, which ends the handler (every report made so far stands, and the engine learns the end of the
call from CallEnded)."""

from __future__ import annotations

from typing import Protocol


class CallChannel(Protocol):
    @property
    def hung_up(self) -> bool: ...

    async def answer(self) -> None: ...

    async def exec(self, app: str, *args: str) -> int:
        """EXEC ``app`` with ``args`` (joined with ``,``); the application's result."""
        ...

    async def get_variable(self, name: str) -> str | None:
        """The variable's value, None when it is not set."""
        ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def log_call_id(self) -> str | None:
        """The channel's ``CHANNEL(callid)`` (``[C-0000001b]``, MikoPBX's verboseCallId), None when it has none.
        Free when the dialplan passed it to the step (the shipped snippet does, docs/dialplan.md); read from the
        channel (one round trip) for a dialplan installed before that."""
        ...

    async def hangup(self) -> None: ...

    async def clear_answer_mark(self) -> None:
        """Delete the PBX's own record that this call's customer answered (docs/dialplan.md), once the engine has
        stored that fact itself (``CallProgress.customer_answered``). Works on a hung-up channel too."""
        ...

    async def clear_agent_mark(self) -> None:
        """Delete the PBX's own record that an employee answered this call (the Dial's U() subroutine,
        docs/dialplan.md), once the engine has stored that fact (``CallProgress.connect_ended`` with ANSWER). Works on
        a hung-up channel too."""
        ...


class PromptChannel(CallChannel, Protocol):
    async def stream_file(self, name: str, escape_digits: str = "") -> tuple[str | None, int]:
        """Play ``name`` (no extension); the key among ``escape_digits`` that interrupted it (else None) and the
        end position in samples."""
        ...

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """One key pressed within ``timeout_ms``, None on timeout."""
        ...
