"""Numbers as CSV lines: RFC 4180 (comma, CRLF, quotes doubled), UTF-8, times ISO 8601 in UTC, params as JSON.

Cells are never formulas in a spreadsheet: phones are validated (digits and ``+ -.()``), states and results are
ours, and a params cell is a JSON object (it starts with ``{``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from autodialer.api.v2.models import utc_or_none
from autodialer.domain.campaigns import NumberRecord

COLUMNS = (
    "id",
    "phone",
    "phone_id",
    "state",
    "result",
    "attempts",
    "requeues",
    "in_call",
    "not_before",
    "retry_at",
    "closed_at",
    "changed_at",
    "params",
)


def header() -> str:
    return _lines([COLUMNS])


def rows(numbers: Iterable[NumberRecord]) -> str:
    return _lines(_cells(n) for n in numbers)


def _cells(n: NumberRecord) -> tuple[object, ...]:
    return (
        n.id,
        n.phone,
        n.phone_id,
        n.state,
        n.result,
        n.attempts,
        n.requeues,
        "true" if n.in_call else "false",
        _time(n.not_before),
        _time(n.retry_at),
        _time(n.closed_at),
        _time(n.changed_at),
        "" if n.params is None else json.dumps(dict(n.params), ensure_ascii=False, separators=(",", ":")),
    )


def _time(t: float) -> str:
    moment = utc_or_none(t)
    return "" if moment is None else moment.isoformat().replace("+00:00", "Z")


def _lines(rows: Iterable[Iterable[object]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()
