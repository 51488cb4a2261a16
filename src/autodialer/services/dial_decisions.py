"""The dialer's decisions at INFO, without a line per planning round: a task's reason for waiting is logged when it
changes (``task 1000000001: not dialling: all 2 channels in use``), so a campaign's log reads as a story
(calling …, not dialling: nobody at 201 is free, calling …, call … FAIL …) however often the engine plans."""

from __future__ import annotations

import logging

from autodialer.domain.dial_waits import WaitKind, why_waiting
from autodialer.domain.dialing import DialPlan, DialSnapshot

log = logging.getLogger("autodialer.services.dialer_engine")


class DecisionLog:
    def __init__(self) -> None:
        self._last: dict[int, WaitKind] = {}  # task id -> the wait last logged

    def note(self, snapshot: DialSnapshot, plan: DialPlan) -> None:
        """Log each task's new reason for starting nothing; forget tasks that are no longer open."""
        started = {start.task_id for start in plan.starts}
        current = {task.task_id for task in snapshot.tasks}
        for task_id in set(self._last) - current:
            del self._last[task_id]
        for task in snapshot.tasks:
            if task.task_id in started:
                continue
            wait = why_waiting(task, snapshot)
            if wait is None or self._last.get(task.task_id) is wait.kind:
                continue
            self._last[task.task_id] = wait.kind
            log.info("task %s: not dialling: %s", task.task_id, wait.text)
