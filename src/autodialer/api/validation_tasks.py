"""POST/PUT /task bodies: every field checked, normalised for storage, and remembered as the client typed it.

MikoPBX answers POST/PUT with the fields the client sent in the client's own JSON types (``"state": 0`` stays a
number, ``"crmId": "000000123"`` a string), so :class:`TaskBody` keeps ``echo`` beside the normalised ``columns``.

``numbers`` is never materialised: the body is decoded item by item (api.json_stream) into a :class:`NumberSpool`,
which validates and converts each item and keeps the rows in a temporary file, so a million numbers cost one chunk
of memory. Every item is checked before the database is touched: a bad one (up to MAX_ERRORS are reported) refuses
the whole body and nothing is stored.

A JSON null in a MikoPBX field counts as absent (the original merges with ``$data[$key] ?? $oldValue``).
Rules: ``state`` 0/1/2 (empty is 0, as in the original); ``innerNumType`` exten/polling; ``innerNum`` an extension
(digits, ``*``, ``#``) or, for polling, a poll id (checked against the database by the repository);
``maxCountChannels`` 1..settings.max_count_channels_ceiling; ``dialPrefix`` digits ``*#+``; ``timeCallAllow``
``d.m.Y H:i:s`` (day, month, hour 1 or 2 digits) in the PBX time zone, ``""``/absent is 0 and dates before 1970
(1C's empty date ``01.01.0001 0:00:00``) are 0 too; ``params`` an object of scalars.
"""

from __future__ import annotations

import json
import math
import pickle
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from autodialer.api.php_serialize import php_serialize
from autodialer.api.validation import MAX_ERRORS, FieldErrors, has_control_chars, integer, one_of, text
from autodialer.domain.mikopbx_tasks import NumberColumns, NumberRow
from autodialer.domain.phone_numbers import InvalidPhoneNumber, parse_phone
from autodialer.domain.retry_policy import InvalidRetryPolicy, RetryPolicy

MAX_TASK_ID = 2**53 - 1
MAX_NUMBERS = 1_000_000
MAX_PARAMS = 50
CHUNK = 5000
EXTENSION = re.compile(r"[0-9*#]{1,32}")
POLL_ID = re.compile(r"[1-9][0-9]{0,17}")
DIAL_PREFIX = re.compile(r"[0-9*#+]{0,32}")
_TIME_CALL_ALLOW = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}) (\d{1,2}):(\d{2}):(\d{2})")
_RETRY_OUTCOMES = {"busy": "customer_busy", "no_answer": "customer_no_answer", "congestion": "customer_congestion"}

# Wire name -> column, in MikoPBX's column (and JSON key) order.
TASK_COLUMNS = {
    "name": "name",
    "innerNum": "inner_num",
    "innerNumType": "inner_num_type",
    "maxCountChannels": "max_count_channels",
    "state": "state",
    "dialPrefix": "dial_prefix",
}


@dataclass(slots=True)
class TaskBody:
    task_id: int | None = None  # body "id": forces the primary key of a new task
    crm_id: str = ""  # "" = none given
    columns: dict[str, Any] = field(default_factory=dict)  # only what the body sets
    echo: dict[str, Any] = field(default_factory=dict)  # wire key -> the client's JSON value
    numbers: NumberSpool | None = None  # None: the body has no "numbers" (keep the stored ones)


def parse_task_body(body: dict[str, Any], *, channels_ceiling: int, with_numbers: bool) -> TaskBody:
    """Check the scalar fields of a task body read by json_stream, whose ``numbers`` (if a list) is a NumberSpool
    that has checked every item already; its refusals are reported after the other fields'.

    A JSON null in a MikoPBX field is the same as leaving the field out: ConnectorDB::changeTask merges with
    ``$data[$key] ?? $oldValue``, so the stored value (or the new task's default) stays and is echoed. Only our own
    ``retryPolicy`` gives null a meaning (back to the defaults).
    """
    body = {key: value for key, value in body.items() if value is not None or key == "retryPolicy"}
    errors = FieldErrors()
    task = TaskBody()
    if body.get("id") not in (None, ""):
        task.task_id = integer(errors, "id", body["id"], 1, MAX_TASK_ID)
        task.echo["id"] = body["id"]
    if "crmId" in body:
        crm = text(errors, "crmId", body["crmId"], max_len=255, allow_int=True)
        task.crm_id = crm or ""
        if task.crm_id:
            task.echo["crmId"] = body["crmId"]
    _scalar_columns(errors, body, task, channels_ceiling)
    if "retryPolicy" in body:
        task.columns["retry_policy"] = _retry_policy(errors, body["retryPolicy"])
        task.echo["retryPolicy"] = body["retryPolicy"]
    if with_numbers and body.get("numbers") is not None:
        numbers = body["numbers"]
        if not isinstance(numbers, NumberSpool):
            errors.add("numbers", "must be a list")
        else:
            errors.errors.extend(numbers.errors.errors[: MAX_ERRORS - len(errors.errors)])
            task.numbers = numbers
    errors.raise_if_any()
    return task


