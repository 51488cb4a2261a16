"""The streaming JSON object reader agrees with ``json.loads`` on every body, in any window size, and holds the
depth limit; deep nesting is a 400 refusal, never a RecursionError."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autodialer.api.errors import Refusal
from autodialer.api.json_limits import MAX_DEPTH, loads
from autodialer.api.json_stream import read_object

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
)
bodies = st.dictionaries(st.sampled_from(["numbers", "name", "x", "é", 'q"', ""]) | st.text(), values, max_size=6)


class ListSink:
    def __init__(self) -> None:
        self.items: list[Any] = []

    def add(self, item: Any) -> None:
        self.items.append(item)


def read(text: str | bytes, window: int = 1 << 20, encoding: str = "utf-8") -> dict[str, Any]:
    raw = text.encode(encoding) if isinstance(text, str) else text
    result = read_object(io.BytesIO(raw), {"numbers": ListSink}, window_bytes=window)
    return {k: v.items if isinstance(v, ListSink) else v for k, v in result.items()}


@settings(max_examples=300, deadline=None)
@given(
    body=bodies,
    window=st.integers(1, 64),
    indent=st.sampled_from([None, 0, 2]),
    ascii_only=st.booleans(),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-32-le", "utf-8-sig"]),
)
def test_same_values_as_json_loads(
    body: dict[str, Any], window: int, indent: int | None, ascii_only: bool, encoding: str
) -> None:
    text = json.dumps(body, indent=indent, ensure_ascii=ascii_only)
    assert read(text, window, encoding) == json.loads(text)


@settings(max_examples=200, deadline=None)
@given(
    numbers=st.lists(st.text() | st.integers() | st.dictionaries(st.text(), st.text(), max_size=3)),
    window=st.integers(1, 40),
)
def test_number_lists_arrive_item_by_item_in_order(numbers: list[Any], window: int) -> None:
    text = json.dumps({"name": "n", "numbers": numbers, "state": 0}, separators=(" ,", ": "))
    assert read(text, window) == {"name": "n", "numbers": numbers, "state": 0}


def test_a_repeated_key_keeps_its_last_value_as_json_loads_does() -> None:
    text = '{"numbers": ["1"], "name": "a", "numbers": ["2", "3"], "name": "b"}'
    assert read(text) == json.loads(text) == {"numbers": ["2", "3"], "name": "b"}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        '{"a": 1,}',
        '{"a" 1}',
        '{"numbers": [1, 2,]}',
        '{"numbers": ["1" "2"]}',
        '{"numbers": [NaN]}',
        '{"a": Infinity}',
        '{"a": 1} x',
        '{"a": "\x01"}',
        '{"numbers": ["1", "2"',
        "\xff",
    ],
)
def test_what_json_loads_refuses_is_refused(text: str) -> None:
    with pytest.raises(Refusal) as refused:
        read(text.encode("latin-1") if text == "\xff" else text, window=3)
    assert refused.value.status_code == 400
    assert refused.value.errors[0].startswith("body: must be")


@pytest.mark.parametrize("text", ["[]", '"x"', "1", "null"])
def test_a_body_that_is_not_an_object_is_refused_as_such(text: str) -> None:
    with pytest.raises(Refusal) as refused:
        read(text)
    assert refused.value.errors == ["body: must be a JSON object"]


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 3000, 100_000])
@pytest.mark.parametrize("where", ["name", "numbers"])
def test_deep_nesting_is_refused_with_400_not_a_recursion_error(levels: int, where: str) -> None:
    text = '{"%s": %s%s}' % (where, "[" * levels, "]" * levels)  # noqa: UP031
    with pytest.raises(Refusal) as refused:
        read(text)
    assert refused.value.errors == [f"body: JSON must not be nested deeper than {MAX_DEPTH} levels"]
    with pytest.raises(Refusal) as refused:
        loads(text)
    assert refused.value.errors == [f"body: JSON must not be nested deeper than {MAX_DEPTH} levels"]


def test_nesting_up_to_the_limit_is_accepted() -> None:
    inner = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert read('{"name": %s}' % inner)["name"] == json.loads(inner)  # noqa: UP031
    assert loads('{"name": %s}' % inner) == {"name": json.loads(inner)}  # noqa: UP031
