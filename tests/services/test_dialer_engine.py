"""DialerEngine against fakes on virtual time: results, retries, shared targets, pause, restart, watchdog."""

from __future__ import annotations

import asyncio

import pytest
from tests.services.harness import NO_RETRIES, Harness

from autodialer.domain.call_events import AgentConnected, CallEnded, CustomerOutcome, CustomerRinging
from autodialer.domain.call_results import LOST_ANSWERED_CAUSE, LOST_CAUSE
from autodialer.domain.mikopbx_results import ResultRow
from autodialer.domain.poll_flow import PollDefinition, Press, Question
from autodialer.domain.retry_policy import RetryPolicy, RetryRule
from autodialer.services.dialer_engine import EngineSettings
from autodialer.services.dialer_store import Attempt
from autodialer.services.memory_store import InMemoryDialerStore
from autodialer.services.ports import CallMarks, OriginateRejected, PbxUnavailable


async def test_a_call_is_stored_before_originate_and_reserves_the_agent() -> None:
    h = Harness()
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "+7 (900) 123-45-67")
    await h.step()
    [request] = h.calls.originated
    assert request.dial_number == "79001234567"
    assert (request.inner_num, request.mode, request.variables["DIALER_AGENT"]) == ("201", "connect", "PJSIP/201")
    attempt = h.store.attempts[request.call_id]
    assert attempt.number_id == number.number_id
    row = h.store.numbers[number.number_id].row
    assert (row.state, row.count_try, row.linked_id) == ("CreateCallFile", 1, request.call_id)
    assert row.call_file == "dialer-1-79001234567-201.call"
    assert h.engine.reserved_agents() == {"PJSIP/201"}
    assert h.events.sent == [
        ("AutoDialer", {"dEvent": "StartDial", "OUT_NUMBER": "+7 (900) 123-45-67", "TASK_ID": "1"})
    ]


async def test_dial_prefix_task_then_default() -> None:
    h = Harness(settings=EngineSettings(def_dial_prefix="9", retry_policy=NO_RETRIES))
    h.availability.free["202"] = {"PJSIP/202"}
    h.store.add_task(1, "201", dial_prefix="8")
    h.store.add_task(2, "202")
    h.store.add_number(1, "5551001")
    h.store.add_number(2, "5551002")
    await h.step()
    assert sorted(r.dial_number for r in h.calls.originated) == ["85551001", "95551002"]


@pytest.mark.parametrize(
    ("outcome", "cause", "text", "dial", "result", "out_dial_state"),
    [
        (CustomerOutcome.BUSY, 17, "User busy", "BUSY", "FAIL", "BUSY"),
        (CustomerOutcome.NO_ANSWER, 19, "User alerting, no answer", "CANCEL", "FAIL", "CANCEL"),
        (CustomerOutcome.NO_ROUTE, 0, "Unknown", None, "FAIL_ROUTE", None),
        (CustomerOutcome.PROVIDER_UNAVAILABLE, None, "", None, "FAIL_PROVIDER", "CHANUNAVAIL"),
    ],
)
async def test_customer_failures_release_everything(
    outcome: CustomerOutcome, cause: int | None, text: str, dial: str | None, result: str, out_dial_state: str | None
) -> None:
    h = Harness()
    number_id = await h.dial_one("5551486")
    call_id = h.last_call()
    h.calls.emit(CustomerRinging(call_id))
    h.clock.advance(3)
    h.fail(call_id, outcome, cause, text, dial)
    await h.step()
    row = h.row(number_id)
    assert (row.result, row.out_dial_state, row.close_time) == (result, out_dial_state, int(h.clock.now()))
    assert h.engine.reserved_agents() == frozenset()
    assert h.engine.calls_in_flight == 0
    assert h.events.sent[-1][1]["dEvent"] == "EndCall"
    assert h.store.tasks[1].state == 1  # no open number left: auto-closed


async def connected_call(h: Harness, *, employee_answers: bool, customer_first: bool) -> str:
    await h.step()
    call_id = h.last_call()
    h.answer(call_id)
    await h.step()
    await h.engine.connect_started(call_id, "[C-00000001]")
    await h.engine.connect_ended(call_id, "ANSWER" if employee_answers else "NOANSWER", customer_first)
    h.end(call_id)
    await h.step()
    return call_id


@pytest.mark.parametrize(
    ("employee_answers", "customer_first", "result"),
    [(True, True, "SUCCESS_CLIENT_H"), (True, False, "SUCCESS_USER_H"), (False, False, "FAIL_USER_NO_ANSWER")],
)
async def test_connected_calls(employee_answers: bool, customer_first: bool, result: str) -> None:
    h = Harness()
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "5551001")
    call_id = await connected_call(h, employee_answers=employee_answers, customer_first=customer_first)
    row = h.store.numbers[number.number_id].row
    assert (row.result, row.verbose_call_id, row.linked_id) == (result, "[C-00000001]", call_id)
    assert h.events.sent[-1][1] == {
        "dEvent": "EndCall",
        "OUT_NUMBER": "5551001",
        "TASK_ID": "1",
        "DIAL_STATUS": "ANSWER",
    }


async def test_customer_hangs_up_before_the_employee_answers() -> None:
    h = Harness()
    number_id = await h.dial_one("5551001")
    call_id = h.last_call()
    h.answer(call_id)
    await h.engine.connect_started(call_id, None)
    h.end(call_id)  # the AGI never reported an end of Dial
    await h.step()
    assert h.row(number_id).result == "FAIL_CLIENT_H_BEFORE_ANSWER"


async def test_answered_call_without_any_connect_report_is_closed_as_fail() -> None:
    h = Harness()
    number_id = await h.dial_one("5551001")
    h.answer(h.last_call())
    h.end(h.last_call())
    await h.step()
    row = h.row(number_id)
    assert (row.result, row.state, row.close_time) == ("FAIL", "endCall", int(h.clock.now()))