def _scalar_columns(errors: FieldErrors, body: dict[str, Any], task: TaskBody, channels_ceiling: int) -> None:
    if "name" in body:
        task.columns["name"] = text(errors, "name", body["name"], max_len=255, allow_int=True) or ""
    if "innerNumType" in body:
        kind = one_of(errors, "innerNumType", body["innerNumType"], ("exten", "polling"))
        task.columns["inner_num_type"] = kind
    if body.get("innerNum") == "":
        task.columns["inner_num"] = ""  # refused by the repository: a task needs a target (the rule names it)
    elif "innerNum" in body:
        kind = task.columns.get("inner_num_type")
        pattern, rule = (POLL_ID, "must be a poll id") if kind == "polling" else (EXTENSION, "must be an extension")
        inner = text(errors, "innerNum", body["innerNum"], max_len=32, allow_int=True, pattern=pattern, rule=rule)
        task.columns["inner_num"] = inner or ""
    if "maxCountChannels" in body:
        channels = integer(errors, "maxCountChannels", body["maxCountChannels"], 1, channels_ceiling)
        task.columns["max_count_channels"] = channels
    if "state" in body:
        raw_state = body["state"]
        state = 0 if raw_state in (None, "", 0) else integer(errors, "state", raw_state, 0, 2)
        task.columns["state"] = state
        raw_state = 0 if raw_state in (None, "") else raw_state
        task.echo["state"] = raw_state
    if "dialPrefix" in body:
        prefix = text(errors, "dialPrefix", body["dialPrefix"], max_len=32, allow_int=True, pattern=DIAL_PREFIX)
        task.columns["dial_prefix"] = prefix or ""
    for wire, column in TASK_COLUMNS.items():
        if column in task.columns and wire not in task.echo:
            task.echo[wire] = body[wire]


def _retry_policy(errors: FieldErrors, value: object) -> dict[str, Any] | None:
    """Our ``retryPolicy`` ({busy|no_answer|congestion: {delayMinutes, maxAttempts}}) in the engine's terms."""
    if value is None:
        return None
    if not isinstance(value, dict):
        errors.add("retryPolicy", "must be an object")
        return None
    overrides: dict[str, Any] = {}
    for outcome, rule in value.items():
        name = f"retryPolicy.{outcome}"
        if outcome not in _RETRY_OUTCOMES:
            errors.add(name, f"unknown outcome (expected one of {', '.join(_RETRY_OUTCOMES)})")
            continue
        if not isinstance(rule, dict) or set(rule) - {"delayMinutes", "maxAttempts"}:
            errors.add(name, "must be an object with delayMinutes and/or maxAttempts")
            continue
        converted: dict[str, Any] = {}
        if "delayMinutes" in rule:
            minutes = integer(errors, f"{name}.delayMinutes", rule["delayMinutes"], 0, 7 * 24 * 60)
            converted["delay_s"] = None if minutes is None else minutes * 60
        if "maxAttempts" in rule:
            attempts = integer(errors, f"{name}.maxAttempts", rule["maxAttempts"], 1, 20)
            converted["max_retries"] = None if attempts is None else attempts - 1
        overrides[_RETRY_OUTCOMES[outcome]] = converted
    if errors.errors:
        return None
    try:
        RetryPolicy().with_overrides(overrides)
    except InvalidRetryPolicy as e:  # the engine's own rules, should ours ever be looser
        errors.add("retryPolicy", str(e))
        return None
    return overrides


