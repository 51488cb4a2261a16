"""ConnectCallHandler: the FastAGI ``/connect`` logic, run on the customer's channel once the customer answered.

MikoPBX's ``dialer-out-originate-in`` did the same in dialplan: startDial → busy check (allUserBusy and hang up) →
Dial the employee → endDial(M_DIALSTATUS); the provider hangup handler then ran endCall. Here:

1. ask the engine for the call's context (unknown call: hang up, nothing is reported);
2. report startDial, with ``CHANNEL(callid)`` as MikoPBX's verboseCallId (an AGI argument of the shipped
   dialplan, so no round trip delays the Dial; read from the channel for an older dialplan), stored with the fact
   that the customer answered. The report is queued, not waited for: the engine writes it in its next event batch,
   with the reports of every connect step started meanwhile, while the customer is already being put through. The
   dialplan's AstDB mark of the answer is deleted once that write committed, after the Dial (ARCHITECTURE.md);
3. confirm the target can still take the call (the agent the engine reserved may have taken a direct call since;
   a queue must still have a member able to take a call, judged from the queue's own state, not one reserved
   member); if not: report allUserBusy (→ FAIL_USER_BUSY) and hang up;
4. Dial with option ``g`` so an employee hangup returns to us and can be told from a customer hangup: an extension
   whose reserved agent is its own device is dialed directly (``PJSIP/201``, unless configured otherwise); anything
   else, queues included, through the internal dialplan (``Local/2200@internal``) as MikoPBX did, so queue
   strategy, announcements and statistics still apply. With option ``U(<connect context>^<call id>)`` too: as the
   employee answers (for a queue: as a member answers, which answers the Local channel), Asterisk runs the connect
   context's ``s`` extension on the employee's channel before putting them through, and it marks the employee's
   answer in AstDB, as the first step marked the customer's (ARCHITECTURE.md: a call lost with us after that is the
   success it was, not lostOnRestart);
5. report the DIALSTATUS and who hung up first, then hang up if the customer is still there; once that report
   (ANSWER) is committed, the employee's mark is deleted, as the customer's is once startDial is. The step does not
   wait for that commit when it is given ``later_marks`` (the service does): Asterisk keeps the channel, and so
   the call's line, until the FastAGI socket closes, and the next call to the same employee (one line by default)
   waited a batch commit for it. The mark then goes to ``later_marks``, which deletes it on a later session once
   the report committed (services/stale_marks.py); at every instant the store or AstDB holds the answer.

Who is blamed for a customer gone before the Dial began (no employee was offered the call): if they left within
``left_at_once_s`` of the connect step's start, they hung up at once of their own accord, and the row reads as
MikoPBX's would (startDial then endCall: FAIL_CLIENT_H_BEFORE_ANSWER). Found gone later, the customer waited for
us: that is our delay, not their choice, and it is reported as ``abandoned`` (FAIL_USER_BUSY, state abandoned,
requeued like an agent-busy call, counted in the abandonment rate), never put down to the customer.

A power or predictive call reserved nobody (``ConnectContext.abandon_after_s`` is set): there is no busy check,
the customer is handed to the queue at once and waits there; the Dial's timeout is ``abandon_after_s`` (the Local
channel to the queue answers only when a member does, so the timeout is "no agent took the call in time"). If it
runs out with the customer still there, the call is abandoned: the engine is told (FAIL_USER_BUSY, state
``abandoned``), the customer hears the safe-harbor message (the campaign's audio or text, else the default text)
and the call ends. The queue itself never connects a customer to a member already in a call (ringinuse=no).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from dataclasses import dataclass

from autodialer.domain.mikopbx_results import ANSWER
from autodialer.domain.pacing_config import SafeHarbor
from autodialer.domain.poll_flow import Prompt
from autodialer.services.agent_marks import check_mark_context, employee_dial_options, marks_employee
from autodialer.services.call_channel import PromptChannel
from autodialer.services.call_progress import CallProgress, ConnectContext
from autodialer.services.poll_call import PromptRenderer, PromptUnavailable
from autodialer.services.ports import AvailabilityView, Clock
from autodialer.services.stale_marks import AnswerMark, LaterMarks

log = logging.getLogger(__name__)

# Only plain numbers reach a dial string: inner numbers come from the API and must not inject dialplan syntax.
_DIALABLE = re.compile(r"[0-9*#+]{1,32}")
SAFE_HARBOR_LANG = "en-US"  # the default message's language, and a campaign text's when it names none


def _seconds(value: float) -> str:
    """A Dial timeout as app_dial parses it (ast_app_parse_timelen: decimals allowed): "2", "2.5"."""
    return f"{value:g}"


@dataclass(frozen=True, slots=True)
class ConnectSettings:
    dial_timeout_s: int = 60
    internal_context: str = "internal"
    # False: extensions too go through the internal dialplan (MikoPBX's forwarding rules then apply, as with its
    # own module), at the price of not knowing which device answered.
    dial_extensions_directly: bool = True
    # A customer gone before our Dial began, found so within this long of the connect step's start, hung up at once
    # (FAIL_CLIENT_H_BEFORE_ANSWER); found later, they were kept waiting by us (abandoned). Our step reaches the
    # Dial with its first command (two with a dialplan from before 2026-12-07), so a second is ample; it is also
    # half the 2 s within which regulators (Ofcom) expect an answered person to be put through.
    left_at_once_s: float = 1.0
    # The context whose ``s`` extension marks an employee's answer in AstDB (the connect context of the shipped
    # dialplan, docs/dialplan.md): the Dial gets ``U(<it>^<call id>)``. None: no mark is asked for.
    agent_mark_context: str | None = None

    def __post_init__(self) -> None:
        check_mark_context("agent_mark_context", self.agent_mark_context)


def dial_target(context: ConnectContext, internal_context: str, directly: bool = True) -> str | None:
    """The Dial destination for the call, None when the inner number is not a plain number."""
    if not _DIALABLE.fullmatch(context.inner_num):
        return None
    if directly and _is_own_device(context):
        return context.agent
    return f"Local/{context.inner_num}@{internal_context}"


def _is_own_device(context: ConnectContext) -> bool:
    """The reserved agent is the extension's own device (``PJSIP/201`` for 201), not a queue member."""
    agent = context.agent
    return agent is not None and "/" in agent and agent.split("/", 1)[1] == context.inner_num


