"""MikoPBX ModuleAutoDialer tasks (m_Tasks) and their numbers (m_TaskResults) as records, and the rules the v1 and
v2 writes share (written once here; every task store applies them inside its own unit of work):

- a task needs a target (``innerNum``): a new task without one is refused, and no write may empty it
  (:func:`check_target`);
- a polling task's ``innerNum`` must name an existing poll (:func:`poll_reference` says which id to look up,
  :func:`missing_poll` is the refusal when the store has none);
- a task the dialer closed (every number final) reopens when a POST that does not send ``state`` brings numbers to
  dial; a task the CRM closed or paused keeps its state (:func:`reopens`);
- a posted list of numbers is merged: one row per phoneId, in first-seen order, the first spelling of the number
  kept, the last params and timeCallAllow winning (:func:`merge_duplicates`); numbers not in the list go, except a
  number in a live call, which is only marked to go when its call ends;
- a deleted task is soft-deleted: it vanishes from the API and its crmId is released, renamed to a value no client
  can send (:func:`deleted_crm_id`; clients cannot send control characters).

The rows a client reads back (:class:`TaskResultRow`, :class:`PollAnswerRow`) hold MikoPBX's values as text, the way its
SQLite stored and served them; the store converts them (the database does it far faster than Python: a 10,000-row
feed page costs ~60 ms more when converted here). Names, key order and echo rules are the v1 presenter's
(``api/mikopbx_v1``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

DELETED_CRM_PREFIX = "\x1fdeleted:"
STATE_OPEN, STATE_CLOSED, STATE_PAUSED = 0, 1, 2
POLL_ID_DIGITS = 18


class TaskConflict(Exception):
    """The request names a task it cannot have (the id of a deleted task, a crmId already taken, a missing target or
    poll); ``field`` (the v1 wire name) and ``rule`` say why. Each edge translates it once."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A task as stored (v1's eight columns and the dialer's close mark)."""

    id: int
    crm_id: str
    name: str | None
    inner_num: str | None
    inner_num_type: str | None
    max_count_channels: int | None
    state: int
    dial_prefix: str | None
    closed_by_dialer: bool = False


@dataclass(frozen=True, slots=True)
class SavedTask:
    task: TaskRecord  # after the write
    created: bool


class NumberRow(NamedTuple):
    """One validated number of a POST, ready for storage."""

    position: int  # position in the posted list: later duplicates win
    phone: str
    digits: str
    phone_id: str
    params_json: str | None  # JSON text of the params object
    params_php: str
    time_call_allow: int


class NumberColumns(NamedTuple):
    """A chunk of validated numbers column by column: what both databases' inserts take, and cheap to spill."""

    positions: list[int]
    phones: list[str]
    digits: list[str]
    phone_ids: list[str]
    params_json: list[str | None]
    params_php: list[str]
    time_call_allow: list[int]

    @classmethod
    def of(cls, rows: Sequence[NumberRow]) -> NumberColumns:
        columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in NumberRow._fields]
        return cls(*columns)


class TaskResultRow(NamedTuple):
    """A number's row (m_TaskResults) in MikoPBX's column order, values as text; ``change_time`` is seconds with
    six decimals."""

    id: str
    task_id: str
    phone_id: str
    phone: str
    linked_id: str | None
    call_file: str | None
    result: str | None
    out_dial_state: str | None
    in_dial_state: str | None
    state: str | None
    verbose_call_id: str | None
    cause: str | None
    params: str | None
    change_time: str
    count_try: str | None
    time_call_allow: str
    close_time: str | None


class PollAnswerRow(NamedTuple):
    """A poll answer (m_PollingResults) in MikoPBX's column order, values as text."""

    id: str
    task_id: str
    question_crm_id: str | None
    polling_id: str
    phone_id: str
    phone: str
    result: str | None
    exten: str | None
    change_time: str


def merge_duplicates(chunk: NumberColumns) -> NumberColumns:
    """One row per phone_id (one statement must not touch a row twice), merged as a re-post merges across chunks:
    in first-seen order, the first spelling of the number stays, the last params and timeCallAllow win."""
    ids = chunk.phone_ids
    if len(set(ids)) == len(ids):
        return chunk
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for index, phone_id in enumerate(ids):
        first.setdefault(phone_id, index)
        last[phone_id] = index
    firsts, lasts = list(first.values()), [last[phone_id] for phone_id in first]
    return NumberColumns(
        [chunk.positions[i] for i in lasts],
        [chunk.phones[i] for i in firsts],
        [chunk.digits[i] for i in firsts],
        list(first),
        [chunk.params_json[i] for i in lasts],
        [chunk.params_php[i] for i in lasts],
        [chunk.time_call_allow[i] for i in lasts],
    )


def check_target(task: TaskRecord, columns: Mapping[str, Any], *, created: bool) -> None:
    """A task needs a target: without one it could never connect an answered call. A re-POST or PUT may leave
    innerNum out (the stored one stays) but not empty it; rows stored before this rule are left alone."""
    if (created or "inner_num" in columns) and not task.inner_num:
        if task.inner_num_type == "polling":
            raise TaskConflict("innerNum", "is required: the id of the poll to run (data.id of POST /polling)")
        raise TaskConflict("innerNum", "is required: the extension or queue that answered calls are connected to")


def poll_reference(task: TaskRecord) -> int | None:
    """The poll a polling task names, to be looked up by the store (None: not a polling task). An innerNum that
    cannot be a poll id is refused at once."""
    if task.inner_num_type != "polling":
        return None
    inner = str(task.inner_num or "")
    if inner.isdigit() and len(inner) <= POLL_ID_DIGITS:
        return int(inner)
    raise missing_poll(task)


def missing_poll(task: TaskRecord) -> TaskConflict:
    inner = str(task.inner_num or "")
    return TaskConflict("innerNum", f"must name an existing poll (the id POST /polling returned), got {inner!r}")


def reopens(task: TaskRecord, columns: Mapping[str, Any]) -> bool:
    """A task the dialer closed (every number final) reopens when a POST without ``state`` brings numbers to dial.

    A task the CRM closed or paused (state sent by PUT or POST) keeps its state: that was the CRM's decision."""
    return "state" not in columns and task.state == STATE_CLOSED and task.closed_by_dialer


def deleted_crm_id(task_id: int) -> str:
    return f"{DELETED_CRM_PREFIX}{task_id}"


def refuse_deleted(task_id: int | None) -> TaskConflict:
    return TaskConflict("id", f"task {task_id} was deleted; post without id to create a new task")


def refuse_taken_id(task_id: int, crm_id: str) -> TaskConflict:
    return TaskConflict(
        "id", f"task {task_id} exists with another crmId than {crm_id!r}; send its crmId, or no id for a new task"
    )


US = 1_000_000


def feed_start(seconds: int, fraction: str | None) -> int:
    """The first change time (µs) the results feeds serve for a client's ``changeTime``: exact (to the microsecond,
    extra digits cut, which can only re-send a row) with a fraction; without one the client may have rounded up,
    so one second earlier (adapters/db/results_feed explains why that neither loses rows nor loops)."""
    if fraction is None:
        return max(0, (seconds - 1) * US)
    return seconds * US + int(fraction[:6].ljust(6, "0"))
