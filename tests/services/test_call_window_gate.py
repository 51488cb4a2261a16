"""The store's due time is a prefilter: the gate judges every number it returns by eligibility's rule, the number's
own times (timeCallAllow, the retry wait) included, with or without a call window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from autodialer.adapters.phone_numbering import PhoneNumbering
from autodialer.domain.call_hours import parse_call_hours
from autodialer.services.call_window_gate import CallWindowGate
from autodialer.services.dialer_store import DialNumber
from autodialer.services.memory_store import InMemoryDialerStore
from autodialer.services.number_eligibility import NumberEligibility

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC).timestamp()  # 12:00 in Moscow


class PrefilterLettingAllThrough(InMemoryDialerStore):
    """A store whose due-time prefilter is wrong (or whose copy is older than the row): it returns every open,
    idle number of the task, due or not."""

    async def due_numbers(self, task_id: int, now: float, limit: int) -> Sequence[DialNumber]:
        return sorted(self._dialable(task_id), key=lambda n: n.number_id)[: max(0, limit)]


def numbers(store: InMemoryDialerStore) -> tuple[DialNumber, DialNumber, DialNumber]:
    store.add_task(1, "201", max_channels=10)
    due = store.add_number(1, "+74950000001", time_call_allow=int(NOW) - 60)
    not_yet = store.add_number(1, "+74950000002", time_call_allow=int(NOW) + 600)
    waiting = store.add_number(1, "+74950000003")
    store.numbers[waiting.number_id] = replace(waiting, row=replace(waiting.row, next_attempt_at=NOW + 300))
    return due, not_yet, store.numbers[waiting.number_id]


async def test_without_a_window_numbers_the_rule_holds_are_left_out_and_nothing_is_deferred() -> None:
    store = PrefilterLettingAllThrough()
    due, not_yet, waiting = numbers(store)
    task = await store.get_task(1)
    assert task is not None
    for eligibility in (None, NumberEligibility(PhoneNumbering("RU"), "Europe/Moscow", None)):
        gate = CallWindowGate(store, eligibility)
        assert [n.number_id for n in await gate.due(task, NOW, 10)] == [due.number_id]
    # the rows keep their own times: a prefilter's mistake does not move a number's next look
    assert store.numbers[not_yet.number_id].row.next_attempt_at == 0.0
    assert store.numbers[waiting.number_id].row.next_attempt_at == NOW + 300


async def test_with_a_window_a_number_in_its_retry_wait_waits_until_the_wait_ends() -> None:
    store = PrefilterLettingAllThrough()
    due, not_yet, waiting = numbers(store)
    task = await store.get_task(1)
    assert task is not None
    gate = CallWindowGate(
        store, NumberEligibility(PhoneNumbering("RU"), "Europe/Moscow", parse_call_hours("09:00-21:00"))
    )
    assert [n.number_id for n in await gate.due(task, NOW, 10)] == [due.number_id]
    assert store.numbers[not_yet.number_id].row.next_attempt_at == int(NOW) + 600  # the window is open then
    assert store.numbers[waiting.number_id].row.next_attempt_at == NOW + 300
