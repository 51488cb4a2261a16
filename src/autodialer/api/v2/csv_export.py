"""The v2 CSV exports: RFC 4180 (comma, CRLF, quotes doubled), UTF-8, times ISO 8601 in UTC, params as JSON, sent
as a stream of pages (``response``: the caller reads keyset pages, one at a time, and never holds the whole set).

- a campaign's numbers (``COLUMNS``, ``rows``), and every campaign's numbers in the order of their last change, the
  results feed (``RESULT_COLUMNS``, ``result_rows``: the same cells after ``campaign_id``);
- a poll's answers, one line per answer (``ANSWER_COLUMNS``, ``answer_rows``).

Cells are never formulas in a spreadsheet. Ours are safe as they are: phones are validated (digits and ``+ -.()``),
states, results, ids and times are ours, and a params cell is a JSON object (it starts with ``{``). Text that comes
from poll authors and CRMs (a question's id and words, an answer's key and value) gets a leading ``'`` when it starts
with ``= + - @``, a tab or a line end (OWASP's CSV injection rule), so a spreadsheet shows it as text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable

from fastapi.responses import StreamingResponse

from autodialer.api.v2.models import utc_or_none
from autodialer.domain.campaigns import NumberRecord
from autodialer.services.polls import NumberAnswers

MEDIA_TYPE = "text/csv; charset=utf-8"
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
RESULT_COLUMNS = ("campaign_id", *COLUMNS)
ANSWER_COLUMNS = ("campaign_id", "phone", "question_id", "question_text", "key", "value", "attempt_id", "at")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def response(lines: AsyncIterator[str], filename: str) -> StreamingResponse:
    """The CSV as an attachment, sent as ``lines`` yields it (a page of rows at a time)."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(lines, media_type=MEDIA_TYPE, headers=headers)


def header(columns: Iterable[str] = COLUMNS) -> str:
    return _lines([tuple(columns)])


def rows(numbers: Iterable[NumberRecord]) -> str:
    return _lines(_cells(n) for n in numbers)


def result_rows(numbers: Iterable[NumberRecord]) -> str:
    return _lines((n.campaign_id, *_cells(n)) for n in numbers)


def answer_rows(numbers: Iterable[NumberAnswers]) -> str:
    return _lines(
        (
            n.campaign_id,
            n.phone,
            _text(a.question_id),
            _text(a.question_text),
            _text(a.key),
            _text(a.value),
            a.attempt_id or "",
            _time(a.at),
        )
        for n in numbers
        for a in n.answers
    )


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


def _text(value: str | None) -> str:
    """Someone else's text as a cell no spreadsheet takes for a formula."""
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _time(t: float) -> str:
    moment = utc_or_none(t)
    return "" if moment is None else moment.isoformat().replace("+00:00", "Z")


def _lines(rows: Iterable[Iterable[object]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()
