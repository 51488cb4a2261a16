"""Poll answers and opt-out: the FastAGI /poll step's reports (pollStarted, pollCompleted, an answer, "do not call
me again", the end of a transfer to an employee), queued with the call events by call_reports.CallReports and
applied in the engine's batches, in arrival order, holding the engine lock (engine_state) like every other
report."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from autodialer.domain import call_results
from autodialer.domain.mikopbx_results import ANSWER
from autodialer.services.call_progress import PollContext
from autodialer.services.call_reports import CallReports
from autodialer.services.dialer_store import PollAnswer
from autodialer.services.engine_state import EngineState

log = logging.getLogger("autodialer.services.dialer_engine")


class PollReports:
    """The /poll step's part of CallProgress. Its writes run as reports through ``CallReports`` (so under the engine
    lock, ``EngineState.lock``, in a batch); ``poll_context`` only reads and takes no lock."""

    def __init__(self, state: EngineState, reports: CallReports) -> None:
        self._state = state
        self._ledger = state.ledger
        self._store = state.store
        self._reports = reports

    async def poll_context(self, call_id: str) -> PollContext | None:
        attempt = self._ledger.get(call_id)
        if attempt is None or attempt.mode != "poll":
            return None
        number = await self._store.get_number(attempt.number_id)
        poll = await self._store.get_poll(int(attempt.inner_num)) if attempt.inner_num.isdigit() else None
        if number is None or poll is None:
            return None
        return PollContext(call_id, attempt.task_id, poll, number.params)

    async def poll_started(self, call_id: str, verbose_call_id: str | None = None) -> None:
        await self._reports.report(call_id, [call_results.poll_started(call_id, verbose_call_id)])

    async def poll_completed(self, call_id: str) -> None:
        await self._reports.report(call_id, [call_results.poll_completed(call_id)])

    def transfer_ended(self, call_id: str, dial_status: str) -> asyncio.Future[bool]:
        """The poll's transfer Dial ended with ``dial_status``: stored as the attempt's dial status (ANSWER, and the
        employee's answer, when AMI saw them answer or the Dial says so); the future says when it committed."""

        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is None:
                return
            # AMI saw the employee answer: the Dial was answered, whatever a step cut off could still read.
            talked = attempt.agent_connected or dial_status == ANSWER
            status = ANSWER if talked else dial_status
            await self._ledger.save(replace(attempt, m_dial_status=status, agent_connected=talked))

        return self._reports.queue(call_id, work)

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
        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is None or attempt.mode != "poll" or not attempt.inner_num.isdigit():
                return
            number = await self._store.get_number(attempt.number_id)
            if number is None:
                return
            answer = PollAnswer(
                task_id=attempt.task_id,
                question_crm_id=question_id,
                polling_id=int(attempt.inner_num),
                phone_id=number.phone_id,
                phone=number.phone,
                result=result,
                exten=exten,
                call_id=call_id,
                change_time=self._state.clock.now(),
                question_text=asked,
                poll_version=poll_version,
            )
            await self._store.add_poll_answer(answer)

        await self._reports.submit(call_id, work)

    async def opt_out(self, call_id: str) -> None:
        async def work() -> None:
            attempt = self._ledger.get(call_id)
            if attempt is not None:
                now = self._state.clock.now()
                await self._store.add_dnc(attempt.phone, source=f"poll:{attempt.inner_num}", now=now)
                closed = await self._store.close_do_not_call(now, phone=attempt.phone)
                log.info("call %s: %s opted out (%d other open rows closed)", call_id, attempt.phone, closed)
                self._state.wake()  # a task whose last open numbers were these can close now

        await self._reports.submit(call_id, work)