async def test_busy_customer_is_retried_after_the_delay_and_the_engine_sleeps_until_then() -> None:
    policy = RetryPolicy(customer_busy=RetryRule(delay_s=300, max_retries=1))
    h = Harness(settings=EngineSettings(retry_policy=policy))
    number_id = await h.dial_one("5551486")
    first = h.last_call()
    h.fail(first, CustomerOutcome.BUSY, 17, "User busy", "BUSY")
    deadline = await h.step()
    row = h.row(number_id)
    assert (row.result, row.close_time, row.out_dial_state, row.count_try) == ("", 0, "BUSY", 1)
    assert deadline == pytest.approx(h.clock.now() + 300)
    assert h.store.tasks[1].state == 0
    h.clock.advance(299)
    await h.step()
    assert h.calls.call_ids == [first]
    h.clock.advance(1)
    await h.step()
    second = h.last_call()
    assert second != first
    assert h.row(number_id).count_try == 2
    h.fail(second, CustomerOutcome.BUSY, 17, "User busy", "BUSY")
    await h.step()
    row = h.row(number_id)
    assert (row.result, row.count_try) == ("FAIL", 2)
    assert h.store.tasks[1].state == 1


async def test_agent_busy_requeues_the_customer_without_charging_an_attempt() -> None:
    policy = RetryPolicy(agent_busy=RetryRule(delay_s=60, max_retries=1))
    h = Harness(settings=EngineSettings(retry_policy=policy))
    number_id = await h.dial_one("5551001")
    call_id = h.last_call()
    h.answer(call_id)
    await h.engine.connect_started(call_id, None)
    await h.engine.agent_busy(call_id)
    row = h.row(number_id)
    assert (row.result, row.requeues, row.state) == ("", 1, "allUserBusy")
    await h.step()
    assert len(h.calls.originated) == 1  # still in its call: never dialed twice at once
    h.end(call_id)
    await h.step()
    assert h.row(number_id).state == "allUserBusy"  # later events of that call are ignored
    h.clock.advance(60)
    await h.step()
    assert len(h.calls.originated) == 2


async def test_a_queue_target_is_a_capacity_not_a_member_per_call() -> None:
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/201", "PJSIP/202"})
    h.store.add_task(1, "2200", max_channels=5)
    for i in range(4):
        h.store.add_number(1, f"555100{i}")
    await h.step()
    assert [r.variables["DIALER_AGENT"] for r in h.calls.originated] == ["", ""]  # nobody is reserved
    assert h.engine.reserved_agents() == frozenset()
    await h.step()
    assert len(h.calls.originated) == 2  # two members, two calls needing one: no third
    h.fail(h.calls.call_ids[0], CustomerOutcome.BUSY, 17, "User busy", "BUSY")
    await h.step()
    assert len(h.calls.originated) == 3


async def test_a_queue_call_a_member_took_no_longer_needs_one_and_other_callers_do() -> None:
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/201", "PJSIP/202"})
    h.store.add_task(1, "2200", max_channels=5)
    for i in range(5):
        h.store.add_number(1, f"555200{i}")
    await h.step()
    first, second = h.calls.call_ids
    # 201 took the first call; the second waits in the queue, where 202 is ringing for it.
    h.availability.set_queue("2200", {"PJSIP/202"}, callers={second}, served={first})
    await h.step()
    assert len(h.calls.originated) == 2
    # 202 took the second: both busy, nothing to dial.
    h.availability.set_queue("2200", set(), served={first, second})
    await h.step()
    assert len(h.calls.originated) == 2
    # The first call is over and 201 free again, but an inbound caller (not ours) waits in the queue for it.
    h.end(first)
    h.availability.set_queue("2200", {"PJSIP/201"}, callers={"1795804688.9"}, served={second})
    await h.step()
    assert len(h.calls.originated) == 2
    h.availability.set_queue("2200", {"PJSIP/201"}, served={second})
    await h.step()
    assert len(h.calls.originated) == 3


async def test_a_queue_and_an_extension_sharing_an_agent_never_over_dial_it() -> None:
    h = Harness()
    h.availability.set_queue("2200", {"PJSIP/201"})
    h.store.add_task(1, "2200", max_channels=5)
    h.store.add_task(2, "201", max_channels=5)
    for task_id in (1, 2):
        for i in range(2):
            h.store.add_number(task_id, f"55{task_id}{i}")
    await h.step()
    await h.step()
    assert len(h.calls.originated) == 1  # one person, reachable two ways: one call


async def test_two_tasks_on_one_extension_never_over_dial_it() -> None:
    h = Harness()
    h.store.add_task(1, "201", max_channels=3)
    h.store.add_task(2, "201", max_channels=3)
    for task_id in (1, 2):
        for i in range(3):
            h.store.add_number(task_id, f"55{task_id}{i}")
    for _ in range(6):
        await h.step()
        assert h.engine.calls_in_flight == 1
        h.fail(h.last_call(), CustomerOutcome.BUSY, 17, "User busy", "BUSY")
        await h.step()
    assert len(h.calls.originated) == 6
    assert {h.store.attempts.get(c) for c in h.calls.call_ids} == {None}
    # they took turns on the one extension rather than task 1 first emptying its list
    tasks = [h.store.finished[i].task_id for i in range(6)]
    assert tasks == [1, 2, 1, 2, 1, 2]


async def test_pause_stops_new_calls_and_resume_restarts_them() -> None:
    h = Harness()
    h.store.add_task(1, "201")
    first = h.store.add_number(1, "5551001")
    second = h.store.add_number(1, "5551002")
    await h.step()
    h.store.set_task_state(1, 2)
    h.engine.task_changed()
    h.fail(h.last_call(), CustomerOutcome.BUSY, 17, "User busy", "BUSY")
    await h.step()
    assert h.store.numbers[first.number_id].row.result == "FAIL"  # the call in progress still closes its row
    assert len(h.calls.originated) == 1
    assert h.store.tasks[1].state == 2  # a paused task is not auto-closed
    h.store.set_task_state(1, 0)
    h.engine.task_changed()
    await h.step()
    assert len(h.calls.originated) == 2
    assert h.store.attempts[h.last_call()].number_id == second.number_id


async def test_availability_gates_dialing() -> None:
    h = Harness()
    h.store.add_task(1, "201")
    h.store.add_number(1, "5551001")
    h.availability.connected = False
    assert await h.step() is not None  # only the watchdog
    assert h.calls.originated == []
    h.availability.connected = True
    h.availability.set_free("201", set())
    await h.step()
    assert h.calls.originated == []
    h.availability.set_free("201", {"PJSIP/201"})
    await h.step()
    assert len(h.calls.originated) == 1