@dataclass(frozen=True, slots=True)
class _Step:
    """One connect step: its call, when it started and whether the engine has stored its answer yet.

    Every verdict (how the Dial ended, busy, abandoned) is queued before the step waits for ``stored``: under load
    the store can be seconds behind, a customer who hung up leaves the step ``hangup_grace`` to finish, and the
    FastAGI server then cancels it. Cancelled while waiting, a step leaves its AstDB mark behind (never a wrong
    verdict); a verdict not yet queued would be lost, and the call read as the customer's hangup before anyone
    answered (issue 11: 1,000 live calls)."""

    call_id: str
    context: ConnectContext
    started_at: float
    stored: Awaitable[bool]


class ConnectCallHandler:
    def __init__(
        self,
        progress: CallProgress,
        availability: AvailabilityView,
        clock: Clock,
        settings: ConnectSettings | None = None,
        prompts: PromptRenderer | None = None,  # the safe-harbor message; None: the call just ends
        later_marks: LaterMarks | None = None,  # deletes the employee's mark after the step (None: the step waits)
    ) -> None:
        self._progress = progress
        self._availability = availability
        self._clock = clock
        self._settings = settings or ConnectSettings()
        self._prompts = prompts
        self._later_marks = later_marks

    async def handle(self, channel: PromptChannel, call_id: str) -> None:
        """Run the connect step for ``call_id`` (the FastAGI ``agi_uniqueid``) on ``channel``."""
        context = await self._progress.connect_context(call_id)
        if context is None:
            log.warning("connect: call %s is not a call of ours in progress, hanging up", call_id)
            await channel.hangup()
            return
        started_at = self._clock.now()
        # Also stores that the customer answered. Queued, not awaited: the Dial goes out now, and the PBX's own
        # mark of the answer goes once the store has it (_forget_mark).
        # The call id of the PBX's log comes with the shipped dialplan's AGI arguments: no round trip before the Dial.
        stored = self._progress.connect_started(call_id, await channel.log_call_id())
        await self._connect(channel, _Step(call_id, context, started_at, stored))

    async def _connect(self, channel: PromptChannel, step: _Step) -> None:
        settings = self._settings
        call_id, context = step.call_id, step.context
        target = dial_target(context, settings.internal_context, settings.dial_extensions_directly)
        if target is not None and context.abandon_after_s is not None:
            await self._to_queue(channel, step, target, context.abandon_after_s)
            return
        if target is None or not self._target_free(context):
            log.info("connect: %s cannot take call %s now", context.inner_num, call_id)
            busy = self._progress.agent_busy(call_id)  # queued before any wait (see _Step)
            await self._forget_mark(channel, step)
            await busy
            if not channel.hung_up:
                await channel.hangup()
            return
        if channel.hung_up:
            await self._gone_before_dial(channel, step)
            return
        dial_result = await channel.exec("Dial", target, str(settings.dial_timeout_s), self._dial_options(call_id))
        status = await channel.get_variable("DIALSTATUS") or "NOANSWER"
        # Dial returns -1 only when the caller's channel hung up (with option g an employee hangup returns 0); the
        # asynchronous HANGUP line may arrive after that result, so hung_up alone can still be False here.
        customer_first = channel.hung_up or dial_result == -1
        ended = self._progress.connect_ended(call_id, status, customer_hung_up_first=customer_first)
        await self._forget_mark(channel, step)
        await self._forget_agent_mark(channel, call_id, status, ended)
        if not channel.hung_up:
            await channel.hangup()

    def _dial_options(self, call_id: str) -> str:
        """``g``, and ``U(<context>^<call id>)`` when the employee's answer is to be marked (docs/dialplan.md)."""
        return employee_dial_options(self._settings.agent_mark_context, call_id)

    async def _forget_agent_mark(
        self, channel: PromptChannel, call_id: str, status: str, ended: asyncio.Future[bool]
    ) -> None:
        """Once the report of how the Dial ended (``ended``, queued) committed an employee's answer (ANSWER), the
        PBX's mark of it goes: now if it is committed already or nobody can delete it later, else by a later session
        (``later_marks``) so that this step ends at once. Rolled back, or the step cancelled before this: the mark
        stays, and a call lost with us is still the success it was."""
        if status != ANSWER or not marks_employee(self._dial_options(call_id)):
            return
        if self._later_marks is not None and not ended.done():
            self._later_marks.delete_once_stored(AnswerMark("employee", call_id), ended)
            return
        if await ended:
            await channel.clear_agent_mark()

    async def _forget_mark(self, channel: PromptChannel, step: _Step) -> None:
        """Delete the PBX's mark of the answer once the engine committed the answer itself (it was queued before
        the Dial and is normally long stored by now), so that at every instant one of the two holds it. Rolled
        back: the mark stays, a crash cannot make the call look unanswered. ``DATABASE DEL`` works on a dead
        channel too; a handler cancelled before this leaves a mark behind, never a wrong verdict."""
        if await step.stored:
            await channel.clear_answer_mark()

    async def _gone_before_dial(self, channel: PromptChannel, step: _Step) -> None:
        """The customer left before any employee was offered the call: at once (theirs: startDial then endCall is
        FAIL_CLIENT_H_BEFORE_ANSWER, as in MikoPBX), or after waiting for our step to reach the Dial (ours)."""
        waited = self._clock.now() - step.started_at
        abandoned = None
        if waited > self._settings.left_at_once_s:
            log.warning(
                "connect: call %s: the customer left after %.1fs, before we dialled anyone: abandoned by us",
                step.call_id,
                waited,
            )
            abandoned = self._progress.abandoned(step.call_id)  # queued before any wait (see _Step)
        await self._forget_mark(channel, step)
        if abandoned is not None:
            await abandoned

    async def _to_queue(self, channel: PromptChannel, step: _Step, target: str, wait_s: float) -> None:
        """A paced call: the customer waits for an agent at most ``wait_s``, else hears the safe harbor."""
        call_id, context = step.call_id, step.context
        if channel.hung_up:
            await self._gone_before_dial(channel, step)
            return
        dial_result = await channel.exec("Dial", target, _seconds(wait_s), self._dial_options(call_id))
        status = await channel.get_variable("DIALSTATUS") or "NOANSWER"
        customer_first = channel.hung_up or dial_result == -1
        if status == ANSWER or customer_first:
            ended = self._progress.connect_ended(call_id, status, customer_hung_up_first=customer_first)
            await self._forget_mark(channel, step)
            await self._forget_agent_mark(channel, call_id, status, ended)
        else:
            abandoned = self._progress.abandoned(call_id)  # the verdict first: it must not wait for the message
            await self._forget_mark(channel, step)
            await abandoned
            await self._safe_harbor(channel, context)
        if not channel.hung_up:
            await channel.hangup()

    async def _safe_harbor(self, channel: PromptChannel, context: ConnectContext) -> None:
        harbor = context.safe_harbor or SafeHarbor()
        if self._prompts is None or channel.hung_up:
            return
        lang = harbor.lang or SAFE_HARBOR_LANG
        prompt = (
            Prompt(lang=lang, file=harbor.audio, fallback_text=harbor.spoken)
            if harbor.audio
            else Prompt(lang=lang, text=harbor.spoken)
        )
        try:
            name = await self._prompts.render(prompt)
            await channel.answer()
            await channel.stream_file(name, "")
        except PromptUnavailable as e:
            log.warning("connect: call %s: safe-harbor message unavailable: %s", context.call_id, e)

    def _target_free(self, context: ConnectContext) -> bool:
        if not self._availability.is_connected():
            return True  # unknown: let the Dial find out rather than drop a customer who answered
        queue = self._availability.queue_load(context.inner_num)
        if queue is not None:
            # A queue is busy only when none of its members can take a call (all in calls, paused, unavailable,
            # on DND). Members ringing for another caller of the queue do not make it busy: the customer waits
            # in the queue for them, as every caller of a queue does.
            return bool(queue.able)
        free = self._availability.free_agents(context.inner_num)
        if _is_own_device(context):
            return context.agent in free
        return bool(free)
