"""Database rows as MikoPBX 2024.1 serves them: every value a JSON string (or null), keys in column order.

PHP 7.4's PDO SQLite hands every column to the module as a string, and clients depend on it (1C compares
``closeTime <> "0"`` as a string). Change times are ours: ``change_time_us`` is served as seconds with exactly six
decimals (``"1724235073.000123"``), for task results and poll answers alike, so a client can hand the value back
unchanged and lose nothing (adapters/db/results_feed explains the feed semantics). The store hands these values
over as text already (domain.mikopbx_tasks.TaskResultRow, PollAnswerRow); here they get their keys.
"""

from __future__ import annotations

from autodialer.domain.mikopbx_tasks import TaskRecord

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


def task_row(task: TaskRecord) -> dict[str, str | None]:
    """A task as GET /task shows it: every column a string (or null), in MikoPBX's order."""
    values = (
        task.id,
        task.crm_id,
        task.name,
        task.inner_num,
        task.inner_num_type,
        task.max_count_channels,
        task.state,
        task.dial_prefix,
    )
    return {key: None if value is None else str(value) for key, value in zip(TASK_KEYS, values, strict=True)}
