"""Numbers from CSV: a header line naming the columns, then one number per line.

Columns: ``phone`` (required), ``not_before`` (optional; ISO 8601, a time without an offset is on the PBX clock),
and any other column becomes a param of the number (its name the param's name, empty cells left out; ``tz`` is the
callee's zone as in JSON). UTF-8 (a BOM is skipped), comma-separated, RFC 4180 quoting. A bad row is rejected with
its line number, the column and the rule; the good rows are stored. The header's own faults (no ``phone`` column,
duplicate or blank names, more than 50 param columns) refuse the whole file before anything is stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from autodialer.domain.callee_zones import zone_info
from autodialer.domain.campaigns import InvalidField, NewNumber
from autodialer.domain.phone_numbers import InvalidPhoneNumber, parse_phone

MAX_PARAM_COLUMNS = 50
MAX_CELL = 1000


@dataclass(frozen=True, slots=True)
class RowError:
    line: int  # 1 is the header
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class Header:
    phone: int
    not_before: int | None
    params: tuple[tuple[int, str], ...]
    width: int


def read_header(rows: Iterator[list[str]]) -> Header:
    try:
        names = [name.strip() for name in next(rows)]
    except StopIteration:
        raise InvalidField("is empty: the first line must name the columns (phone, …)", "body") from None
    except csv.Error as e:
        raise InvalidField(f"line 1 is not CSV: {e}", "body") from e
    if "phone" not in names:
        raise InvalidField("the header line has no 'phone' column", "body")
    if len(set(names)) != len(names) or not all(names):
        raise InvalidField("the header line names a column twice or has a blank name", "body")
    params = tuple((i, name) for i, name in enumerate(names) if name not in ("phone", "not_before"))
    if len(params) > MAX_PARAM_COLUMNS:
        raise InvalidField(f"at most {MAX_PARAM_COLUMNS} param columns", "body")
    not_before = names.index("not_before") if "not_before" in names else None
    return Header(names.index("phone"), not_before, params, len(names))


def csv_rows(spool: IO[bytes]) -> Iterator[list[str]]:
    """The body's rows; invalid UTF-8 becomes U+FFFD, which no phone accepts (the row is rejected, not the file)."""
    text = io.TextIOWrapper(spool, encoding="utf-8-sig", errors="replace", newline="")
    return csv.reader(text, strict=True)


def parse_row(header: Header, line: int, cells: list[str], pbx_zone: str) -> NewNumber | RowError:
    if len(cells) != header.width:
        return RowError(line, "row", f"has {len(cells)} cells, the header {header.width}")
    try:
        phone = parse_phone(cells[header.phone].strip())
    except InvalidPhoneNumber as e:
        return RowError(line, "phone", str(e))
    not_before = 0
    if header.not_before is not None and cells[header.not_before].strip():
        raw = cells[header.not_before].strip()
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return RowError(
                line, "not_before", f"must be an ISO 8601 time (2024-08-21T09:00:00+03:00), got {raw[:40]!r}"
            )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone_info(pbx_zone))
        not_before = max(0, int(moment.timestamp()))
    params: dict[str, str | int | float | bool | None] = {}
    for index, name in header.params:
        value = cells[index]
        if len(value) > MAX_CELL:
            return RowError(line, name, f"must be at most {MAX_CELL} characters")
        if value:
            params[name] = value
    return NewNumber(phone.phone, phone.digits, phone.phone_id, params or None, not_before)
