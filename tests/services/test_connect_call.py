"""ConnectCallHandler on a scripted channel, reporting to a real engine on fakes."""

from __future__ import annotations

from tests.services.fakes import FakeChannel
from tests.services.harness import Harness

from autodialer.services.call_progress import ConnectContext
from autodialer.services.connect_call import ConnectCallHandler, ConnectSettings, dial_target


async def answered(h: Harness, inner: str = "201") -> tuple[str, int]:
    h.store.add_task(1, inner)
    number = h.store.add_number(1, "5551001")
    await h.step()
    call_id = h.last_call()
    h.answer(call_id)
    await h.step()
    return call_id, number.number_id


def handler(h: Harness) -> ConnectCallHandler:
    return ConnectCallHandler(h.engine, h.availability, ConnectSettings(dial_timeout_s=20))


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