async def test_rejected_originate_releases_and_retries_later() -> None:
    policy = RetryPolicy(originate_rejected=RetryRule(delay_s=60, max_retries=1))
    h = Harness(settings=EngineSettings(retry_policy=policy))
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "5551001")
    h.calls.reject_next = 2
    await h.step()
    row = h.store.numbers[number.number_id].row
    assert (row.result, row.state, row.count_try) == ("", "failedOriginate", 1)
    assert h.engine.reserved_agents() == frozenset() and h.store.attempts == {}
    h.clock.advance(60)
    await h.step()
    row = h.store.numbers[number.number_id].row
    assert (row.result, row.count_try) == ("FAIL_ROUTE", 2)
    assert h.events.sent == []  # no call was placed, so no StartDial/EndCall


async def test_restart_adopts_live_calls_and_closes_vanished_ones_without_redialing() -> None:
    h = Harness()
    h.availability.free["2200"] = {"PJSIP/201", "PJSIP/202"}
    h.store.add_task(1, "2200", max_channels=2)
    live_number = h.store.add_number(1, "5551001")
    lost_number = h.store.add_number(1, "5551002")
    await h.step()
    live, lost = h.calls.call_ids
    h.answer(live)
    await h.step()
    del h.calls.live[lost]  # it ended while we were down; the event is gone
    h.engine = h.new_engine()  # "restart": a new engine on the same store and PBX
    await h.step()
    assert len(h.calls.originated) == 2  # nothing dialed again
    lost_row = h.store.numbers[lost_number.number_id].row
    # lost with us: its own state and a FAIL (no retries here), never the customer's doing
    assert (lost_row.state, lost_row.cause, lost_row.result) == ("lostOnRestart", LOST_CAUSE, "FAIL")
    assert (lost_row.out_dial_state, lost_row.count_try) == (None, 1)
    assert h.engine.reserved_agents() == {h.store.attempts[live].agent}
    await h.engine.connect_started(live, None)
    await h.engine.connect_ended(live, "ANSWER", customer_hung_up_first=False)
    h.end(live)
    await h.step()
    assert h.store.numbers[live_number.number_id].row.result == "SUCCESS_USER_H"


async def test_restart_during_a_bridged_call_keeps_it_a_success() -> None:
    # The engine that ran the connect step died with it; the PBX still shows the employee bridged to the customer.
    h = Harness()
    number_id = await h.dial_one("5551001")
    call_id = h.last_call()
    h.answer(call_id)
    await h.step()
    await h.engine.connect_started(call_id, None)
    h.calls.agent_connected.add(call_id)
    h.engine = h.new_engine()
    await h.step()
    h.end(call_id)
    await h.step()
    assert h.row(number_id).result == "SUCCESS_CLIENT_H"


async def test_calls_lost_while_the_pbx_link_was_down_are_closed_once_it_is_back() -> None:
    # A PBX restart ends every call without a single event; the watchdog's grace must not hold them for minutes.
    h = Harness()
    number_id = await h.dial_one("5551001")
    call_id = h.last_call()
    h.availability.connected = False
    await h.step()
    h.calls.live.clear()
    h.calls.unreachable = True  # still reconnecting
    h.availability.connected = True
    await h.step()
    assert h.engine.calls_in_flight == 1
    h.calls.unreachable = False
    await h.step()
    assert h.row(number_id).result == "FAIL" and h.engine.calls_in_flight == 0
    assert call_id not in h.store.attempts


async def test_restart_while_the_pbx_is_unreachable_reconciles_as_soon_as_it_answers() -> None:
    # At start-up the AMI link is always still connecting: reconciliation must not wait for the watchdog's grace.
    h = Harness()
    number_id = await h.dial_one("5551001")
    call_id = h.last_call()
    h.store.add_number(1, "5551002")
    h.calls.unreachable = True
    h.calls.live.clear()
    h.engine = h.new_engine()
    await h.step()
    await h.step()
    assert h.engine.calls_in_flight == 1 and len(h.calls.originated) == 1  # held, and nothing new dialed
    h.calls.unreachable = False
    await h.step()
    assert h.row(number_id).result == "FAIL"
    assert call_id not in h.store.attempts
    assert len(h.calls.originated) == 2  # dialing resumes once the stored attempts are settled


async def test_watchdog_closes_calls_the_pbx_no_longer_knows() -> None:
    h = Harness(settings=EngineSettings(retry_policy=NO_RETRIES, watchdog_interval_s=30, watchdog_grace_s=90))
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "5551001")
    deadline = await h.step()
    call_id = h.last_call()
    assert deadline == pytest.approx(h.clock.now() + 30)
    h.calls.live.clear()  # the PBX lost it and we got no event
    h.clock.advance(60)
    await h.step()
    assert call_id in h.store.attempts  # younger than the grace period
    h.clock.advance(30)
    await h.step()
    assert h.store.numbers[number.number_id].row.result == "FAIL"
    assert h.engine.reserved_agents() == frozenset()


async def test_watchdog_prefers_a_real_end_event_that_arrived_meanwhile() -> None:
    h = Harness(settings=EngineSettings(retry_policy=NO_RETRIES, watchdog_interval_s=30, watchdog_grace_s=0))
    number_id = await h.dial_one("5551001")
    call_id = h.last_call()
    h.clock.advance(30)
    h.fail(call_id, CustomerOutcome.BUSY, 17, "User busy", "BUSY")  # queued, not yet handled
    async with h.engine.state.lock:  # the watchdog runs inside a step; call it directly with the queue still full
        await h.engine.watchdog(h.clock.now())
    assert h.row(number_id).out_dial_state == "BUSY"


async def test_number_deleted_during_its_call_goes_when_the_call_ends() -> None:
    h = Harness()
    number_id = await h.dial_one("5551001")
    h.store.delete_number(number_id)
    assert number_id in h.store.numbers
    h.fail(h.last_call(), CustomerOutcome.BUSY, 17, "User busy", "BUSY")
    await h.step()
    assert number_id not in h.store.numbers


async def test_events_for_unknown_calls_are_ignored() -> None:
    h = Harness()
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "5551001")
    await h.engine.start()
    h.end("not-ours")
    await h.engine.connect_started("not-ours", None)
    await h.step()
    assert h.store.numbers[number.number_id].row.state == "CreateCallFile"


