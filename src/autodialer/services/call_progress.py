"""The port between the FastAGI handlers (connect, poll) and the dialer engine that owns the attempt.

The handlers run on the answered customer's channel; they learn who the call is for and report what happened in
our own words. The engine (DialerEngine implements this Protocol) turns the reports into MikoPBX events on the
number's row. Every method is a no-op for an unknown or already finished call id, so a late or duplicate report
can never reopen or change a settled row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Protocol

from autodialer.domain.pacing_config import SafeHarbor
from autodialer.domain.poll_flow import PollDefinition


@dataclass(frozen=True, slots=True)
class ConnectContext:
    call_id: str
    task_id: int
    inner_num: str  # the extension or queue number of the task
    agent: str | None  # the agent interface the engine reserved for this call (e.g. "PJSIP/201")
    # Power/predictive calls (nobody reserved): how long the customer may wait for an agent before the safe-harbor
    # message, and that message. None: progressive, the agent was reserved.
    abandon_after_s: float | None = None
    safe_harbor: SafeHarbor | None = None


@dataclass(frozen=True, slots=True)
class PollContext:
    call_id: str
    task_id: int
    poll: PollDefinition
    params: Mapping[str, str]  # the number's params, for <key> substitution


class CallProgress(Protocol):
    async def connect_context(self, call_id: str) -> ConnectContext | None:
        """What the connect step needs, None if the call is unknown (not ours, or already finished)."""
        ...

    async def customer_answered(self, call_id: str) -> None:
        """The handler runs on the call's channel, so its customer answered: stored before this returns."""
        ...

    def connect_started(self, call_id: str, verbose_call_id: str | None) -> Awaitable[bool]:
        """About to dial the employee (MikoPBX startDial); the customer answered. Queued at once, ahead of anything
        the Dial that follows causes, and not waited for: the customer's wait for an employee must not grow with
        the store's load. The answer is stored with it (as by ``customer_answered``); the awaitable gives True once
        both are committed (the PBX's own mark of the answer may go then), False if their write was rolled back."""
        ...

    # The three verdicts below, like connect_started, are queued when called, not when awaited: a handler cancelled
    # afterwards (the FastAGI server's hangup grace ran out while it waited for the store) leaves them queued, and
    # they still apply. A handler queues its verdict before any wait of its own.

    def agent_busy(self, call_id: str) -> Awaitable[bool]:
        """Nobody can take the answered call; the handler hangs up (allUserBusy → FAIL_USER_BUSY). True once
        committed."""
        ...

    def abandoned(self, call_id: str) -> Awaitable[bool]:
        """The answered customer was not put through to an agent in time: no agent took the call within
        abandon_after_s (the handler plays the safe-harbor message and hangs up), or the customer left while our
        connect step was still getting to the Dial (FAIL_USER_BUSY, state abandoned, requeued as an agent-busy
        call; counted against the campaign's abandonment cap). True once committed."""
        ...

    def connect_ended(self, call_id: str, dial_status: str, customer_hung_up_first: bool) -> asyncio.Future[bool]:
        """The Dial to the employee returned with ``dial_status`` (ANSWER, NOANSWER, BUSY …). Queued before the
        FastAGI socket closes: Asterisk keeps the channel until then, so this always precedes CallEnded. True once
        committed (the PBX's mark of the employee's answer may go then), False if the write was rolled back."""
        ...

    async def poll_context(self, call_id: str) -> PollContext | None: ...

    async def poll_started(self, call_id: str, verbose_call_id: str | None = None) -> None: ...

    async def poll_answer(
        self,
        call_id: str,
        question_id: str,
        result: str,
        exten: str,
        *,
        asked: str | None = None,
        poll_version: int | None = None,
    ) -> None:
        """One key press: ``asked`` is the question as the customer heard it (text after params substitution, or
        the file), ``poll_version`` the version of the definition the call runs (None: the current one)."""
        ...

    async def poll_completed(self, call_id: str) -> None: ...

    async def transfer_ended(self, call_id: str, dial_status: str) -> bool:
        """The poll's transfer (its "dial" key, after EVENT_POLLING_END) returned with ``dial_status``: stored as the
        attempt's dial status (the row keeps its SUCCESS_POLLING). Reported before the FastAGI socket closes, so it
        precedes CallEnded. True once committed (the PBX's mark of the employee's answer may go then)."""
        ...

    async def opt_out(self, call_id: str) -> None:
        """The customer asked not to be called again: put the number on the do-not-call list."""
        ...
