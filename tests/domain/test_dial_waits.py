"""Why a task starts nothing: the reason an operator reads at INFO, from the same snapshot the plan used."""

from __future__ import annotations

import logging

import pytest

from autodialer.domain.dial_waits import WaitKind, why_waiting
from autodialer.domain.dialing import DialSnapshot, DueNumber, TaskSlice, plan_dials
from autodialer.services.dial_decisions import DecisionLog


def task(
    task_id: int = 1, *, state: int = 0, in_progress: int = 0, channels: int = 1, due: float = 0.0, **kw: object
) -> TaskSlice:
    numbers = kw.pop("numbers", [DueNumber(10 * task_id, due)])
    return TaskSlice(
        task_id, state, str(kw.pop("inner", "201")), bool(kw.pop("needs_agent", True)), channels, in_progress, numbers
    )  # type: ignore[arg-type]


def snap(
    *tasks: TaskSlice, free: frozenset[str] = frozenset({"PJSIP/201"}), reserved: frozenset[str] = frozenset()
) -> DialSnapshot:
    return DialSnapshot(100.0, tasks, {"201": free}, reserved, frozenset())


@pytest.mark.parametrize(
    "slice_, snapshot_kw, kind, words",
    [
        (task(state=2), {}, WaitKind.PAUSED, "paused"),
        (task(in_progress=2, channels=2), {}, WaitKind.CHANNELS_FULL, "maxCountChannels 2 reached (2 in progress)"),
        (task(due=500.0), {}, WaitKind.NOTHING_DUE, "next number due at"),
        (task(numbers=[]), {}, WaitKind.NOTHING_DUE, "no number due now"),
        (task(), {"free": frozenset()}, WaitKind.NO_FREE_AGENT, "nobody at 201 is free"),
        (task(), {"reserved": frozenset({"PJSIP/201"})}, WaitKind.NO_FREE_AGENT, "free agents of 201 are taken"),
    ],
)
def test_each_reason_is_named(
    slice_: TaskSlice, snapshot_kw: dict[str, frozenset[str]], kind: WaitKind, words: str
) -> None:
    snapshot = snap(slice_, **snapshot_kw)
    assert plan_dials(snapshot).starts == ()  # the plan agrees: nothing starts
    wait = why_waiting(slice_, snapshot)
    assert wait is not None and wait.kind is kind and words in wait.text


def test_a_task_that_can_dial_has_no_reason() -> None:
    assert why_waiting(task(), snap(task())) is None
    assert why_waiting(task(needs_agent=False), snap(task(needs_agent=False), free=frozenset())) is None


def test_the_reason_is_logged_once_until_it_changes(caplog: pytest.LogCaptureFixture) -> None:
    decisions = DecisionLog()
    busy = snap(task(), free=frozenset())
    with caplog.at_level(logging.INFO, logger="autodialer.services.dialer_engine"):
        for snapshot in (busy, busy, snap(task()), busy, snap(task(in_progress=1)), busy):
            decisions.note(snapshot, plan_dials(snapshot))
    assert [r.getMessage() for r in caplog.records] == [
        "task 1: not dialling: 1 due, but nobody at 201 is free",
        "task 1: not dialling: maxCountChannels 1 reached (1 in progress)",
        "task 1: not dialling: 1 due, but nobody at 201 is free",
    ]


def test_a_queue_whose_free_members_are_needed_by_callers_already_waiting() -> None:
    members = frozenset({"PJSIP/201", "PJSIP/202"})
    slice_ = task(inner="2200")
    snapshot = DialSnapshot(100.0, [slice_], {"2200": members}, frozenset(), frozenset(), queue_demand={"2200": 2})
    assert plan_dials(snapshot).starts == ()
    wait = why_waiting(slice_, snapshot)
    assert wait is not None and wait.kind is WaitKind.NO_FREE_AGENT
    assert wait.text == "1 due, but the free members of 2200 are needed by 2 calls waiting"
    one_left = DialSnapshot(100.0, [slice_], {"2200": members}, frozenset(), frozenset(), queue_demand={"2200": 1})
    assert plan_dials(one_left).starts and why_waiting(slice_, one_left) is None