async def test_user_events_survive_a_pbx_outage() -> None:
    h = Harness()
    h.events.down = True
    h.store.add_task(1, "201")
    h.store.add_number(1, "5551001")
    await h.step()
    assert len(h.calls.originated) == 1


async def test_per_task_retry_overrides() -> None:
    h = Harness(settings=EngineSettings(retry_policy=NO_RETRIES))
    h.store.add_task(1, "201", retry_overrides={"customer_busy": {"delay_s": 10, "max_retries": 1}})
    number = h.store.add_number(1, "5551001")
    await h.step()
    h.fail(h.last_call(), CustomerOutcome.BUSY, 17, "User busy", "BUSY")
    await h.step()
    assert h.store.numbers[number.number_id].row.next_attempt_at == h.clock.now() + 10


async def test_time_call_allow_and_the_loop_sleeps_on_virtual_time() -> None:
    h = Harness(settings=EngineSettings(retry_policy=NO_RETRIES, watchdog_interval_s=3600))
    h.store.add_task(1, "201")
    h.store.add_number(1, "5551001", time_call_allow=int(h.clock.now()) + 120)
    runner = asyncio.create_task(h.engine.run())
    await settle()
    assert h.calls.originated == []
    assert h.clock.sleeping == [pytest.approx(h.clock.now() + 120)]
    h.clock.advance(119)
    await settle()
    assert h.calls.originated == []
    h.clock.advance(1)
    await settle()
    assert len(h.calls.originated) == 1
    # a call event wakes the loop at once, without any time passing
    h.store.add_number(1, "5551002")
    h.fail(h.last_call(), CustomerOutcome.BUSY, 17, "User busy", "BUSY")
    await settle()
    assert len(h.calls.originated) == 2
    # so does a task change
    h.store.add_task(2, "202")
    h.store.add_number(2, "5551003")
    h.availability.free["202"] = {"PJSIP/202"}
    h.engine.task_changed()
    await settle()
    assert len(h.calls.originated) == 3
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def test_a_number_the_gateway_refuses_to_send_is_fail_route_at_once() -> None:
    h = Harness(settings=EngineSettings(retry_policy=RetryPolicy()))
    h.store.add_task(1, "201", max_channels=2)
    h.availability.free["201"] = {"PJSIP/201", "PJSIP/201b"}
    bad = h.store.add_number(1, "no digits")
    good = h.store.add_number(1, "5551001")
    await h.step()
    assert h.store.numbers[bad.number_id].row.result == "FAIL_ROUTE"
    assert h.store.attempts[h.last_call()].number_id == good.number_id


async def test_a_call_stuck_on_the_pbx_is_hung_up_after_the_maximum_duration() -> None:
    h = Harness(settings=EngineSettings(retry_policy=NO_RETRIES, watchdog_interval_s=60, max_call_s=3600))
    number_id = await h.dial_one()
    call_id = h.last_call()
    h.answer(call_id)
    h.clock.advance(3540)
    await h.step()
    assert h.calls.hung_up == []
    h.clock.advance(60)
    await h.step()
    assert h.calls.hung_up == [call_id]
    h.end(call_id)
    await h.step()
    assert h.row(number_id).close_time != 0 and h.engine.calls_in_flight == 0


async def test_reconciliation_is_retried_until_it_succeeds_and_nothing_is_dialed_before() -> None:
    h = Harness()
    h.store.add_task(1, "201")
    h.store.add_number(1, "5551001")
    await h.step()
    first = h.last_call()
    h.engine = h.new_engine()
    broken = h.store.attempts_in_flight

    async def failing() -> list[object]:
        raise OSError("database is locked")

    h.store.attempts_in_flight = failing  # type: ignore[method-assign,assignment]
    with pytest.raises(OSError):
        await h.step()
    h.store.attempts_in_flight = broken  # type: ignore[method-assign]
    await h.step()
    assert h.calls.call_ids == [first]
    assert h.engine.calls_in_flight == 1


async def test_end_call_event_reports_the_customer_dial_status() -> None:
    h = Harness()
    await h.dial_one()
    h.fail(h.last_call(), CustomerOutcome.NO_ROUTE, 0, "Unknown", None)
    await h.step()
    assert h.events.sent[-1][1]["DIAL_STATUS"] == "CHANUNAVAIL"


async def test_the_loop_survives_a_failing_step_and_backs_off_on_virtual_time(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    h.store.add_task(1, "201")
    h.store.add_number(1, "5551001")
    real_open_tasks = h.store.open_tasks
    failures = iter([True])

    async def flaky() -> list[object]:
        if next(failures, False):
            raise OSError("database is locked")
        return list(await real_open_tasks())

    h.store.open_tasks = flaky  # type: ignore[method-assign,assignment]
    runner = asyncio.create_task(h.engine.run())
    await settle()
    assert h.calls.originated == []
    assert "dialer engine step failed" in caplog.text
    assert h.clock.sleeping == [pytest.approx(h.clock.now() + 1.0)]
    h.clock.advance(1.0)
    await settle()
    assert len(h.calls.originated) == 1
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner


class _StoreThatFailsOnce(InMemoryDialerStore):
    """A store whose next row write fails, as a database that went away for a moment."""

    fail_next_save = False

    async def save_row(self, number_id: int, row: ResultRow) -> None:
        if self.fail_next_save:
            self.fail_next_save = False
            raise RuntimeError("database went away")
        await super().save_row(number_id, row)

    async def finish_attempt(self, attempt: Attempt, now: float, row: ResultRow | None = None) -> None:
        if self.fail_next_save:
            self.fail_next_save = False
            raise RuntimeError("database went away")
        await super().finish_attempt(attempt, now, row)


async def test_a_failed_event_batch_is_rebuilt_by_reconciliation_before_anything_else() -> None:
    store = _StoreThatFailsOnce()
    h = Harness(store=store)
    number_id = await h.dial_one("5551486")
    call_id = h.last_call()
    store.fail_next_save = True
    h.fail(call_id, CustomerOutcome.BUSY, 17, "User busy", "BUSY")
    with pytest.raises(RuntimeError):
        await h.step()  # the batch with the CustomerFailed event is lost
    await h.step()  # reconciliation first: the call is gone from the PBX, so it is closed, not left to the watchdog
    assert h.row(number_id).result == "FAIL"
    assert h.engine.calls_in_flight == 0 and h.engine.reserved_agents() == frozenset()


# ---- issue 9: PBX-side refusals, crashes between storing and dialing, calls lost with a restart


async def test_a_refusal_about_the_pbx_leaves_the_number_untouched_and_pauses_dialing() -> None:
    h = Harness(settings=EngineSettings(retry_policy=NO_RETRIES, pbx_pause_s=5.0))
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "5551001")
    before = h.row(number.number_id)
    h.calls.fail_next = [PbxUnavailable("Asterisk is shutting down")]
    deadline = await h.step()
    assert h.row(number.number_id) == before  # countTry, state, changeTime: as it was
    assert h.store.attempts == {} and [a.call_id for a in h.store.released] == [
        "dlr-" + h.store.released[0].call_id[4:]
    ]
    assert h.calls.originated == [] and h.events.sent == []
    assert deadline is not None and deadline >= h.clock.now() + 5.0  # paused ...
    await h.step()
    assert h.calls.originated == []
    h.clock.advance(5.0)  # ... until the pause ends (or a reconnect's reconcile, sooner)
    await h.step()
    assert len(h.calls.originated) == 1 and h.row(number.number_id).count_try == 1


