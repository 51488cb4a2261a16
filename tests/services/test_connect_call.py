"""ConnectCallHandler on a scripted channel, reporting to a real engine on fakes."""

from __future__ import annotations

import asyncio

import pytest
from tests.services.fakes import FakeChannel
from tests.services.harness import Harness
from tests.services.test_stale_marks import Eraser, FakeEnded, FakeMarks, marks

from autodialer.domain.retry_policy import RetryPolicy, RetryRule
from autodialer.services.call_progress import ConnectContext
from autodialer.services.connect_call import ConnectCallHandler, ConnectSettings, dial_target
from autodialer.services.dialer_engine import EngineSettings
from autodialer.services.stale_marks import StaleAnswerMarks


async def answered(h: Harness, inner: str = "201") -> tuple[str, int]:
    h.store.add_task(1, inner)
    number = h.store.add_number(1, "5551001")
    await h.step()
    call_id = h.last_call()
    h.answer(call_id)
    await h.step()
    return call_id, number.number_id


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


def handler(h: Harness) -> ConnectCallHandler:
    return ConnectCallHandler(h.engine, h.availability, h.clock, ConnectSettings(dial_timeout_s=20))


def employee_answers_and_hangs_up(channel: FakeChannel) -> int:
    channel.variables["DIALSTATUS"] = "ANSWER"
    return 0  # option g: the employee's hangup returns to us with the customer still there


def customer_hangs_up_during_the_bridge(channel: FakeChannel) -> int:
    channel.variables["DIALSTATUS"] = "ANSWER"
    channel.customer_hangs_up()
    return -1


async def test_employee_hangs_up_first() -> None:
    h = Harness()
    call_id, number_id = await answered(h)
    channel = FakeChannel({"CHANNEL(callid)": "[C-0000001b]"}, on_dial=employee_answers_and_hangs_up)
    await handler(h).handle(channel, call_id)
    assert ("EXEC", "Dial", "PJSIP/201,20,g") in channel.commands
    assert channel.commands[-1] == ("HANGUP",)
    h.end(call_id)
    await h.step()
    row = h.store.numbers[number_id].row
    assert (row.result, row.in_dial_state, row.verbose_call_id) == ("SUCCESS_USER_H", "ANSWER", "[C-0000001b]")


async def test_the_log_call_id_passed_by_the_dialplan_costs_no_command_before_the_dial() -> None:
    h = Harness()
    call_id, number_id = await answered(h)
    channel = FakeChannel(on_dial=employee_answers_and_hangs_up, log_call_id="[C-0000001c]")
    await handler(h).handle(channel, call_id)
    assert channel.commands[0] == ("EXEC", "Dial", "PJSIP/201,20,g")
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.verbose_call_id == "[C-0000001c]"


async def test_customer_hangs_up_first() -> None:
    h = Harness()
    call_id, number_id = await answered(h)
    channel = FakeChannel(on_dial=customer_hangs_up_during_the_bridge)
    await handler(h).handle(channel, call_id)
    assert ("HANGUP",) not in channel.commands
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.result == "SUCCESS_CLIENT_H"


def customer_hangs_up_while_the_employee_rings(channel: FakeChannel) -> int:
    # As Asterisk does it: Dial gives -1 at once; the asynchronous HANGUP line reaches us only later.
    channel.variables["DIALSTATUS"] = "CANCEL"
    return -1


async def test_customer_hangs_up_before_the_employee_answers() -> None:
    h = Harness()
    call_id, number_id = await answered(h)
    channel = FakeChannel(on_dial=customer_hangs_up_while_the_employee_rings)
    await handler(h).handle(channel, call_id)
    h.end(call_id)
    await h.step()
    row = h.store.numbers[number_id].row
    assert (row.result, row.state, row.in_dial_state) == ("FAIL_CLIENT_H_BEFORE_ANSWER", "endCall", None)


async def test_employee_does_not_answer() -> None:
    h = Harness()
    call_id, number_id = await answered(h)
    channel = FakeChannel({"DIALSTATUS": "NOANSWER"})
    await handler(h).handle(channel, call_id)
    row = h.store.numbers[number_id].row
    assert (row.result, row.in_dial_state) == ("FAIL_USER_NO_ANSWER", "NOANSWER")
    assert channel.commands[-1] == ("HANGUP",)


async def test_busy_target_hangs_up_with_fail_user_busy() -> None:
    h = Harness()
    call_id, number_id = await answered(h)
    h.availability.set_free("201", set())  # 201 took a direct call while the customer's phone rang
    channel = FakeChannel()
    await handler(h).handle(channel, call_id)
    assert not any(c[0] == "EXEC" for c in channel.commands)
    assert channel.commands[-1] == ("HANGUP",)
    row = h.store.numbers[number_id].row
    assert (row.result, row.state) == ("FAIL_USER_BUSY", "allUserBusy")


