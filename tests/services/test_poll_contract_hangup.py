"""A key Asterisk delivered counts even when the customer hangs up right after pressing it.

res_agi answers STREAM FILE / WAIT FOR DIGIT with the key (``200 result=49 endpos=…``) and, when the channel hangs up
next, writes the asynchronous ``HANGUP`` line (trace 07 lines 43-44; trace 02). The key is ours by then: its answer
row is stored and, on the last question, the poll ends as EVENT_POLLING_END / SUCCESS_POLLING (docs/polls.md: "A
customer who hangs up midway keeps the rows of the keys already pressed"). Only channel commands stop.
"""

from __future__ import annotations

from tests.services.fakes import FakeChannel
from tests.services.harness import Harness

from autodialer.domain.poll_flow import PollDefinition, Press, Question
from autodialer.services.poll_call import PollCallHandler


class KeyThenHangup(FakeChannel):
    """The customer presses ``key`` during the prompt and hangs up at once: the HANGUP line follows the result."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self._key = key

    async def stream_file(self, name: str, escape_digits: str = "") -> tuple[str | None, int]:
        self._command("STREAM FILE", name, escape_digits)
        if escape_digits:
            self.customer_hangs_up()
            return self._key, 1200
        return None, 8000


POLL = PollDefinition(
    8,
    (
        Question(
            "q1",
            "Press 1 if yes, 2 if no",
            press=(Press("1", "answer", "yes"), Press("2", "answer", "no", next_question="q2")),
        ),
        Question("q2", "Why?", press=(Press("1", "answer", "price"),)),
    ),
)


async def answered(h: Harness) -> tuple[str, int]:
    h.store.polls[8] = POLL
    h.store.add_task(1, "8", inner_num_type="polling")
    number = h.store.add_number(1, "79001234567")
    await h.step()
    call_id = h.last_call()
    h.answer(call_id)
    await h.step()
    return call_id, number.number_id


async def test_last_key_then_hangup_keeps_the_answer_and_completes_the_poll() -> None:
    h = Harness()
    call_id, number_id = await answered(h)
    channel = KeyThenHangup("1")
    await PollCallHandler(h.engine, _Renderer(), h.clock).handle(channel, call_id)
    assert [(a.question_crm_id, a.result, a.exten) for a in h.store.poll_answers] == [("q1", "yes", "1")]
    h.end(call_id)
    await h.step()
    row = h.store.numbers[number_id].row
    assert (row.result, row.state) == ("SUCCESS_POLLING", "EVENT_POLLING_END")
    assert channel.commands[-1][0] == "STREAM FILE"  # nothing was sent on the dead channel


async def test_key_then_hangup_mid_poll_keeps_the_answer_and_fails_the_poll() -> None:
    h = Harness()
    call_id, number_id = await answered(h)
    channel = KeyThenHangup("2")  # answered q1, q2 never asked
    await PollCallHandler(h.engine, _Renderer(), h.clock).handle(channel, call_id)
    assert [(a.question_crm_id, a.result) for a in h.store.poll_answers] == [("q1", "no")]
    h.end(call_id)
    await h.step()
    assert h.store.numbers[number_id].row.result == "FAIL_POLLING"
    assert [c[0] for c in channel.commands] == ["ANSWER", "GET VARIABLE", "STREAM FILE"]


class _Renderer:
    async def render(self, prompt: object) -> str:
        return "tts/prompt"