async def test_a_refusal_about_the_call_is_still_fail_route() -> None:
    h = Harness()
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "5551001")
    h.calls.fail_next = [OriginateRejected("Extension does not exist.")]
    await h.step()
    row = h.row(number.number_id)
    assert (row.result, row.state, row.count_try) == ("FAIL_ROUTE", "failedOriginate", 1)


async def test_a_round_stored_but_never_sent_goes_back_to_the_queue_undialled_after_a_crash() -> None:
    h = Harness()
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "5551001")
    before = h.row(number.number_id)
    # the dead process stored its round (unconfirmed) and died before the Originate was written
    stored = Attempt(
        "dlr-dead",
        1,
        number.number_id,
        "5551001",
        "201",
        "connect",
        "PJSIP/201",
        h.clock.now(),
        written=False,
        confirmed=False,
    )
    assert await h.store.start_attempts([stored]) == {"dlr-dead"}
    h.engine = h.new_engine()
    await h.step()
    assert [a.call_id for a in h.store.released] == ["dlr-dead"]
    assert len(h.calls.originated) == 1 and h.last_call() != "dlr-dead"  # dialled now, as its first try
    row = h.row(number.number_id)
    assert row.count_try == before.count_try + 1 == 1 and row.linked_id == h.last_call()


async def test_an_unconfirmed_call_the_pbx_runs_is_adopted_not_redialled() -> None:
    h = Harness()
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "5551001")
    stored = Attempt(
        "dlr-sent", 1, number.number_id, "5551001", "201", "connect", "PJSIP/201", h.clock.now(), confirmed=False
    )
    await h.store.start_attempts([stored])
    h.calls.live["dlr-sent"] = "Ring"  # written just before the crash: the PBX has it
    h.engine = h.new_engine()
    await h.step()
    assert h.calls.originated == [] and h.store.released == []
    row = h.row(number.number_id)
    assert (row.count_try, row.state, row.linked_id) == (1, "CreateCallFile", "dlr-sent")
    h.fail("dlr-sent", CustomerOutcome.BUSY, 17, "User busy", "BUSY")
    await h.step()
    assert h.row(number.number_id).result == "FAIL"


async def test_a_call_lost_with_a_restart_before_its_customer_answered_is_retried() -> None:
    """No answer heard, none stored and no mark on the PBX: it provably never reached the customer."""
    policy = RetryPolicy(lost_on_restart=RetryRule(delay_s=10.0, max_retries=1))
    h = Harness(settings=EngineSettings(retry_policy=policy))
    number_id = await h.dial_one()
    first = h.last_call()
    del h.calls.live[first]  # it rang and ended while we were down
    h.engine = h.new_engine()
    await h.step()
    row = h.row(number_id)
    assert (row.state, row.result, row.close_time, row.count_try, row.cause) == ("lostOnRestart", "", 0, 1, LOST_CAUSE)
    h.clock.advance(10.0)
    await h.step()
    assert len(h.calls.originated) == 2 and h.row(number_id).count_try == 2


async def lost_after_the_answer(h: Harness, *, heard: bool) -> int:
    """A call whose customer answered (the dialplan marked it; ``heard``: we stored the answer too) is lost while
    we are down, and the restarted engine has reconciled."""
    number_id = await h.dial_one()
    call = h.last_call()
    if heard:
        h.answer(call)
        await h.step()
        await h.engine.connect_started(call, None)  # startDial: a customer hangup now would be FAIL_CLIENT_H_...
    else:  # killed between the answer and its commit: only the PBX knows
        assert h.calls.answer_marks is not None
        h.calls.answer_marks.add(call)
    del h.calls.live[call]  # the PBX lost it, or it ended, while we were down
    h.engine = h.new_engine()
    await h.step()
    return number_id


@pytest.mark.parametrize("heard", [True, False], ids=["answer-stored", "answer-only-marked-by-the-pbx"])
async def test_a_call_lost_after_its_customer_answered_and_before_any_employee_did_is_retried(heard: bool) -> None:
    """Issue 9: a call lost because we died is retried under the policy and never the customer's doing. The PBX
    marks every employee's answer (U()): no mark, nobody served the customer, so dialling again serves them."""
    policy = RetryPolicy(lost_on_restart=RetryRule(delay_s=10.0, max_retries=3))
    h = Harness(settings=EngineSettings(retry_policy=policy))
    number_id = await lost_after_the_answer(h, heard=heard)
    row = h.row(number_id)
    assert (row.state, row.result, row.cause, row.count_try) == ("lostOnRestart", "", LOST_ANSWERED_CAUSE, 1)
    assert row.close_time == 0 and row.out_dial_state is None  # reopened by lost_on_restart
    h.clock.advance(3600.0)
    await h.step()
    assert len(h.calls.originated) == 2 and h.row(number_id).count_try == 2