async def test_queue_is_dialed_through_the_internal_dialplan() -> None:
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/202"})
    call_id, number_id = await answered(h, "2200")
    channel = FakeChannel(on_dial=employee_answers_and_hangs_up)
    await handler(h).handle(channel, call_id)
    assert ("EXEC", "Dial", "Local/2200@internal,20,g") in channel.commands
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.result == "SUCCESS_USER_H"


async def test_a_queue_whose_members_ring_for_another_caller_takes_the_customer() -> None:
    # ringall: the first caller's Queue() rings every member; the second customer is still handed to the queue.
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/201", "PJSIP/202"})
    call_id, number_id = await answered(h, "2200")
    h.availability.set_queue("2200", {"PJSIP/201", "PJSIP/202"}, callers={"dlr-first-caller"})
    channel = FakeChannel(on_dial=employee_answers_and_hangs_up)
    await handler(h).handle(channel, call_id)
    assert ("EXEC", "Dial", "Local/2200@internal,20,g") in channel.commands
    assert h.store.numbers[number_id].row.state != "allUserBusy"


async def test_queue_with_no_member_able_to_take_a_call_is_busy() -> None:
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/202"})
    call_id, number_id = await answered(h, "2200")
    h.availability.set_queue("2200", set(), served={"dlr-other"})  # in calls, paused, unavailable or on DND
    channel = FakeChannel()
    await handler(h).handle(channel, call_id)
    assert not any(c[0] == "EXEC" for c in channel.commands)
    assert h.store.numbers[number_id].row.result == "FAIL_USER_BUSY"


async def test_unknown_call_is_hung_up_without_reports() -> None:
    h = Harness()
    channel = FakeChannel()
    await handler(h).handle(channel, "someone-else")
    assert channel.commands == [("HANGUP",)]


async def test_availability_unknown_still_dials() -> None:
    h = Harness()
    call_id, _ = await answered(h)
    h.availability.connected = False
    channel = FakeChannel(on_dial=employee_answers_and_hangs_up)
    await handler(h).handle(channel, call_id)
    assert any(c[:2] == ("EXEC", "Dial") for c in channel.commands)


def test_dial_targets() -> None:
    assert dial_target(ConnectContext("c", 1, "201", "PJSIP/201"), "internal") == "PJSIP/201"
    assert dial_target(ConnectContext("c", 1, "2200", "PJSIP/201"), "internal") == "Local/2200@internal"
    assert dial_target(ConnectContext("c", 1, "201", None), "internal") == "Local/201@internal"
    assert dial_target(ConnectContext("c", 1, "201,30,U(x)", "PJSIP/201"), "internal") is None
    assert dial_target(ConnectContext("c", 1, "201&PJSIP/666", None), "internal") is None
    assert dial_target(ConnectContext("c", 1, "201", "PJSIP/201"), "internal", directly=False) == "Local/201@internal"


async def test_customer_gone_before_the_dial() -> None:
    h = Harness()
    call_id, number_id = await answered(h)
    channel = FakeChannel()
    channel.customer_hangs_up()
    await handler(h).handle(channel, call_id)
    assert not any(c[0] in ("EXEC", "HANGUP") for c in channel.commands)
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.result == "FAIL_CLIENT_H_BEFORE_ANSWER"


class SlowStep(FakeChannel):
    """A channel whose GET VARIABLE takes ``seconds`` of the clock (a loaded service), the customer leaving then."""

    def __init__(self, h: Harness, seconds: float) -> None:
        super().__init__()
        self._h = h
        self._seconds = seconds

    async def get_variable(self, name: str) -> str | None:
        self._h.clock.advance(self._seconds)
        self.customer_hangs_up()
        return await super().get_variable(name)


async def test_a_customer_who_left_at_once_before_the_dial_is_their_own_hangup() -> None:
    h = Harness()
    call_id, number_id = await answered(h)
    await handler(h).handle(SlowStep(h, 0.5), call_id)
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.result == "FAIL_CLIENT_H_BEFORE_ANSWER"


async def test_a_customer_kept_waiting_by_our_connect_step_is_not_blamed() -> None:
    """Issue 9: under load customers hung up waiting for our step to reach the Dial and were recorded as having
    hung up on the employee. Found gone later than left_at_once_s: abandoned by us, requeued, not the customer's."""
    h = Harness(settings=EngineSettings(retry_policy=RetryPolicy(agent_busy=RetryRule(delay_s=60, max_retries=5))))
    call_id, number_id = await answered(h)
    channel = SlowStep(h, 1.5)
    await handler(h).handle(channel, call_id)
    assert not any(c[0] in ("EXEC", "HANGUP") for c in channel.commands)
    assert channel.answer_mark_cleared
    h.end(call_id)
    await h.step()
    row = h.store.numbers[number_id].row
    # FAIL_USER_BUSY in state abandoned, reopened for a later attempt that does not charge the customer
    assert (row.result, row.state, row.requeues, row.count_try) == ("", "abandoned", 1, 1)


