"""Database rows as MikoPBX 2024.1 serves them: every value a JSON string (or null), keys in column order.

PHP 7.4's PDO SQLite hands every column to the module as a string, and clients depend on it (1C compares
``closeTime <> "0"`` as a string). Change times are ours: ``change_time_us`` is served as seconds with exactly six
decimals (``"1724235073.000123"``), for task results and poll answers alike, so a client can hand the value back
unchanged and lose nothing (results_feed explains the feed semantics).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

NUMBER_KEYS = (
    "id",
    "taskId",
    "phoneId",
    "phone",
    "linkedId",
    "callFile",
    "result",
    "outDialState",
    "inDialState",
    "state",
    "verboseCallId",
    "cause",
    "params",
    "changeTime",
    "countTry",
    "timeCallAllow",
    "closeTime",
)
ANSWER_KEYS = ("id", "taskId", "questionCrmId", "pollingId", "phoneId", "phone", "result", "exten", "changeTime")
TASK_KEYS = ("id", "crmId", "name", "innerNum", "innerNumType", "maxCountChannels", "state", "dialPrefix")


def change_time(us: int) -> str:
    seconds, micro = divmod(us, 1_000_000)
    return f"{seconds}.{micro:06d}"


def task_row(row: Sequence[Any]) -> dict[str, str | None]:
    """A tasks row selected with task_repository.TASK_WIRE_COLUMNS."""
    return {key: None if value is None else str(value) for key, value in zip(TASK_KEYS, row, strict=True)}