@pytest.mark.parametrize("employee_answered", [False, True], ids=["nobody-talked", "employee-talked"])
async def test_an_answered_call_the_pbx_hangs_up_while_shutting_down(employee_answered: bool) -> None:
    """Heard live to its end: no AgentConnected means no employee answered, so the call is retried, never the
    customer's doing; with one, it is the success it was."""
    policy = RetryPolicy(lost_on_restart=RetryRule(delay_s=10.0, max_retries=3))
    h = Harness(settings=EngineSettings(retry_policy=policy))
    number_id = await h.dial_one()
    call = h.last_call()
    h.answer(call)
    await h.step()
    assert await h.engine.connect_started(call, "[C-1]")
    if employee_answered:
        h.calls.emit(AgentConnected(call))
    h.calls.live.pop(call, None)
    h.calls.emit(CallEnded(call, 4, "Normal Clearing", pbx_shutdown=True))
    await h.step()
    row = h.row(number_id)
    if employee_answered:
        assert (row.result, row.count_try) == ("SUCCESS_CLIENT_H", 1) and row.close_time != 0
    else:
        assert (row.state, row.result, row.close_time, row.cause) == ("lostOnRestart", "", 0, LOST_ANSWERED_CAUSE)
    h.clock.advance(3600.0)
    await h.step()
    assert len(h.calls.originated) == (1 if employee_answered else 2)


@pytest.mark.parametrize("heard", [True, False], ids=["answer-stored", "answer-only-marked-by-the-pbx"])
async def test_without_the_employees_mark_a_call_lost_after_its_customer_answered_stays_final(heard: bool) -> None:
    """A dialplan from before the employee's mark cannot say whether an employee talked to the customer."""
    policy = RetryPolicy(lost_on_restart=RetryRule(delay_s=10.0, max_retries=3))
    h = Harness(settings=EngineSettings(retry_policy=policy))
    h.calls.agent_marks = None
    number_id = await lost_after_the_answer(h, heard=heard)
    row = h.row(number_id)
    assert (row.state, row.result, row.cause, row.count_try) == ("lostOnRestart", "FAIL", LOST_ANSWERED_CAUSE, 1)
    assert row.close_time != 0 and row.out_dial_state is None
    h.clock.advance(3600.0)
    await h.step()
    assert len(h.calls.originated) == 1  # the customer may have been served: never dialled again automatically


async def test_without_the_dialplans_answer_mark_no_lost_call_is_retried() -> None:
    """A dialplan installed before the mark proves nothing by a missing one: the lost call may have been answered."""
    policy = RetryPolicy(lost_on_restart=RetryRule(delay_s=10.0, max_retries=3))
    h = Harness(settings=EngineSettings(retry_policy=policy))
    h.calls.answer_marks = None
    h.calls.agent_marks = None  # the employee's mark came later still
    number_id = await h.dial_one()
    del h.calls.live[h.last_call()]
    h.engine = h.new_engine()
    await h.step()
    h.clock.advance(3600.0)
    await h.step()
    row = h.row(number_id)
    assert (row.state, row.result, row.cause) == ("lostOnRestart", "FAIL", LOST_ANSWERED_CAUSE)
    assert len(h.calls.originated) == 1


async def test_reconciliation_waits_while_the_pbx_cannot_say_which_calls_were_answered() -> None:
    policy = RetryPolicy(lost_on_restart=RetryRule(delay_s=10.0, max_retries=3))
    h = Harness(settings=EngineSettings(retry_policy=policy))
    number_id = await h.dial_one()
    del h.calls.live[h.last_call()]
    h.engine = h.new_engine()

    async def marks_unreachable(call_ids: object) -> CallMarks:
        raise ConnectionError("DBGetTree got no answer")

    call_marks = h.calls.call_marks
    h.calls.call_marks = marks_unreachable  # type: ignore[method-assign]
    await h.step()
    assert h.row(number_id).state == "CreateCallFile"  # nothing decided, nothing dialled
    h.calls.call_marks = call_marks  # type: ignore[method-assign]
    await h.step()
    assert (h.row(number_id).state, h.row(number_id).close_time) == ("lostOnRestart", 0)  # provably unanswered


async def lost_after_the_employee_answered(h: Harness, *, start_dial_stored: bool) -> tuple[int, str]:
    """The employee answered (the Dial's U() subroutine marked it in AstDB) but we were killed before storing it
    (AgentConnected or endDial), and the call ended while we were down."""
    number_id = await h.dial_one()
    call = h.last_call()
    h.answer(call)
    await h.step()
    if start_dial_stored:
        await h.engine.connect_started(call, None)
    if h.calls.agent_marks is not None:
        h.calls.agent_marks.add(call)
    del h.calls.live[call]
    h.engine = h.new_engine()
    await h.step()
    return number_id, call


@pytest.mark.parametrize("start_dial_stored", [True, False], ids=["startDial-stored", "startDial-lost-too"])
async def test_a_lost_call_whose_employee_answered_by_the_pbxs_mark_is_the_success_it_was(
    start_dial_stored: bool,
) -> None:
    """Ambiguity (1) closed: an employee's answer the PBX marked ends SUCCESS_CLIENT_H (startDial recorded from it
    when that was lost too, as for AgentConnected), not lostOnRestart, and is never dialled again."""
    policy = RetryPolicy(lost_on_restart=RetryRule(delay_s=10.0, max_retries=3))
    h = Harness(settings=EngineSettings(retry_policy=policy))
    number_id, _call = await lost_after_the_employee_answered(h, start_dial_stored=start_dial_stored)
    row = h.row(number_id)
    assert (row.result, row.count_try) == ("SUCCESS_CLIENT_H", 1), row
    assert row.close_time != 0 and row.state != "lostOnRestart"
    h.clock.advance(3600.0)
    await h.step()
    assert len(h.calls.originated) == 1


async def test_without_the_dialplans_employee_mark_such_a_call_stays_lost_on_restart() -> None:
    """A dialplan from before the employee's mark (no ``s`` step in the connect context): as before, FAIL."""
    h = Harness()
    h.calls.agent_marks = None
    number_id, _call = await lost_after_the_employee_answered(h, start_dial_stored=True)
    row = h.row(number_id)
    assert (row.state, row.result, row.cause) == ("lostOnRestart", "FAIL", LOST_ANSWERED_CAUSE)


async def test_an_employee_mark_of_a_call_still_live_changes_nothing() -> None:
    """The marks are read only for calls the PBX no longer lists: a live call is adopted and followed to its end."""
    h = Harness()
    number_id = await h.dial_one()
    call = h.last_call()
    h.answer(call)
    await h.step()
    assert h.calls.agent_marks is not None
    h.calls.agent_marks.add(call)
    h.engine = h.new_engine()
    await h.step()
    assert h.row(number_id).close_time == 0  # adopted, still going
    h.calls.emit(AgentConnected(call))
    h.end(call)
    await h.step()
    assert h.row(number_id).result == "SUCCESS_CLIENT_H"


