"""POST/PUT /task answers: the task's eight columns, the fields the client sent in the client's own JSON types.

MikoPBX answers with Phalcon's ``toArray()`` of the saved model merged over the request: the fields the client
sent come back as sent, the others as stored (strings), or null on a new task (``innerNumType`` "exten"
excepted, as are ``id`` and ``crmId``); ``state`` is the number 0 whenever the task is open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from autodialer.api.mikopbx_v1.rows import TASK_KEYS, task_row
from autodialer.domain.mikopbx_tasks import TaskRecord


def task_echo(echo: Mapping[str, Any], task: TaskRecord, *, created: bool) -> dict[str, Any]:
    """``echo``: wire key -> the client's JSON value, for the fields the body set."""
    stored = task_row(task)
    data: dict[str, Any] = {}
    for key in TASK_KEYS:
        if key in echo and (key != "id" or str(echo[key]) == stored["id"]):
            data[key] = echo[key]
        elif key in ("id", "crmId", "innerNumType") or not created:
            data[key] = stored[key]
        elif key == "state":
            data[key] = 0
        else:
            data[key] = None
    if stored["state"] == "0":
        # changeTask ends with ``if (empty($task->state)) $task->state = Tasks::STATE_OPEN;`` (the int 0), and "0"
        # (sent or stored) is empty() too: an open task is always answered with the number 0.
        data["state"] = 0
    if "retryPolicy" in echo:
        data["retryPolicy"] = echo["retryPolicy"]
    return data


def conflict_status(field: str) -> int:
    """A TaskConflict's HTTP status: a missing or unknown target is bad input (400), the rest conflicts (409)."""
    return 400 if field == "innerNum" else 409