class NumberSpool:
    """The rows of a ``numbers`` list, validated and converted as its items arrive (json_stream hands them over one
    by one), kept in a temporary file CHUNK rows at a time: memory holds one chunk, whatever the list's length.

    After the last item, ``errors`` holds up to MAX_ERRORS refusals (once an item is bad no more rows are kept, but
    items are still checked so one answer reports several), ``count`` the items seen, and :meth:`chunks` gives the
    rows back in order. Close it (or let it be collected) to drop the file.
    """

    def __init__(self, timezone: str, *, max_items: int = MAX_NUMBERS, chunk: int = CHUNK) -> None:
        self._zone = ZoneInfo(timezone)
        self._max_items = max_items
        self._chunk = chunk
        self.count = 0
        self.errors = FieldErrors()
        self._rows: list[NumberRow] = []
        self._file: IO[bytes] | None = None
        self._spilled = 0

    def add(self, item: object) -> None:
        index = self.count
        self.count += 1
        if index == self._max_items:
            self.errors.add("numbers", f"must have at most {self._max_items} items")
        if index >= self._max_items or self.errors.full:
            return
        row = _number_row(self.errors, index, item, self._zone)
        if row is None or self.errors.errors:
            return
        self._rows.append(row)
        if len(self._rows) >= self._chunk:
            if self._file is None:
                self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
            pickler = pickle.Pickler(self._file, protocol=pickle.HIGHEST_PROTOCOL)
            pickler.fast = True  # no memo: plain lists of strings and numbers, no cycles (several times faster)
            pickler.dump(tuple(NumberColumns.of(self._rows)))
            self._spilled += 1
            self._rows = []

    def chunks(self) -> Iterator[NumberColumns]:
        """The rows, ``chunk`` at a time, in list order (only meaningful without errors)."""
        if self._file is not None:
            self._file.seek(0)
            for _ in range(self._spilled):
                yield NumberColumns(*pickle.load(self._file))  # noqa: S301 - our own file, written above
        if self._rows:
            yield NumberColumns.of(self._rows)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _number_row(errors: FieldErrors, index: int, item: object, zone: ZoneInfo) -> NumberRow | None:
    if isinstance(item, str | int) and not isinstance(item, bool):
        phone = _phone(errors, f"numbers[{index}]", item)
        if phone is None:
            return None
        return NumberRow(index, phone.phone, phone.digits, phone.phone_id, None, "", 0)
    if not isinstance(item, dict):
        errors.add(f"numbers[{index}]", "must be a phone number string or an object with number")
        return None
    where = f"numbers[{index}]"
    phone = _phone(errors, f"{where}.number", item.get("number"))
    allow = time_call_allow(errors, f"{where}.timeCallAllow", item.get("timeCallAllow"), zone)
    params = item.get("params")
    params_json = _params(errors, f"{where}.params", params)
    if phone is None or allow is None or (params is not None and params_json is None):
        return None
    php = php_serialize("" if params is None else params)
    stored = None if params is None else json.dumps(params, ensure_ascii=False)
    return NumberRow(index, phone.phone, phone.digits, phone.phone_id, stored, php, allow)


def _phone(errors: FieldErrors, where: str, value: object) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        errors.add(where, "must be a phone number string")
        return None
    try:
        return parse_phone(value)
    except InvalidPhoneNumber as e:
        errors.add(where, str(e))
        return None


def time_call_allow(errors: FieldErrors, where: str, value: object, zone: ZoneInfo) -> int | None:
    """Epoch seconds from ``d.m.Y H:i:s`` in ``zone``; 0 for absent, empty or pre-1970 values."""
    if value in (None, "", 0):
        return 0
    match = _TIME_CALL_ALLOW.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        errors.add(where, "must be a date 'd.m.Y H:i:s' (e.g. 21.08.2024 9:05:00) or empty")
        return None
    day, month, year, hour, minute, second = (int(g) for g in match.groups())
    if year < 1970:
        return 0
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        errors.add(where, "is not a valid date and time")
        return None
    return max(0, int(moment.timestamp()))


def _params(errors: FieldErrors, where: str, params: object) -> object:
    """The params value if acceptable: an object (≤ 50 keys) of strings, numbers, booleans or nulls."""
    if params is None:
        return None
    if params == []:
        return params
    if not isinstance(params, dict):
        errors.add(where, "must be an object")
        return None
    if len(params) > MAX_PARAMS:
        errors.add(where, f"must have at most {MAX_PARAMS} keys")
        return None
    ok = True
    for key, value in params.items():
        if len(key) > 64 or has_control_chars(key) or not key:
            errors.add(where, f"key {key[:64]!r} must be 1..64 characters without control characters")
            ok = False
        elif isinstance(value, str):
            ok = text(errors, f"{where}.{key}", value, max_len=1000) is not None and ok
        elif isinstance(value, float) and not math.isfinite(value):
            errors.add(f"{where}.{key}", "must be a finite number")
            ok = False
        elif value is not None and not isinstance(value, int | float):
            errors.add(f"{where}.{key}", "must be a string, number, boolean or null")
            ok = False
    return params if ok else None