async def test_an_adopted_call_whose_employee_answered_after_the_restart_ends_a_success() -> None:
    """The connect step died with us, so no endDial comes; AMI's AgentConnected says the employee answered."""
    h = Harness()
    number_id = await h.dial_one()
    call = h.last_call()
    h.answer(call)
    await h.step()
    await h.engine.connect_started(call, None)
    h.engine = h.new_engine()  # restart: the call is live and adopted, its employee still ringing
    await h.step()
    h.calls.emit(AgentConnected(call))
    h.end(call)
    await h.step()
    row = h.row(number_id)
    assert (row.result, row.count_try) == ("SUCCESS_CLIENT_H", 1) and len(h.calls.originated) == 1


async def test_user_events_refused_while_the_pbx_is_down_are_sent_once_it_is_back() -> None:
    h = Harness()
    number_id = await h.dial_one()
    call = h.last_call()
    h.events.down = True
    h.end(call)
    await h.step()
    assert h.row(number_id).result != "" and [f["dEvent"] for _n, f in h.events.sent] == ["StartDial"]
    h.events.down = False
    h.availability.connected = False  # the link drops and comes back: reconciliation resends
    await h.step()
    h.availability.connected = True
    await h.step()
    assert [f["dEvent"] for _n, f in h.events.sent] == ["StartDial", "EndCall"]


async def test_a_call_an_employee_answered_and_lost_while_we_were_down_stays_a_success() -> None:
    h = Harness()
    number_id = await h.dial_one()
    call = h.last_call()
    h.answer(call)
    await h.engine.connect_started(call, None)
    h.calls.emit(AgentConnected(call))  # seen on AMI; the connect step that would report it dies with us
    await h.step()
    del h.calls.live[call]  # the conversation ended while we were down
    h.engine = h.new_engine()
    await h.step()
    row = h.row(number_id)
    assert (row.result, row.count_try) == ("SUCCESS_CLIENT_H", 1) and len(h.calls.originated) == 1


async def test_an_unconfirmed_call_the_pbx_starts_late_is_adopted_after_the_grace_not_redialled() -> None:
    """A stalled PBX (or one working through a backlog) may run our last Originate after we are back: while the
    grace lasts nothing is judged or dialled, and a call that shows up in it is adopted."""
    h = Harness(settings=EngineSettings(unconfirmed_grace_s=3.0))
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "5551001")
    stored = Attempt(
        "dlr-sent", 1, number.number_id, "5551001", "201", "connect", "PJSIP/201", h.clock.now(), confirmed=False
    )
    await h.store.start_attempts([stored])
    h.engine = h.new_engine()
    await h.step()  # not listed yet: held, not lost
    h.clock.advance(1.0)
    await h.step()
    assert h.calls.originated == [] and h.row(number.number_id).state != "lostOnRestart"
    h.calls.live["dlr-sent"] = "Ring"  # the PBX ran it, late
    h.clock.advance(1.0)
    await h.step()
    row = h.row(number.number_id)
    assert (row.count_try, row.state, row.linked_id) == (1, "CreateCallFile", "dlr-sent")
    assert h.calls.originated == []


async def test_an_unconfirmed_call_still_unlisted_after_the_grace_is_lost() -> None:
    policy = RetryPolicy(lost_on_restart=RetryRule(delay_s=10.0, max_retries=1))
    h = Harness(settings=EngineSettings(unconfirmed_grace_s=3.0, retry_policy=policy))
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "5551001")
    stored = Attempt(
        "dlr-sent", 1, number.number_id, "5551001", "201", "connect", "PJSIP/201", h.clock.now(), confirmed=False
    )
    await h.store.start_attempts([stored])
    h.engine = h.new_engine()
    await h.step()
    assert h.row(number.number_id).state != "lostOnRestart"
    h.clock.advance(3.0)
    await h.step()
    assert h.row(number.number_id).state == "lostOnRestart" and h.calls.originated == []


async def test_the_kill_between_the_two_commits_of_a_round_and_a_failing_mark_send_nothing() -> None:
    """If recording "about to send" fails, nothing of the round goes out; the attempts are released later."""
    h = Harness()
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "5551001")

    async def broken(call_ids: object) -> None:
        raise RuntimeError("database gone")

    h.store.mark_written = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await h.step()
    assert h.calls.originated == [] and h.row(number.number_id).count_try == 0


async def test_a_connect_handler_cancelled_while_its_report_waits_still_gets_it_applied_by_the_engine() -> None:
    """Issue 11: at 1,000 live calls handlers waited for the engine lock past their hangup, were cancelled inside
    their own write transaction and left SQLite's write lock held. Reports now run in the engine, not the handler."""
    h = Harness()
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "5551001")
    await h.step()
    call_id = h.last_call()
    h.answer(call_id)
    await h.step()
    async with h.engine.state.lock:  # the engine is busy (a planning round): the report has to wait
        handler = asyncio.ensure_future(h.engine.connect_started(call_id, "[C-1]"))
        await settle()
        assert not handler.done()
        handler.cancel()  # FastAGI cancels a handler still running 2 s after the hangup
        await asyncio.gather(handler, return_exceptions=True)
    await settle()
    assert h.row(number.number_id).state == "startDial"  # applied by the engine all the same
    h.end(call_id)
    await h.step()
    assert h.row(number.number_id).result == "FAIL_CLIENT_H_BEFORE_ANSWER"


async def test_a_startdial_lost_with_us_after_the_dial_is_recorded_when_the_employee_answers() -> None:
    """The connect step dials without waiting for its startDial to commit; killed in between, the restarted engine
    learns the employee answered (AMI or the listing) and records startDial then: SUCCESS_CLIENT_H, not SUCCESS."""
    h = Harness()
    number_id = await h.dial_one()
    call = h.last_call()
    h.answer(call)
    await h.step()
    # The connect step queued startDial and dialled; the process died before that batch was written.
    h.engine = h.new_engine()  # restart: the call is live and adopted, the employee being rung
    await h.step()
    assert h.row(number_id).state != "startDial"
    h.calls.emit(AgentConnected(call))
    h.end(call)
    await h.step()
    assert h.row(number_id).result == "SUCCESS_CLIENT_H"