async def test_the_dial_does_not_wait_for_the_answer_to_be_stored_but_the_mark_does() -> None:
    """The startDial write waits for the engine (a planning round holds it); the customer is dialled through at
    once; the PBX's mark of the answer goes only once the answer is committed."""
    h = Harness()
    call_id, number_id = await answered(h)
    channel = FakeChannel(on_dial=employee_answers_and_hangs_up)
    async with h.engine.state.lock:
        step = asyncio.create_task(handler(h).handle(channel, call_id))
        await settle()
        assert ("EXEC", "Dial", "PJSIP/201,20,g") in channel.commands
        assert h.store.numbers[number_id].row.state != "startDial"
        assert not channel.answer_mark_cleared and not step.done()
    await step
    assert channel.answer_mark_cleared
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.result == "SUCCESS_USER_H"


async def test_the_mark_stays_when_the_answer_was_not_committed(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness()
    call_id, _number_id = await answered(h)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(h.store, "save_row", broken)
    channel = FakeChannel(on_dial=employee_answers_and_hangs_up)
    step = asyncio.create_task(handler(h).handle(channel, call_id))
    await settle()
    assert ("EXEC", "Dial", "PJSIP/201,20,g") in channel.commands
    assert not channel.answer_mark_cleared  # the batch rolled back: AstDB still holds the answer
    step.cancel()  # its last report waits for the engine to reconcile (the run loop's job, not running here)
    await asyncio.gather(step, return_exceptions=True)


def marking_handler(h: Harness) -> ConnectCallHandler:
    settings = ConnectSettings(dial_timeout_s=20, agent_mark_context="dialer-connect")
    return ConnectCallHandler(h.engine, h.availability, h.clock, settings)


async def test_the_dial_asks_the_pbx_to_mark_the_employees_answer_and_the_mark_goes_once_stored() -> None:
    """U(<connect context>^<call id>): the connect context's ``s`` subroutine runs on the employee's channel as they
    answer (docs/dialplan.md). Once endDial ANSWER is committed the mark is deleted, as the customer's is."""
    h = Harness()
    call_id, number_id = await answered(h)
    channel = FakeChannel(on_dial=employee_answers_and_hangs_up)
    await marking_handler(h).handle(channel, call_id)
    assert ("EXEC", "Dial", f"PJSIP/201,20,gU(dialer-connect^{call_id})") in channel.commands
    assert channel.answer_mark_cleared and channel.agent_mark_cleared
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.result == "SUCCESS_USER_H"


async def test_a_queue_dial_asks_for_the_mark_too() -> None:
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/202"})
    call_id, _number_id = await answered(h, "2200")
    channel = FakeChannel(on_dial=customer_hangs_up_during_the_bridge)
    await marking_handler(h).handle(channel, call_id)
    assert ("EXEC", "Dial", f"Local/2200@internal,20,gU(dialer-connect^{call_id})") in channel.commands
    assert channel.agent_mark_cleared


async def test_no_employee_answered_no_mark_to_delete() -> None:
    h = Harness()
    call_id, _number_id = await answered(h)
    channel = FakeChannel({"DIALSTATUS": "NOANSWER"})
    await marking_handler(h).handle(channel, call_id)
    assert channel.answer_mark_cleared and not channel.agent_mark_cleared


async def test_the_employees_mark_stays_when_endDial_was_not_committed(monkeypatch: pytest.MonkeyPatch) -> None:
    h = Harness()
    call_id, _number_id = await answered(h)
    await h.engine.connect_started(call_id, None)  # startDial stored: the customer's mark may go

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(h.store, "update_attempt", broken)
    monkeypatch.setattr(h.store, "save_row", broken)
    channel = FakeChannel(on_dial=employee_answers_and_hangs_up)
    step = asyncio.create_task(marking_handler(h).handle(channel, call_id))
    await settle()
    assert not channel.agent_mark_cleared  # the ANSWER is not stored: AstDB still holds it
    step.cancel()
    await asyncio.gather(step, return_exceptions=True)
    assert not channel.agent_mark_cleared


def test_a_call_id_that_could_break_the_dial_string_gets_no_mark_and_a_bad_context_is_refused() -> None:
    h = Harness()
    assert marking_handler(h)._dial_options("dlr-0123456789abcdef") == "gU(dialer-connect^dlr-0123456789abcdef)"
    assert marking_handler(h)._dial_options("a^b),x") == "g"
    with pytest.raises(ValueError, match="agent_mark_context"):
        ConnectSettings(agent_mark_context="ctx^evil")


async def cancelled_while_the_store_is_behind(h: Harness, channel: FakeChannel, call_id: str) -> None:
    """Run the connect step while the engine cannot commit (its lock held: a long event backlog), and cancel the
    step once it waits on the store, as the FastAGI server does when the hangup grace runs out."""
    async with h.engine.state.lock:
        step = asyncio.create_task(handler(h).handle(channel, call_id))
        await settle()
        assert not step.done()  # waiting for startDial's commit, to delete the PBX's mark of the answer
        step.cancel()
        await asyncio.gather(step, return_exceptions=True)


async def test_a_kept_waiting_customer_is_abandoned_even_when_the_step_is_cancelled_after_the_hangup() -> None:
    """Issue 11 (1,000 live calls): the step waited for startDial's commit before it reported the abandon; the
    store was seconds behind, the hangup grace cancelled the step and the abandon was never reported, so the
    customer we kept waiting read FAIL_CLIENT_H_BEFORE_ANSWER. The verdict is queued before any wait now."""
    h = Harness(settings=EngineSettings(retry_policy=RetryPolicy(agent_busy=RetryRule(delay_s=60, max_retries=5))))
    call_id, number_id = await answered(h)
    await cancelled_while_the_store_is_behind(h, SlowStep(h, 1.5), call_id)
    h.end(call_id)
    await h.step()
    row = h.store.numbers[number_id].row
    assert (row.result, row.state, row.requeues) == ("", "abandoned", 1)


async def test_how_the_dial_ended_is_stored_even_when_the_step_is_cancelled_after_the_hangup() -> None:
    """The customer talked to an employee and hung up; the step read DIALSTATUS=ANSWER and then waited for the store
    to delete the mark of the answer; cancelled there, its report was never queued and, without AMI's AgentConnect,
    the call read FAIL_CLIENT_H_BEFORE_ANSWER: a customer who talked recorded as never answered by anyone."""
    h = Harness()
    call_id, number_id = await answered(h)
    await cancelled_while_the_store_is_behind(h, FakeChannel(on_dial=customer_hangs_up_during_the_bridge), call_id)
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.result == "SUCCESS_CLIENT_H"


async def test_a_busy_verdict_is_stored_even_when_the_step_is_cancelled() -> None:
    """Nobody could take the answered customer: allUserBusy (FAIL_USER_BUSY, retried as not the customer's doing),
    not the customer's FAIL_CLIENT_H_BEFORE_ANSWER, whether or not the step lived to see startDial committed."""
    h = Harness()
    call_id, number_id = await answered(h)
    h.availability.set_free("201", set())  # 201 took a direct call while the customer's phone rang
    await cancelled_while_the_store_is_behind(h, FakeChannel(), call_id)
    h.end(call_id)
    await h.step()
    row = h.store.numbers[number_id].row
    assert (row.result, row.state) == ("FAIL_USER_BUSY", "allUserBusy")


class SlowDial(FakeChannel):
    """The employee talks until the test says so."""

    def __init__(self) -> None:
        super().__init__(on_dial=employee_answers_and_hangs_up)
        self.dialling = asyncio.Event()
        self.talk_ends = asyncio.Event()

    async def exec(self, app: str, *args: str) -> int:
        self.dialling.set()
        await self.talk_ends.wait()
        return await super().exec(app, *args)


async def test_with_later_marks_the_step_ends_without_waiting_for_its_report_and_the_mark_goes_later() -> None:
    """Asterisk keeps the channel (and the call's line) until the step ends: it must not wait for the engine to
    commit endDial. The employee's mark still goes only after that commit, on a later session."""
    h = Harness()
    call_id, number_id = await answered(h)
    pbx = FakeMarks(marks(f"e:{call_id}"))
    later = StaleAnswerMarks(pbx, FakeEnded(set()))
    step_handler = ConnectCallHandler(
        h.engine,
        h.availability,
        h.clock,
        ConnectSettings(dial_timeout_s=20, agent_mark_context="dialer-connect"),
        later_marks=later,
    )
    channel = SlowDial()
    step = asyncio.create_task(step_handler.handle(channel, call_id))
    await channel.dialling.wait()
    await settle()  # startDial committed during the talk
    assert h.store.numbers[number_id].row.state == "startDial"
    async with h.engine.state.lock:  # the engine busy: endDial cannot commit
        channel.talk_ends.set()
        await asyncio.wait_for(step, 5)
        assert channel.answer_mark_cleared and not channel.agent_mark_cleared and later.pending == 0
    await settle()
    assert h.store.numbers[number_id].row.state == "endDial"
    assert later.pending == 1
    assert await later.clear_some(Eraser(pbx)) == 1 and pbx.marks == set()
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.result == "SUCCESS_USER_H"
