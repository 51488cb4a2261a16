"""PollCallHandler on a scripted channel, reporting to a real engine on fakes."""

from __future__ import annotations

import asyncio

import pytest
from tests.services.fakes import FakeChannel, FakeRenderer
from tests.services.harness import Harness

from autodialer.domain.poll_flow import PollDefinition, Press, Prompt, Question
from autodialer.services.poll_call import PollCallHandler, PollSettings

POLL = PollDefinition(
    7,
    (
        Question(
            "q1",
            "Debt <speach>. Press 1 to confirm",
            press=(
                Press("1", "answer", "yes", next_question="q2"),
                Press("3", "dial", "201"),
                Press("9", "optout", "stop"),
            ),
        ),
        Question("q2", "", file="/audio/taxi", press=(Press("1", "playback", "Thanks", "text"),)),
    ),
    max_repeats=1,
)


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def answered_poll(h: Harness) -> tuple[str, int]:
    h.store.polls[7] = POLL
    h.store.add_task(1, "7", inner_num_type="polling")
    number = h.store.add_number(1, "79001234567", params={"speach": "1000"})
    await h.step()
    call_id = h.last_call()
    assert h.calls.originated[-1].mode == "poll"
    assert h.calls.originated[-1].variables["DIALER_AGENT"] == ""
    h.answer(call_id)
    await h.step()
    return call_id, number.number_id


async def run(h: Harness, call_id: str, channel: FakeChannel, renderer: FakeRenderer | None = None) -> FakeRenderer:
    renderer = renderer or FakeRenderer()
    await PollCallHandler(h.engine, renderer, h.clock).handle(channel, call_id)
    return renderer


async def test_completed_poll_saves_answers_and_succeeds() -> None:
    h = Harness()
    call_id, number_id = await answered_poll(h)
    channel = FakeChannel(keys=["1", None, "1"])  # 1 during the first prompt; silence after the second, replayed: 1
    renderer = await run(h, call_id, channel)
    assert renderer.rendered == [
        Prompt("ru-RU", text="Debt 1000. Press 1 to confirm"),
        Prompt("ru-RU", file="/audio/taxi"),
        Prompt("ru-RU", file="/audio/taxi"),
        Prompt("ru-RU", text="Thanks"),
    ]
    assert ("WAIT FOR DIGIT", "5000") in channel.commands
    assert [(a.question_crm_id, a.result, a.exten, a.polling_id) for a in h.store.poll_answers] == [
        ("q1", "yes", "1", 7),
        ("q2", "1", "1", 7),
    ]
    assert h.store.poll_answers[0].phone_id == "9001234567"
    row = h.store.numbers[number_id].row
    assert (row.result, row.state) == ("SUCCESS_POLLING", "EVENT_POLLING_END")
    assert channel.commands[-1] == ("HANGUP",)


async def test_customer_hangs_up_mid_poll_is_fail_polling() -> None:
    h = Harness()
    call_id, number_id = await answered_poll(h)
    channel = FakeChannel(keys=[])  # silence, then the customer is gone
    await run(h, call_id, channel)
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.result == "FAIL_POLLING"


async def test_no_valid_key_replays_then_hangs_up_as_fail_polling() -> None:
    h = Harness()
    call_id, number_id = await answered_poll(h)
    channel = FakeChannel(keys=[None, "7", None, "8"])
    renderer = await run(h, call_id, channel)
    assert len(renderer.rendered) == 2  # asked, replayed once, then given up
    assert channel.commands[-1] == ("HANGUP",)
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.result == "FAIL_POLLING"


async def test_dial_action_ends_the_poll_and_connects() -> None:
    h = Harness()
    call_id, number_id = await answered_poll(h)
    channel = FakeChannel(keys=["3"])
    await run(h, call_id, channel)
    assert ("EXEC", "Dial", "Local/201@internal,60,g") in channel.commands
    assert h.store.numbers[number_id].row.result == "SUCCESS_POLLING"


async def test_opt_out_puts_the_number_on_the_dnc_list() -> None:
    h = Harness()
    call_id, number_id = await answered_poll(h)
    await run(h, call_id, FakeChannel(keys=["9"]))
    assert "9001234567" in h.store.dnc
    assert h.store.poll_answers[-1].result == "stop"
    assert h.store.numbers[number_id].row.result == "SUCCESS_POLLING"
    again = h.store.add_number(1, "+79001234567")  # the same phone again in the task: closed, never called
    assert await h.store.close_do_not_call(h.clock.now()) == 1
    assert h.store.numbers[again.number_id].row.state == "doNotCall"


async def test_opted_out_numbers_elsewhere_are_closed_so_their_tasks_can_close() -> None:
    h = Harness()
    other = h.store.add_number(2, "89001234567")  # the same phone (same last 10 digits) in another task
    call_id, number_id = await answered_poll(h)
    await run(h, call_id, FakeChannel(keys=["9"]))
    row = h.store.numbers[other.number_id].row
    assert (row.result, row.state, row.cause) == ("FAIL", "doNotCall", "Do not call list")
    assert row.close_time > 0
    assert h.store.numbers[number_id].row.result == "SUCCESS_POLLING"  # the calling row keeps its own result