async def test_a_bridged_call_adopted_without_its_startdial_ends_as_the_success_it_was() -> None:
    h = Harness()
    number_id = await h.dial_one()
    call = h.last_call()
    h.answer(call)
    await h.step()
    h.calls.live[call] = "Up"
    h.calls.agent_connected.add(call)  # bridged to the employee when we died, startDial not committed
    h.engine = h.new_engine()
    await h.step()
    h.end(call)
    await h.step()
    assert h.row(number_id).result == "SUCCESS_CLIENT_H"


async def test_a_bridged_call_that_ends_while_the_verdict_waits_for_another_is_the_success_it_was() -> None:
    """Fault run (kill -9 x3, SQLite): a customer answered, the connect step dialled and the employee answered just
    as we died; restarted, the listing shows the call bridged, but the verdict waits out the grace of another call
    written and not yet listed, and the customer hangs up meanwhile. That hang-up, applied before the verdict,
    read the row as startDial with no Dial answered: FAIL_CLIENT_H_BEFORE_ANSWER, the customer blamed for our kill.
    What the listing shows is applied as it is seen."""
    h = Harness(settings=EngineSettings(unconfirmed_grace_s=3.0))
    number_id = await h.dial_one()
    call = h.last_call()
    h.answer(call)
    await h.step()
    assert await h.engine.connect_started(call, "[C-1]")
    other = h.store.add_number(1, "5551002")
    await h.store.start_attempts(
        [Attempt("dlr-late", 1, other.number_id, "5551002", "201", "connect", None, h.clock.now(), confirmed=False)]
    )
    h.calls.live[call] = "Up"
    h.calls.agent_connected.add(call)  # the employee answered as we died: nobody stored it
    h.engine = h.new_engine()
    await h.step()  # listed bridged; dlr-late is not listed yet: the verdict waits
    del h.calls.live[call]
    h.calls.agent_connected.discard(call)
    h.end(call)  # the customer hangs up after talking, while we wait
    h.clock.advance(3.0)
    await h.step()
    row = h.row(number_id)
    assert (row.result, row.count_try) == ("SUCCESS_CLIENT_H", 1)


async def test_a_connect_step_run_while_reconciliation_waits_applies_on_the_adopted_row() -> None:
    """Written, unconfirmed, the PBX lists it late: its connect step may report before the verdict. The row is
    begun (CreateCallFile) before those reports apply, so startDial is not overwritten by the adoption."""
    h = Harness(settings=EngineSettings(unconfirmed_grace_s=3.0))
    h.store.add_task(1, "201")
    number = h.store.add_number(1, "5551001")
    stored = Attempt(
        "dlr-sent", 1, number.number_id, "5551001", "201", "connect", "PJSIP/201", h.clock.now(), confirmed=False
    )
    await h.store.start_attempts([stored])
    h.engine = h.new_engine()
    await h.step()  # not listed yet: the verdict waits
    h.calls.live["dlr-sent"] = "Up"
    started = h.engine.connect_started("dlr-sent", "[C-9]")  # the customer answered meanwhile
    h.clock.advance(1.0)
    await h.step()
    assert await started
    assert (h.row(number.number_id).state, h.row(number.number_id).count_try) == ("startDial", 1)
    h.calls.emit(AgentConnected("dlr-sent"))
    h.end("dlr-sent")
    await h.step()
    assert h.row(number.number_id).result == "SUCCESS_CLIENT_H"


TRANSFER_POLL = PollDefinition(7, (Question("q1", "Press 3 to talk to us", press=(Press("3", "dial", "201"),)),))


async def poll_lost_during_its_transfer(h: Harness, *, poll_end_stored: bool) -> tuple[int, str]:
    """A poll call transferred to an employee (its "dial" key) who answered (the transfer's U() marked it in AstDB);
    we were killed before storing that, and the call ended while we were down. ``poll_end_stored`` False: the
    EVENT_POLLING_END written before the transfer was rolled back."""
    h.store.polls[7] = TRANSFER_POLL
    h.store.add_task(1, "7", inner_num_type="polling")
    number = h.store.add_number(1, "79001234567")
    await h.step()
    call = h.last_call()
    h.answer(call)
    await h.step()
    await h.engine.customer_answered(call)
    await h.engine.poll_started(call)
    if poll_end_stored:
        await h.engine.poll_completed(call)
    if h.calls.agent_marks is not None:
        h.calls.agent_marks.add(call)
    del h.calls.live[call]
    h.engine = h.new_engine()
    await h.step()
    return number.number_id, call


@pytest.mark.parametrize("poll_end_stored", [True, False], ids=["poll-end-stored", "poll-end-rolled-back"])
async def test_a_poll_lost_while_its_transfer_talked_is_the_success_polling_it_was(poll_end_stored: bool) -> None:
    """The poll's row is SUCCESS_POLLING (EVENT_POLLING_END precedes the transfer: recorded from the mark if that
    write was lost), and the attempt records its transfer answered: never lostOnRestart, never dialled again."""
    policy = RetryPolicy(lost_on_restart=RetryRule(delay_s=10.0, max_retries=3))
    h = Harness(settings=EngineSettings(retry_policy=policy))
    number_id, call = await poll_lost_during_its_transfer(h, poll_end_stored=poll_end_stored)
    row = h.row(number_id)
    assert (row.result, row.state, row.count_try) == ("SUCCESS_POLLING", "EVENT_POLLING_END", 1), row
    [attempt] = h.store.finished
    assert (attempt.call_id, attempt.outcome, attempt.m_dial_status) == (call, "SUCCESS_POLLING", "ANSWER")
    h.clock.advance(3600.0)
    await h.step()
    assert len(h.calls.originated) == 1


async def test_without_the_employee_mark_a_poll_whose_end_was_rolled_back_stays_lost_on_restart() -> None:
    """A dialplan from before the employee's mark: nothing says the transfer happened, so the open poll is lost."""
    h = Harness()
    h.calls.agent_marks = None
    number_id, _call = await poll_lost_during_its_transfer(h, poll_end_stored=False)
    row = h.row(number_id)
    assert (row.state, row.result, row.cause) == ("lostOnRestart", "FAIL", LOST_ANSWERED_CAUSE)
    [attempt] = h.store.finished
    assert attempt.m_dial_status is None
