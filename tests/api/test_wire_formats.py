"""Pure wire formats: PHP serialize() of params, the PHP-style JSON renderer, timeCallAllow, phone numbers."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodialer.api.fast_json import RowsJson, RowsWriter, render_json_fast
from autodialer.api.mikopbx_v1.rows import change_time
from autodialer.api.php_serialize import php_serialize
from autodialer.api.validation import FieldErrors
from autodialer.api.validation_tasks import time_call_allow
from autodialer.domain.phone_numbers import InvalidPhoneNumber, parse_phone


@pytest.mark.parametrize(
    ("value", "php"),
    [
        ("", 's:0:"";'),
        ({"speach": "1000"}, 'a:1:{s:6:"speach";s:4:"1000";}'),
        ({"speach": "1000 рублей"}, 'a:1:{s:6:"speach";s:17:"1000 рублей";}'),  # byte length of UTF-8
        ({"1": "x", "01": "y", "-5": 2}, 'a:3:{i:1;s:1:"x";s:2:"01";s:1:"y";i:-5;i:2;}'),
        (
            {"b": True, "n": None, "f": 0.5, "g": 1.0, "h": 1e25, "i": 1e-7},
            'a:6:{s:1:"b";b:1;s:1:"n";N;s:1:"f";d:0.5;s:1:"g";d:1;s:1:"h";d:1.0E+25;s:1:"i";d:1.0E-7;}',
        ),
        ([], "a:0:{}"),
        ({}, "a:0:{}"),
        (["a"], 'a:1:{i:0;s:1:"a";}'),
    ],
)
def test_php_serialize(value: Any, php: str) -> None:
    assert php_serialize(value) == php


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)


@given(json_values)
def test_fast_renderer_matches_stdlib_pretty_json(value: Any) -> None:
    assert render_json_fast(value) == json.dumps(value, indent=4, ensure_ascii=True).encode()


def test_fast_renderer_keeps_slashes_and_escapes_unicode() -> None:
    assert render_json_fast({"p": "/storage/a", "n": "Ж"}) == b'{\n    "p": "/storage/a",\n    "n": "\\u0416"\n}'


MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("21.08.2024 10:00:00", 1724223600),
        ("21.08.2024 9:05:00", 1724220300),
        ("1.9.2024 9:00:00", 1725170400),
        ("", 0),
        (None, 0),
        ("01.01.0001 0:00:00", 0),  # 1C's empty date
    ],
)
def test_time_call_allow(text: str | None, epoch: int) -> None:
    errors = FieldErrors()
    assert time_call_allow(errors, "t", text, MOSCOW) == epoch
    assert errors.errors == []


@pytest.mark.parametrize("text", ["21.08.2024 10:00", "21.08.24 10:00:00", "32.01.2024 10:00:00", "x", 5])
def test_time_call_allow_refusals(text: Any) -> None:
    errors = FieldErrors()
    assert time_call_allow(errors, "t", text, MOSCOW) is None
    assert errors.errors and errors.errors[0].startswith("t: ")


@pytest.mark.parametrize(
    ("raw", "digits", "phone_id"),
    [
        ("79522233446", "79522233446", "9522233446"),
        ("+7 (952) 223-34-46", "79522233446", "9522233446"),
        ("201", "201", "201"),
        ("8.800.555.35.35", "88005553535", "8005553535"),
    ],
)
def test_phone_numbers(raw: str, digits: str, phone_id: str) -> None:
    phone = parse_phone(raw)
    assert (phone.phone, phone.digits, phone.phone_id) == (raw, digits, phone_id)


@pytest.mark.parametrize("raw", ["", "abc", "+", "12a", "１２３", "1" * 21, "7952\n2233446", "1" * 65])
def test_phone_number_refusals(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        parse_phone(raw)


@given(st.integers(min_value=0, max_value=2**53))
def test_change_time_is_exact_and_orders_like_the_integer(us: int) -> None:
    text = change_time(us)
    seconds, _, micro = text.partition(".")
    assert int(seconds) * 1_000_000 + int(micro) == us and len(micro) == 6


@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()), st.text(max_size=3)),
        max_size=5,
    ),
    st.integers(min_value=0, max_value=3),
)
def test_bulk_rows_render_exactly_like_dicts(rows: list[tuple[str | None, ...]], depth: int) -> None:
    keys = ("id", "phone", "result")
    bulk: Any = {"results": RowsJson(keys, rows)}
    plain: Any = {"results": [dict(zip(keys, row, strict=True)) for row in rows]}
    for _ in range(depth):
        bulk, plain = {"data": bulk, "n": 1}, {"data": plain, "n": 1}
    assert render_json_fast(bulk) == json.dumps(plain, indent=4).encode()


@given(
    st.lists(st.tuples(st.one_of(st.none(), st.text()), st.text(max_size=3)), max_size=12),
    st.lists(st.integers(min_value=0, max_value=5), max_size=12),
    st.integers(min_value=0, max_value=3),
)
def test_rows_written_page_by_page_are_the_rows_rendered_at_once(
    rows: list[tuple[str | None, ...]], cuts: list[int], depth: int
) -> None:
    keys = ("id", "result")
    newline = "\n" + "    " * depth
    writer = RowsWriter(keys, newline)
    pages, start = [], 0
    for size in [*cuts, len(rows)]:  # arbitrary page sizes, empty pages included
        pages.append(writer.page(rows[start : start + size]))
        start += size
    assert "".join(pages) + writer.close() == RowsJson(keys, rows).render(newline)