async def test_unrenderable_question_ends_the_call() -> None:
    h = Harness()
    call_id, number_id = await answered_poll(h)
    channel = FakeChannel(keys=["1"])
    await run(h, call_id, channel, FakeRenderer(broken=True))
    assert channel.commands == [("ANSWER",), ("GET VARIABLE", "CHANNEL(callid)"), ("HANGUP",)]
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.result == "FAIL_POLLING"


async def test_unknown_call_is_hung_up() -> None:
    h = Harness()
    channel = FakeChannel()
    await run(h, "nobody", channel)
    assert channel.commands == [("HANGUP",)]


class PBXWithoutFile(FakeChannel):
    """Asterisk cannot open the prompt (STREAM FILE: result=-1 endpos=0, the channel stays up)."""

    async def stream_file(self, name: str, escape_digits: str = "") -> tuple[str | None, int]:
        self._command("STREAM FILE", name, escape_digits)
        return None, 0


async def test_a_question_the_pbx_cannot_play_ends_the_call_instead_of_asking_in_silence() -> None:
    h = Harness()
    call_id, number_id = await answered_poll(h)
    channel = PBXWithoutFile(keys=["1"])
    await run(h, call_id, channel)
    assert [c[0] for c in channel.commands] == ["ANSWER", "GET VARIABLE", "STREAM FILE", "HANGUP"]
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.result == "FAIL_POLLING"
    assert h.store.poll_answers == []


def employee_answers(channel: FakeChannel) -> int:
    channel.variables["DIALSTATUS"] = "ANSWER"
    return 0


async def transfer(h: Harness, channel: FakeChannel) -> tuple[str, int]:
    call_id, number_id = await answered_poll(h)
    settings = PollSettings(dial_timeout_s=20, agent_mark_context="dialer-connect")
    await PollCallHandler(h.engine, FakeRenderer(), h.clock, settings).handle(channel, call_id)
    return call_id, number_id


async def test_the_transfer_asks_the_pbx_to_mark_the_employees_answer_and_the_mark_goes_once_stored() -> None:
    """Like the connect step's Dial (services/agent_marks.py): U(<connect context>^<call id>); the Dial's ANSWER is
    stored as the attempt's dial status (the row stays SUCCESS_POLLING), then the mark is deleted."""
    h = Harness()
    channel = FakeChannel(keys=["3"], on_dial=employee_answers)
    call_id, number_id = await transfer(h, channel)
    assert ("EXEC", "Dial", f"Local/201@internal,20,gU(dialer-connect^{call_id})") in channel.commands
    assert channel.agent_mark_cleared
    attempt = h.store.attempts[call_id]
    assert (attempt.m_dial_status, attempt.agent_connected) == ("ANSWER", True)
    h.end(call_id)
    await h.step()
    [finished] = h.store.finished
    assert (finished.outcome, finished.m_dial_status) == ("SUCCESS_POLLING", "ANSWER")
    assert (h.store.numbers[number_id].row.result, h.store.numbers[number_id].row.state) == (
        "SUCCESS_POLLING",
        "EVENT_POLLING_END",
    )


async def test_a_transfer_nobody_answered_has_no_mark_to_delete() -> None:
    h = Harness()
    channel = FakeChannel({"DIALSTATUS": "NOANSWER"}, keys=["3"])
    call_id, number_id = await transfer(h, channel)
    assert not channel.agent_mark_cleared
    assert (h.store.attempts[call_id].m_dial_status, h.store.attempts[call_id].agent_connected) == ("NOANSWER", False)
    assert h.store.numbers[number_id].row.result == "SUCCESS_POLLING"  # the poll itself was done


async def test_the_employees_mark_stays_when_the_transfers_answer_was_not_committed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = Harness()
    call_id, _number_id = await answered_poll(h)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    channel = FakeChannel(keys=["3"], on_dial=employee_answers)
    real_exec = channel.exec

    async def exec_then_break(app: str, *args: str) -> int:
        result = await real_exec(app, *args)
        monkeypatch.setattr(h.store, "update_attempt", broken)  # the transfer's ANSWER cannot be stored
        return result

    channel.exec = exec_then_break  # type: ignore[method-assign]
    settings = PollSettings(dial_timeout_s=20, agent_mark_context="dialer-connect")
    step = asyncio.create_task(PollCallHandler(h.engine, FakeRenderer(), h.clock, settings).handle(channel, call_id))
    await settle()
    assert not channel.agent_mark_cleared  # AstDB still holds the employee's answer
    step.cancel()
    await asyncio.gather(step, return_exceptions=True)
    assert not channel.agent_mark_cleared


def test_a_bad_mark_context_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="agent_mark_context"):
        PollSettings(agent_mark_context="ctx^evil")
